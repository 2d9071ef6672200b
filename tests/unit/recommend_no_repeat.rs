//! Unit tests of `core/src/recommend/no_repeat.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::recommend::lists::IdLists;
use botify_sim::recommend::no_repeat::*;
use botify_sim::recommend::simple::TopPop;
use botify_sim::recommend::{RecRng, Recommender, SessionStart};
use botify_sim::world::ServiceCatalogue;
use rand::SeedableRng;
use std::collections::HashSet;
use std::sync::Arc;

/// Answers of one session that starts with `first`, each answer played next.
fn session(policy: &NoRepeat, user: u32, first: u32, steps: usize, seed: u64) -> Vec<u32> {
    let mut rng = RecRng::seed_from_u64(seed);
    let mut s = policy.start(&SessionStart {
        user,
        hidden_taste: 0,
    });
    let mut prev = first;
    (0..steps)
        .map(|_| {
            prev = s.next(prev, 0.5, &mut rng).unwrap();
            prev
        })
        .collect()
}

fn assert_no_repeat(first: u32, answers: &[u32]) {
    let mut seen = HashSet::from([first]);
    for a in answers {
        assert!(seen.insert(*a), "{a} repeated in {first} then {answers:?}");
    }
}

#[test]
fn top_pop_uses_its_list_first_then_random_unplayed_tracks() {
    let policy = NoRepeat {
        pool: Pool::Fixed(vec![1, 2, 3]),
        fallback: None,
        n_tracks: 10,
    };
    for seed in 0..50 {
        // First track 2 is in the list: the list gives two answers, then the rest.
        let answers = session(&policy, 0, 2, 9, seed);
        assert_no_repeat(2, &answers);
        let mut head = answers[..2].to_vec();
        head.sort();
        assert_eq!(head, vec![1, 3]);
        // Every track of the catalogue is played after 9 answers: the 10th fails.
    }
    let mut rng = RecRng::seed_from_u64(1);
    let mut s = policy.start(&SessionStart {
        user: 0,
        hidden_taste: 0,
    });
    let mut prev = 0;
    for _ in 0..9 {
        prev = s.next(prev, 1.0, &mut rng).unwrap();
    }
    let err = s.next(prev, 1.0, &mut rng).unwrap_err().to_string();
    assert!(err.contains("all 10 tracks"), "{err}");
}

#[test]
fn draws_are_uniform_over_the_unplayed_candidates() {
    // Candidates 0..4, first track 0: answers 1, 2, 3 each with probability 1/3.
    let policy = NoRepeat {
        pool: Pool::Fixed(vec![0, 1, 2, 3]),
        fallback: None,
        n_tracks: 100,
    };
    let n = 3000;
    let mut counts = [0usize; 4];
    for seed in 0..n {
        counts[session(&policy, 0, 0, 1, seed)[0] as usize] += 1;
    }
    assert_eq!(counts[0], 0);
    // Binomial(3000, 1/3): sd = 25.8; 4 sd = 103.
    for c in &counts[1..] {
        assert!((*c as f64 - 1000.0).abs() < 103.0, "{counts:?}");
    }
}

#[test]
fn sticky_artist_stays_with_the_artist_until_its_tracks_are_played() {
    // Tracks 0..20; artist = track / 4.
    let artist_of: Vec<u32> = (0..20).map(|t| t / 4).collect();
    let tracks_by_artist = (0..5).map(|a| (a * 4..a * 4 + 4).collect()).collect();
    let policy = NoRepeat {
        pool: Pool::SameArtist(Arc::new(ServiceCatalogue {
            artist_of,
            tracks_by_artist,
            popularity: (0..20).collect(),
        })),
        fallback: None,
        n_tracks: 20,
    };
    for seed in 0..30 {
        let answers = session(&policy, 0, 5, 19, seed);
        assert_no_repeat(5, &answers);
        // The other three tracks of artist 1 come first.
        assert!(answers[..3].iter().all(|t| t / 4 == 1), "{answers:?}");
    }
}

#[test]
fn lists_fall_back_to_the_fallback_and_replace_its_played_answers() {
    // User 0 has list [4, 5]; user 1 none. The fallback is top-pop over [6, 7].
    let lists = IdLists::from_pairs([(0, vec![4, 5])]);
    let policy = NoRepeat {
        pool: Pool::PerUser(lists),
        fallback: Some(Box::new(TopPop { top: vec![6, 7] })),
        n_tracks: 50,
    };
    let mut sevens = 0;
    for seed in 0..200 {
        let answers = session(&policy, 0, 4, 6, seed);
        assert_no_repeat(4, &answers);
        assert_eq!(answers[0], 5);
        // Then the fallback (6 or 7; a played answer of it becomes a random unplayed one).
        assert!([6, 7].contains(&answers[1]), "{answers:?}");
        // User 1 has no list: the fallback answers 6 (played: replaced) or 7.
        let answers = session(&policy, 1, 6, 6, seed);
        assert_no_repeat(6, &answers);
        sevens += usize::from(answers[0] == 7);
    }
    // P(7) = 1/2 + 1/2 * 1/49: about 102 of 200 (sd 7).
    assert!((70..135).contains(&sevens), "{sevens}");
}

#[test]
fn contextual_lists_follow_the_previous_track() {
    let lists = IdLists::from_pairs([(0, vec![1, 2]), (1, vec![0, 2]), (2, vec![0, 1])]);
    let policy = NoRepeat {
        pool: Pool::PerPreviousTrack(lists),
        fallback: None,
        n_tracks: 30,
    };
    for seed in 0..30 {
        let answers = session(&policy, 0, 0, 5, seed);
        assert_no_repeat(0, &answers);
        // 0 -> one of 1, 2 -> the other, then the list is exhausted.
        let mut head = answers[..2].to_vec();
        head.sort();
        assert_eq!(head, vec![1, 2]);
        assert!(answers[2..].iter().all(|t| *t > 2));
    }
}

#[test]
fn random_never_repeats_even_on_a_tiny_catalogue() {
    let policy = NoRepeat {
        pool: Pool::Catalogue,
        fallback: None,
        n_tracks: 8,
    };
    for seed in 0..30 {
        let answers = session(&policy, 0, 3, 7, seed);
        assert_no_repeat(3, &answers);
    }
}
