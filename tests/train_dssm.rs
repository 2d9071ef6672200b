//! The two-tower trainer learns structure, is deterministic for a seed whatever the
//! number of threads, and reports bad input.

use botify_sim::train::synthetic::{SyntheticConfig, SyntheticLog};
use botify_sim::train::{
    Catalogue, DssmParams, Interaction, TrainError, interactions_from_events, train_dssm,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicBool;

fn config(seed: u64) -> SyntheticConfig {
    SyntheticConfig {
        users: 800,
        tracks: 4_000,
        artists: 800,
        genres: 40,
        favourite_artists: 4,
        events: 80_000,
        session_length: 20,
        seed,
    }
}

fn small_params() -> DssmParams {
    DssmParams {
        dim: 32,
        epochs: 8,
        lr: 0.02,
        seed: 7,
        ..DssmParams::default()
    }
}

/// Hold out one positive track per user with at least three distinct positives (all
/// plays of that pair leave the training log); the model's top-k must contain the
/// held-out track far more often than a random list of k tracks (probability k / N).
#[test]
fn top_k_hits_held_out_positives_far_more_often_than_random() {
    let log = SyntheticLog::generate(&config(11));
    let all = log.interactions();
    let mut positives: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for i in all.iter().filter(|i| i.time > 0.8) {
        positives.entry(i.user).or_default().insert(i.track);
    }
    // The held-out track: a deterministic pick among the user's positives.
    let held_out: BTreeMap<u32, u32> = positives
        .iter()
        .filter(|(_, t)| t.len() >= 3)
        .map(|(&u, t)| {
            let v: Vec<u32> = t.iter().copied().collect();
            (u, v[(u as usize * 7919) % v.len()])
        })
        .collect();
    let train: Vec<Interaction> = all
        .iter()
        .copied()
        .filter(|i| held_out.get(&i.user) != Some(&i.track))
        .collect();
    let catalogue = Catalogue {
        n_tracks: log.artist_of.len(),
        artist_of: &log.artist_of,
    };
    let k = 50;
    let model = train_dssm(
        &train,
        &catalogue,
        &small_params(),
        &|_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    let recs: BTreeMap<u32, Vec<u32>> = model.recommendations(k).into_iter().collect();

    let n = held_out.len() as f64;
    let hits = held_out
        .iter()
        .filter(|(u, t)| recs.get(u).is_some_and(|r| r.contains(t)))
        .count() as f64;
    let p0 = k as f64 / log.artist_of.len() as f64;
    let se = (n * p0 * (1.0 - p0)).sqrt();
    eprintln!(
        "held-out hits: {hits} of {n} users ({:.1} %), random expects {:.1} ± {se:.1}",
        100.0 * hits / n,
        n * p0
    );
    assert!(n >= 500.0, "too few users to test: {n}");
    // Far beyond chance: 10 standard errors above the random expectation, and 5x it.
    assert!(
        hits > n * p0 + 10.0 * se,
        "{hits} hits vs {} ± {se}",
        n * p0
    );
    assert!(hits > 5.0 * n * p0, "{hits} hits vs {}", n * p0);
}

#[test]
fn same_seed_same_model_whatever_the_thread_count() {
    let log = SyntheticLog::generate(&SyntheticConfig {
        events: 20_000,
        ..config(5)
    });
    let interactions = log.interactions();
    let catalogue = Catalogue {
        n_tracks: log.artist_of.len(),
        artist_of: &log.artist_of,
    };
    let params = DssmParams {
        epochs: 2,
        dim: 16,
        batch_size: 100, // chunks of 16 do not divide it: a partial chunk per batch
        ..small_params()
    };
    let run = |threads: usize, params: &DssmParams| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let m = train_dssm(
                &interactions,
                &catalogue,
                params,
                &|_| {},
                &AtomicBool::new(false),
            )
            .unwrap();
            let losses: Vec<(f64, Option<f64>)> = m
                .summary()
                .epochs
                .iter()
                .map(|e| (e.train_loss, e.validation_loss))
                .collect();
            (m.recommendations(20), losses)
        })
    };
    let one = run(1, &params);
    assert_eq!(one, run(3, &params), "1 vs 3 threads");
    assert_eq!(one, run(2, &params), "1 vs 2 threads");
    let other = run(
        2,
        &DssmParams {
            seed: 8,
            ..params.clone()
        },
    );
    assert_ne!(one.1, other.1, "another seed, other losses");
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let artists = [0u32, 0, 1];
    let catalogue = Catalogue {
        n_tracks: 3,
        artist_of: &artists,
    };
    let p = small_params();
    let it = |user, track, time| Interaction { user, track, time };
    let err = |log: &[Interaction]| {
        train_dssm(log, &catalogue, &p, &|_| {}, &AtomicBool::new(false)).unwrap_err()
    };
    assert!(matches!(err(&[]), TrainError::EmptyLog));
    assert!(matches!(
        err(&[it(1, 0, 0.2), it(1, 1, 0.8)]),
        TrainError::NoPositives { events: 2, .. }
    ));
    let e = err(&[it(1, 0, 0.9), it(1, 3, 0.9)]);
    assert_eq!(
        e.to_string(),
        "interaction 1 (user 1) has track 3, but the catalogue has 3 tracks (ids 0..3)"
    );
    let bad = DssmParams {
        dim: 0,
        ..p.clone()
    };
    assert!(matches!(
        train_dssm(
            &[it(1, 0, 0.9), it(1, 1, 0.9)],
            &catalogue,
            &bad,
            &|_| {},
            &AtomicBool::new(false)
        ),
        Err(TrainError::InvalidParams(_))
    ));
}

/// Ctrl-C is checked before every batch: a set stop flag ends training before its first.
#[test]
fn a_set_stop_flag_stops_training() {
    let log = SyntheticLog::generate(&SyntheticConfig {
        events: 2000,
        ..config(3)
    });
    let catalogue = Catalogue {
        n_tracks: log.artist_of.len(),
        artist_of: &log.artist_of,
    };
    let steps = std::cell::Cell::new(0);
    let counted = |p: botify_sim::train::Progress| {
        if let botify_sim::train::Progress::Step { .. } = p {
            steps.set(steps.get() + 1);
        }
    };
    let stopped = train_dssm(
        &log.interactions(),
        &catalogue,
        &small_params(),
        &counted,
        &AtomicBool::new(true),
    );
    assert!(matches!(stopped, Err(TrainError::Interrupted(_))));
    assert_eq!(steps.get(), 0, "no batch ran after the stop");
}

#[test]
fn events_become_interactions() {
    let log = SyntheticLog::generate(&SyntheticConfig {
        events: 500,
        ..config(2)
    });
    let from_events = interactions_from_events(log.events()).unwrap();
    assert_eq!(from_events, log.interactions());
    let mut e = log.events().next().unwrap();
    e.track = u64::from(u32::MAX) + 1;
    let err = interactions_from_events([e]).unwrap_err();
    assert!(err.to_string().contains("track 4294967296"), "{err}");
}
