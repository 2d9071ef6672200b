//! Unit tests of `train/src/model.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::train::data::ItemFeatures;
use botify_sim::train::model::*;
use botify_sim::train::{InitKind, InitScheme};

fn setup(kind: InitKind) -> (Weights, ItemFeatures) {
    let items = ItemFeatures {
        artist_of: vec![0, 1, 1, 2, 0, 3],
        pop_bucket: vec![0, 3, 1, 0, 2, 1],
        n_artists: 4,
    };
    let w = Weights::new(
        6,
        4,
        5,
        InitScheme {
            kind,
            seed: Some(3),
        },
        0,
    );
    (w, items)
}

fn total_loss(
    w: &Weights,
    items: &ItemFeatures,
    batch: &[(Vec<u32>, Vec<u32>)],
    margin: f32,
) -> f64 {
    let mut s = Scratch::new(w.d);
    batch
        .iter()
        .map(|(h, t)| f64::from(example(w, items, h, t, margin, 1.0, &mut s, None)))
        .sum()
}

fn param_mut(w: &mut Weights, table: Option<usize>, idx: usize) -> &mut f32 {
    match table {
        None => &mut w.dense[idx],
        Some(t) => &mut w.tables[t][idx],
    }
}

/// Every parameter group's analytic gradient against central finite differences.
fn check(kind: InitKind, margin: f32) {
    let (mut w, items) = setup(kind);
    // Biases away from 0 so that no ReLU input sits within a finite-difference step
    // of its kink (half the units active, half not).
    let d = w.d;
    for i in 0..d {
        w.dense[d * d + i] = if i % 2 == 0 { 0.3 } else { -0.3 };
    }
    // Two examples sharing rows, so accumulation across examples is checked too.
    let batch = vec![
        (vec![1, 2, 4], vec![3, 0, 5, 2]),
        (vec![0, 3], vec![2, 1, 4, 5]),
    ];
    let mut g = Grad::new(w.d);
    let mut s = Scratch::new(w.d);
    for (h, t) in &batch {
        example(&w, &items, h, t, margin, 1.0, &mut s, Some(&mut g));
    }
    let analytic = |table: Option<usize>, idx: usize, g: &Grad| -> f32 {
        match table {
            None => g.dense[idx],
            Some(tb) => {
                let row = (idx / d) as u32;
                g.keys
                    .iter()
                    .position(|&k| k == (tb, row))
                    .map_or(0.0, |slot| g.row_grad(slot)[idx % d])
            }
        }
    };
    let eps = 1e-3f32;
    let mut checked = [0usize; N_TABLES + 1];
    for (group, checked) in checked.iter_mut().enumerate() {
        let table = (group < N_TABLES).then_some(group);
        let len = table.map_or(w.dense.len(), |t| w.tables[t].len());
        for idx in 0..len {
            let p0 = *param_mut(&mut w, table, idx);
            *param_mut(&mut w, table, idx) = p0 + eps;
            let up = total_loss(&w, &items, &batch, margin);
            *param_mut(&mut w, table, idx) = p0 - eps;
            let down = total_loss(&w, &items, &batch, margin);
            *param_mut(&mut w, table, idx) = p0;
            let fd = ((up - down) / (2.0 * f64::from(eps))) as f32;
            let an = analytic(table, idx, &g);
            assert!(
                (fd - an).abs() <= 2e-3 + 2e-2 * an.abs().max(fd.abs()),
                "{kind:?} group {group} index {idx}: finite difference {fd} vs analytic {an}"
            );
            if an != 0.0 {
                *checked += 1;
            }
        }
    }
    // Every group received a non-zero gradient somewhere.
    assert!(checked.iter().all(|&c| c > 0), "{checked:?}");
}

#[test]
fn gradients_match_finite_differences() {
    // Margin 2.5 > the largest cosine gap (2): every hinge is active, no kinks.
    check(InitKind::Xavier, 2.5);
    check(InitKind::Normal, 2.5);
    check(InitKind::Identity, 2.5);
}

#[test]
fn loss_is_the_mean_hinge_over_negatives() {
    let (w, items) = setup(InitKind::Xavier);
    let mut s = Scratch::new(w.d);
    let h = [1u32, 2];
    let t = [3u32, 0, 5];
    let loss = example(&w, &items, &h, &t, 0.4, 1.0, &mut s, None);
    let mut u = vec![0.0; w.d];
    user_vector(&w, &items, &h, &mut s, &mut u);
    let sc = |tr: u32| {
        let mut v = vec![0.0; w.d];
        item_vector(&w, &items, tr, &mut v);
        dot(&u, &v)
    };
    let expect = ((0.4 - sc(3) + sc(0)).max(0.0) + (0.4 - sc(3) + sc(5)).max(0.0)) / 2.0;
    assert!((loss - expect).abs() < 1e-6, "{loss} vs {expect}");
}
