//! Unit tests of `core/src/world/synthetic.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::config::UserDefaults;
use botify_sim::world::synthetic::*;
use chacha20::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use std::collections::HashSet;

#[test]
fn track_embeddings_drawn_in_parallel_chunks_equal_one_sequential_stream() {
    let d = 5;
    // More than two chunks, the last one short.
    let artist_of: Vec<u32> = (0..2 * TRACKS_PER_CHUNK as u32 + 77)
        .map(|t| t % 7)
        .collect();
    let base = |artist: u32| (0..d).map(move |i| (artist * 10 + i as u32) as f32);
    // Two generators at the same odd word position, as the draws before leave it.
    let [mut parallel, mut sequential] = [(); 2].map(|()| {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        rng.set_stream(3);
        let _: u32 = rng.random();
        rng
    });
    let drawn = track_embeddings(&mut parallel, &artist_of, base, 0.7, d);
    let mut expected = Vec::new();
    for &artist in &artist_of {
        for b in base(artist) {
            expected.push(b + (standard_normal(&mut sequential) * 0.7) as f32);
        }
    }
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&drawn), bits(&expected));
    let (next, expected_next): (u64, u64) = (parallel.random(), sequential.random());
    assert_eq!(
        next, expected_next,
        "the stream goes on after the last track"
    );
}

fn small() -> SyntheticWorldConfig {
    SyntheticWorldConfig {
        tracks: 5_000,
        artists: 1_150,
        users: 200,
        ..SyntheticWorldConfig::default()
    }
}

#[test]
fn default_artist_sizes_have_the_course_shape() {
    let mut sizes = artist_sizes(&SyntheticWorldConfig::default());
    assert_eq!(sizes.len(), 11_500);
    assert_eq!(sizes.iter().sum::<usize>(), 50_000);
    sizes.sort_unstable();
    assert_eq!(sizes[sizes.len() / 2], 1, "median tracks per artist");
    let largest = *sizes.last().unwrap();
    assert!((60..=80).contains(&largest), "largest artist has {largest}");
}

#[test]
fn generation_is_deterministic_and_names_are_unique() {
    let a = generate(&small(), &UserDefaults::default()).unwrap();
    let b = generate(&small(), &UserDefaults::default()).unwrap();
    assert_eq!(a.catalogue, b.catalogue);
    assert_eq!(a.users, b.users);
    let names: HashSet<_> = a.catalogue.artist_names.iter().collect();
    assert_eq!(names.len(), a.catalogue.artist_names.len());
}

#[test]
fn same_artist_pairs_score_about_ten_and_random_pairs_about_zero() {
    let w = generate(&small(), &UserDefaults::default()).unwrap();
    let cat = &w.catalogue;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut same, mut random) = (Vec::new(), Vec::new());
    for tracks in cat.tracks_by_artist.iter().filter(|t| t.len() >= 2) {
        same.push(cat.score(tracks[0], tracks[1]) as f64);
    }
    for _ in 0..4000 {
        let a = rng.random_range(0..cat.len() as u32);
        let b = rng.random_range(0..cat.len() as u32);
        if cat.artist_of[a as usize] != cat.artist_of[b as usize] {
            random.push(cat.score(a, b) as f64);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    // The shared vector and genre vectors are drawn once, so the means scatter around
    // their expectations by more than the pair noise; 1.5 is about two of those spreads.
    assert!(
        (mean(&same) - 10.0).abs() < 1.5,
        "same artist {}",
        mean(&same)
    );
    assert!(mean(&random).abs() < 1.5, "random pair {}", mean(&random));
}

#[test]
fn bad_sizes_are_rejected() {
    let cfg = SyntheticWorldConfig {
        artists: 10,
        tracks: 5,
        ..small()
    };
    assert!(generate(&cfg, &UserDefaults::default()).is_err());
}

#[test]
fn each_impossible_value_names_its_own_key() {
    let cases: [(SyntheticWorldConfig, &str); 6] = [
        (
            SyntheticWorldConfig { dim: 0, ..small() },
            "world.synthetic.dim must be at least 1, got 0",
        ),
        (
            SyntheticWorldConfig {
                genres: 0,
                ..small()
            },
            "world.synthetic.genres must be at least 1, got 0",
        ),
        (
            SyntheticWorldConfig {
                users: 0,
                ..small()
            },
            "world.synthetic.users must be at least 1, got 0",
        ),
        (
            SyntheticWorldConfig {
                track_norm2: f64::NAN,
                ..small()
            },
            "world.synthetic.track_norm2 must be a finite number >= 0, got NaN",
        ),
        (
            SyntheticWorldConfig {
                consume_bias: [3.0, 1.0],
                ..small()
            },
            "world.synthetic.consume_bias must be a range [lo, hi] of finite numbers with lo <= hi, got [3, 1]",
        ),
        (
            SyntheticWorldConfig {
                multi_track_artist_share: 1.5,
                ..small()
            },
            "world.synthetic.multi_track_artist_share must be in [0, 1], got 1.5",
        ),
    ];
    for (cfg, expected) in cases {
        assert_eq!(cfg.validate().unwrap_err(), expected);
    }
}
