//! Unit tests of `core/src/topk.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::topk::*;
use rand::{RngExt, SeedableRng};
use std::sync::atomic::AtomicBool;

/// The reference: every item scored with [`score`], sorted, ties to the lower id.
fn full_sort(users: &[f32], items: &[f32], dim: usize, k: usize) -> Vec<Vec<u32>> {
    users
        .chunks_exact(dim)
        .map(|uv| {
            let mut all: Vec<u32> = (0..(items.len() / dim) as u32).collect();
            all.sort_by(|&a, &b| {
                let sa = score(uv, &items[a as usize * dim..(a as usize + 1) * dim]);
                let sb = score(uv, &items[b as usize * dim..(b as usize + 1) * dim]);
                sb.total_cmp(&sa).then(a.cmp(&b))
            });
            all.truncate(k);
            all
        })
        .collect()
}

#[test]
fn matches_a_full_sort() {
    let mut rng = chacha20::ChaCha8Rng::seed_from_u64(1);
    let dim = 5;
    let (nu, ni) = (70, 603);
    let users: Vec<f32> = (0..nu * dim).map(|_| rng.random::<f32>() - 0.5).collect();
    let mut items: Vec<f32> = (0..ni * dim).map(|_| rng.random::<f32>() - 0.5).collect();
    // A tie: item 7 duplicates item 3, so item 3 must come first.
    let dup: Vec<f32> = items[3 * dim..4 * dim].to_vec();
    items[7 * dim..8 * dim].copy_from_slice(&dup);
    assert_eq!(
        top_k(&users, &items, dim, 10),
        full_sort(&users, &items, dim, 10)
    );
    assert_eq!(top_k(&users, &items, dim, 10_000)[0].len(), ni);
}

/// Near-ties (items one ulp apart, exact duplicates, sums whose FMA and plain
/// rounding differ) over several tiles, for 1, 2 and 3 threads: always the reference.
#[test]
fn near_ties_resolve_as_the_reference_for_any_thread_count() {
    let mut rng = chacha20::ChaCha8Rng::seed_from_u64(7);
    let dim = 32;
    let (nu, ni) = (150, 2 * ITEM_TILE + 77);
    let users: Vec<f32> = (0..nu * dim)
        .map(|_| rng.random::<f32>() * 2.0 - 1.0)
        .collect();
    let mut items: Vec<f32> = (0..ni * dim)
        .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * 3.0)
        .collect();
    for copy in (1..ni).step_by(3) {
        let source = rng.random_range(0..copy);
        for d in 0..dim {
            let x = items[source * dim + d];
            items[copy * dim + d] = match rng.random_range(0..3) {
                0 => x,
                1 => x.next_up(),
                _ => x.next_down(),
            };
        }
    }
    let reference = full_sort(&users, &items, dim, 12);
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let got = pool.install(|| top_k(&users, &items, dim, 12));
        assert_eq!(got, reference, "{threads} threads");
    }
}

/// A set flag ends the search with `Interrupted`, from any thread count; an unset
/// one changes nothing.
#[test]
fn a_set_stop_flag_ends_the_search() {
    let mut rng = chacha20::ChaCha8Rng::seed_from_u64(3);
    let dim = 8;
    let users: Vec<f32> = (0..200 * dim).map(|_| rng.random::<f32>()).collect();
    let items: Vec<f32> = (0..900 * dim).map(|_| rng.random::<f32>()).collect();
    let index = InnerProductIndex::new(&items, dim);
    let go = AtomicBool::new(false);
    assert_eq!(
        index.top_k_or_stop(&users, 5, &go).unwrap(),
        index.top_k(&users, 5)
    );
    let stop = AtomicBool::new(true);
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let got = pool.install(|| index.top_k_or_stop(&users, 5, &stop));
        assert!(got.is_err(), "{threads} threads");
    }
}

#[test]
fn order_keys_follow_total_cmp() {
    let xs = [
        f32::NEG_INFINITY,
        -2.5,
        -0.0,
        0.0,
        1e-40,
        3.0,
        f32::INFINITY,
    ];
    for w in xs.windows(2) {
        assert!(order_key(w[0]) < order_key(w[1]), "{w:?}");
    }
    for x in xs {
        assert!(band_floor(order_key(x), 0.0) <= x, "{x}");
    }
}
