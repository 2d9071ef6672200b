//! Unit tests of `core/src/recommend/history.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::recommend::history::*;
use botify_sim::recommend::lists::IdLists;
use botify_sim::recommend::simple::TopPop;
use botify_sim::recommend::{RecRng, Recommender, SessionMemory, SessionStart};
use botify_sim::world::ServiceCatalogue;
use rand::SeedableRng;
use std::collections::HashSet;
use std::sync::Arc;

/// Tracks 0..100; artist = track / 2 (two tracks per artist); the fallback answers 90..100.
fn history(list: Vec<u32>, max_artist_recs: u32, attempts: u32) -> History {
    let artist_of: Vec<u32> = (0..100).map(|t| t / 2).collect();
    let mut tracks_by_artist = vec![Vec::new(); 50];
    for (t, &a) in artist_of.iter().enumerate() {
        tracks_by_artist[a as usize].push(t as u32);
    }
    History {
        lists: IdLists::from_pairs([(0, list)]),
        catalogue: Arc::new(ServiceCatalogue {
            artist_of,
            tracks_by_artist,
            popularity: (0..100).collect(),
        }),
        max_artist_recs,
        attempts,
        fallback: Box::new(TopPop {
            top: (90..100).collect(),
        }),
    }
}

fn session_answers(h: &History, first: u32, steps: usize, seed: u64) -> Vec<u32> {
    let mut rng = RecRng::seed_from_u64(seed);
    let mut session = h.start(&SessionStart {
        user: 0,
        hidden_taste: 0,
    });
    let mut prev = first;
    (0..steps)
        .map(|_| {
            prev = session.next(prev, 0.5, &mut rng).unwrap();
            prev
        })
        .collect()
}

#[test]
fn never_repeats_a_track_in_a_session_nor_the_played_first_track() {
    let h = history((0..6).collect(), 10, 1000);
    for seed in 0..20 {
        let answers = session_answers(&h, 3, 5, seed);
        let mut seen: HashSet<u32> = HashSet::from([3]);
        for a in answers {
            assert!(a < 6, "list exhausted only after 5 answers");
            assert!(seen.insert(a), "repeat {a}");
        }
    }
}

#[test]
fn caps_recommendations_per_artist_then_falls_back() {
    // Four tracks, all by artists 0 and 1; with a cap of 1 per artist only two
    // list answers are possible, the rest come from the fallback (90..100).
    let h = history(vec![0, 1, 2, 3], 1, 10);
    for seed in 0..20 {
        let answers = session_answers(&h, 50, 6, seed);
        let from_list: Vec<u32> = answers.iter().copied().filter(|&a| a < 4).collect();
        let artists: HashSet<u32> = from_list.iter().map(|a| a / 2).collect();
        assert_eq!(
            artists.len(),
            from_list.len(),
            "one per artist: {answers:?}"
        );
        assert!(from_list.len() <= 2);
    }
}

/// What `sim serve` does between requests: a session rebuilt from its memory at
/// every step answers exactly as one kept alive.
#[test]
fn a_session_resumed_from_its_memory_at_every_step_answers_as_a_live_one() {
    let h = history((0..12).collect(), 2, 5);
    let start = SessionStart {
        user: 0,
        hidden_taste: 0,
    };
    for seed in 0..10 {
        let live = session_answers(&h, 3, 15, seed);
        let mut rng = RecRng::seed_from_u64(seed);
        let mut memory = SessionMemory::default();
        let mut prev = 3;
        let resumed: Vec<u32> = (0..15)
            .map(|_| {
                let mut session = h.resume(&start, &memory);
                prev = session.next(prev, 0.5, &mut rng).unwrap();
                memory = session.memory();
                prev
            })
            .collect();
        assert_eq!(live, resumed, "seed {seed}");
        assert!(
            memory.tracks.contains(&3),
            "the played first track is remembered"
        );
    }
}

#[test]
fn zero_attempts_always_asks_the_fallback_and_memory_is_per_session() {
    let h = history(vec![0], 3, 0);
    let mut rng = RecRng::seed_from_u64(1);
    let mut s = h.start(&SessionStart {
        user: 0,
        hidden_taste: 0,
    });
    // The fallback is uniform over 100 tracks; 0 comes from it rarely.
    let zeros = (0..50)
        .filter(|_| s.next(7, 0.1, &mut rng).unwrap() == 0)
        .count();
    assert!(zeros < 5);
    // A new session may answer track 0 again at once.
    let h = history(vec![0], 3, 10);
    assert_eq!(session_answers(&h, 9, 1, 2), vec![0]);
    assert_eq!(session_answers(&h, 9, 1, 3), vec![0]);
}

/// The fallback's answers keep both rules too: the fallback here (ten tracks of five
/// artists) breaks them within a few steps, and its answers are replaced.
#[test]
fn the_fallbacks_answers_keep_both_rules_too() {
    let h = history(vec![0, 1], 1, 10);
    for seed in 0..50 {
        let answers = session_answers(&h, 50, 40, seed);
        let mut seen: HashSet<u32> = HashSet::from([50]);
        let mut artists = HashSet::new();
        for a in &answers {
            assert!(seen.insert(*a), "seed {seed}: repeat {a} in {answers:?}");
            assert!(
                artists.insert(a / 2),
                "seed {seed}: artist of {a} twice in {answers:?}"
            );
        }
    }
}

/// Once every track is used or its artist capped, no answer keeps both rules: the
/// session fails, saying so, rather than break one.
#[test]
fn a_session_that_used_up_the_catalogue_fails_saying_so() {
    let h = history(vec![0, 1], 1, 10);
    let mut rng = RecRng::seed_from_u64(4);
    let mut session = h.start(&SessionStart {
        user: 0,
        hidden_taste: 0,
    });
    // 50 artists, one recommendation each.
    let mut prev = 50;
    for step in 0..50 {
        prev = session
            .next(prev, 0.5, &mut rng)
            .unwrap_or_else(|e| panic!("step {step}: {e}"));
    }
    let err = session.next(prev, 0.5, &mut rng).unwrap_err().to_string();
    assert!(err.contains("no track keeps both rules"), "{err}");
}
