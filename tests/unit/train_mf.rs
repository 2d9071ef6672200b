//! Unit tests of `train/src/mf.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::train::mf::*;
use botify_sim::train::{Interaction, TrainError};

/// One user step by hand, d = 2, reg = 1, alpha = 2. Fixed item factors
/// y0 = (1, 0), y1 = (0, 1), y2 = (1, 1); the user played item 0 once and item 2 twice.
/// YᵀY = [[2, 1], [1, 2]]; c0 = 3, c2 = 5.
/// A = YᵀY + (3-1) y0 y0ᵀ + (5-1) y2 y2ᵀ + I = [[2+2+4+1, 1+4], [1+4, 2+4+1]]
///   = [[9, 5], [5, 7]]; b = 3 y0 + 5 y2 = (8, 5).
/// z = A⁻¹ b = (1 / (63 - 25)) [[7, -5], [-5, 9]] (8, 5) = (31, 5) / 38.
#[test]
fn a_user_step_solves_the_weighted_least_squares_by_hand() {
    let fixed = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
    let params = MfParams {
        reg: 1.0,
        alpha: 2.0,
        ..MfParams::default()
    };
    let g = gram(&fixed, 2);
    assert_eq!(g, vec![2.0, 1.0, 1.0, 2.0]);
    let z = solve_row(&[(0, 1.0), (2, 2.0)], &fixed, &g, 2, &params);
    assert!((z[0] - 31.0 / 38.0).abs() < 1e-12, "{z:?}");
    assert!((z[1] - 5.0 / 38.0).abs() < 1e-12, "{z:?}");
}

#[test]
fn same_factors_whatever_the_thread_count() {
    // 300 users, 500 tracks, each user plays 20 tracks of a block of 50.
    let mut interactions = Vec::new();
    for user in 0..300u32 {
        for k in 0..20u32 {
            let track = (user % 10) * 50 + (user * 7 + k * 13) % 50;
            interactions.push(Interaction {
                user,
                track,
                time: if k % 3 == 0 { 0.3 } else { 1.0 },
            });
        }
    }
    let params = MfParams {
        dim: 8,
        iterations: 3,
        top_k: 10,
        ..MfParams::default()
    };
    let fit = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| train_mf(&interactions, 500, &params).unwrap())
    };
    let (one, three) = (fit(1), fit(3));
    assert_eq!(one.user_factors, three.user_factors);
    assert_eq!(one.item_factors, three.item_factors);
    // The lists stay inside the user's block of 50 tracks: the model learned it.
    let recs = one.recommendations(10);
    let inside = recs
        .iter()
        .flat_map(|(u, list)| list.iter().map(move |t| t / 50 == u % 10))
        .filter(|x| *x)
        .count();
    assert!(inside as f64 > 0.95 * 3000.0, "{inside} of 3000");
}

#[test]
fn refuses_logs_without_positives_and_bad_parameters() {
    let plays = [Interaction {
        user: 0,
        track: 1,
        time: 0.5,
    }];
    assert!(matches!(
        train_mf(&plays, 2, &MfParams::default()),
        Err(TrainError::NoPositives { .. })
    ));
    let bad = MfParams {
        reg: 0.0,
        ..MfParams::default()
    };
    assert!(matches!(
        train_mf(&plays, 2, &bad),
        Err(TrainError::InvalidParams(_))
    ));
    assert!(matches!(
        train_mf(&plays, 1, &MfParams::default()),
        Err(TrainError::TrackOutOfRange { .. })
    ));
}
