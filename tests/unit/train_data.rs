//! Unit tests of `train/src/data.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::train::data::*;
use botify_sim::train::{Catalogue, DssmParams, Interaction, TrainError};

fn it(user: u32, track: u32, time: f32) -> Interaction {
    Interaction { user, track, time }
}

#[test]
fn positives_are_distinct_in_first_occurrence_order() {
    let log = [
        it(7, 3, 1.0),
        it(7, 1, 0.9),
        it(7, 3, 0.95),
        it(7, 2, 0.8), // not strictly above the threshold
        it(2, 4, 0.81),
        it(2, 0, 0.85),
    ];
    let artists = [0, 0, 1, 1, 2];
    let cat = Catalogue {
        n_tracks: 5,
        artist_of: &artists,
    };
    let p = DssmParams {
        validation_fraction: 0.0,
        ..DssmParams::default()
    };
    let d = build(&log, &cat, &p).unwrap();
    assert_eq!(d.positives.users, vec![2, 7]);
    assert_eq!(d.positives.of(0), &[4, 0]);
    assert_eq!(d.positives.of(1), &[3, 1]);
    assert_eq!(d.n_positive_events, 5);
    assert_eq!(d.train.len(), 4);
    // Played once or twice: bucket floor(log2(1 + plays)) = 1; never played: 0.
    assert_eq!(d.items.pop_bucket, vec![1, 1, 1, 1, 1]);
    let cat6 = Catalogue {
        n_tracks: 6,
        artist_of: &[0, 0, 1, 1, 2, 2],
    };
    let d = build(&log, &cat6, &p).unwrap();
    assert_eq!(d.items.pop_bucket[5], 0);
    let mut h = Vec::new();
    d.positives.history_into(1, Some(3), 30, &mut h);
    assert_eq!(h, vec![1]);
    d.positives.history_into(1, None, 1, &mut h);
    assert_eq!(h, vec![1]);
}

#[test]
fn bad_inputs_are_named() {
    let artists = [0, 1];
    let cat = Catalogue {
        n_tracks: 2,
        artist_of: &artists,
    };
    let p = DssmParams::default();
    assert!(matches!(build(&[], &cat, &p), Err(TrainError::EmptyLog)));
    let err = build(&[it(1, 0, 0.5), it(1, 5, 0.9)], &cat, &p).unwrap_err();
    assert!(matches!(
        err,
        TrainError::TrackOutOfRange {
            index: 1,
            track: 5,
            ..
        }
    ));
    assert!(err.to_string().contains("track 5"), "{err}");
    assert!(matches!(
        build(&[it(1, 0, 0.5)], &cat, &p),
        Err(TrainError::NoPositives { .. })
    ));
    assert!(matches!(
        build(&[it(1, 0, 0.9)], &cat, &p),
        Err(TrainError::NoTrainingExamples { .. })
    ));
    assert!(matches!(
        build(&[it(1, 0, f32::NAN)], &cat, &p),
        Err(TrainError::BadTime { .. })
    ));
}
