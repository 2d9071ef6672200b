//! Unit tests of `train/src/i2i.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::train::Interaction;
use botify_sim::train::i2i::*;
use botify_sim::train::input::Play;

fn play(user: u32, track: u32, time: f32, ends_session: bool) -> Play {
    Play {
        interaction: Interaction { user, track, time },
        ends_session,
    }
}

/// A hand-computed case. Artists: tracks 1, 2 by artist 0, the rest their own.
/// User 7: 0 -> 1 (0.9) -> 2 (1.0) -> 3 (0.5) | new session: 0 -> 2 (0.85)
/// User 8 (interleaved): 0 -> 1 (0.8) -> 0 (1.0) -> 4 (0.95)
/// Transitions counted (time >= 0.8, not a repeat of itself):
///   0 -> 1: 0.9 + 0.8 = 1.7;  0 -> 2: 0.85;  1 -> 2: 1.0;  1 -> 0: 1.0;  0 -> 4: 0.95
///   2 -> 3 is not counted (0.5); the session break 3 -> 0 is no transition.
fn plays() -> Vec<Play> {
    vec![
        play(7, 0, 1.0, false),
        play(8, 0, 1.0, false),
        play(7, 1, 0.9, false),
        play(8, 1, 0.8, false),
        play(7, 2, 1.0, false),
        play(8, 0, 1.0, false),
        play(7, 3, 0.5, true),
        play(7, 0, 1.0, false),
        play(8, 4, 0.95, true),
        play(7, 2, 0.85, true),
    ]
}

#[test]
fn scores_followers_by_summed_good_listen_time() {
    let artist_of = [9, 0, 0, 3, 4];
    let (lists, summary) = next_track_lists(&plays(), &artist_of, &I2iParams::default());
    assert_eq!(
        lists,
        vec![(0, vec![1, 4, 2]), (1, vec![0, 2])],
        "1.7 > 0.95 > 0.85; 1 -> 0 and 1 -> 2 tie at 1.0, lower id first"
    );
    assert_eq!(summary.transitions, 7);
    assert_eq!(summary.good_transitions, 6);
    assert_eq!(summary.tracks_with_lists, 2);
}

#[test]
fn one_per_artist_keeps_the_best_track_of_each_artist_then_cuts() {
    let artist_of = [9, 0, 0, 3, 4];
    let params = I2iParams {
        one_per_artist: true,
        ..I2iParams::default()
    };
    let (lists, _) = next_track_lists(&plays(), &artist_of, &params);
    // 0: 1 (artist 0), 4, then 2 is artist 0 again: dropped.
    assert_eq!(lists, vec![(0, vec![1, 4]), (1, vec![0, 2])]);
    let params = I2iParams {
        top_k: 1,
        min_time: 0.9,
        one_per_artist: false,
    };
    let (lists, _) = next_track_lists(&plays(), &artist_of, &params);
    // With min_time 0.9: 0 -> 1 scores 0.9, 0 -> 4 0.95.
    assert_eq!(lists, vec![(0, vec![4]), (1, vec![0])]);
}
