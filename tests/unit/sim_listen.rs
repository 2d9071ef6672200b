//! Unit tests of `core/src/sim/listen.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::sim::listen::*;
use botify_sim::world::{Catalogue, User};

/// Three tracks on a line: 0 and 1 by artist 0, 2 by artist 1.
fn catalogue() -> Catalogue {
    Catalogue::new(
        1,
        vec![1.0, 2.0, 3.0],
        vec![0, 0, 1],
        vec!["a".into(), "b".into()],
        vec![String::new(); 3],
        vec![0, 1, 2],
    )
}

fn user() -> User {
    User {
        interests: vec![0],
        interest_neighbours: 1,
        consume_bias: 1.0,
        consume_sharpness: 2.0,
        session_budget: 5,
        artist_discount_gamma: 0.8,
    }
}

#[test]
fn sigmoid_of_scaled_score_minus_bias() {
    let u = user();
    assert_eq!(raw_listen(1.0, &u), 0.5);
    let expected = 1.0 / (1.0 + (-2.0f64 * 2.0).exp());
    assert!((raw_listen(3.0, &u) - expected).abs() < 1e-15);
}

#[test]
fn rounding_is_to_two_decimals_ties_to_even_on_the_scaled_value() {
    assert_eq!(round2(0.123), 0.12);
    assert_eq!(round2(0.127), 0.13);
    assert_eq!(round2(0.125), 0.12); // 12.5 -> 12
    assert_eq!(round2(0.375), 0.38); // 37.5 -> 38
    assert_eq!(round2(0.0), 0.0);
}

#[test]
fn round2_rounds_as_round_ties_even() {
    use rand::{RngExt, SeedableRng};
    let mut rng = chacha20::ChaCha8Rng::seed_from_u64(4);
    // Every tie (k + 0.5 hundredths) and its neighbours, zeros, and random values.
    let mut values: Vec<f64> = (0..=200)
        .flat_map(|k| {
            let tie = (k as f64 + 0.5) / 100.0;
            [tie, tie.next_up(), tie.next_down()]
        })
        .collect();
    values.extend([0.0, -0.0, -0.004, -0.006, 1.0, 4.5e13, 1e300, f64::NAN]);
    values.extend((0..20_000).map(|_| rng.random::<f64>()));
    for x in values {
        let expected = (x * 100.0).round_ties_even() / 100.0;
        assert_eq!(round2(x).to_bits(), expected.to_bits(), "{x:e}");
    }
}

#[test]
fn a_repeat_is_worth_nothing_including_the_first_track() {
    let (cat, u) = (catalogue(), user());
    let mut played = Playback::default();
    played.push(2, &cat);
    assert_eq!(listen_time(&cat, &u, &[1.0], &played, 2), 0.0);
}

#[test]
fn artist_discount_counts_every_earlier_playback_repeats_and_first_included() {
    let (cat, u) = (catalogue(), user());
    let taste = [1.0f32];
    let fresh = raw_listen(2.0, &u); // track 1 scores 2.0
    let mut played = Playback::default();
    played.push(0, &cat); // first track, artist 0
    let once = listen_time(&cat, &u, &taste, &played, 1);
    assert_eq!(once, round2(fresh * 0.8));
    played.push(0, &cat); // a repeat of track 0 still counts for the artist
    played.push(2, &cat); // another artist does not
    let twice = listen_time(&cat, &u, &taste, &played, 1);
    assert_eq!(twice, round2(fresh * 0.8 * 0.8));
}

/// The written-out power is `f64::powi`, bit for bit, for discounts and bases all over.
#[test]
fn powi_equals_the_library_powi() {
    use rand::{RngExt, SeedableRng};
    let mut rng = chacha20::ChaCha8Rng::seed_from_u64(4);
    let mut bases = vec![
        0.0,
        -0.0,
        1.0,
        0.5,
        0.9,
        0.85,
        1.5,
        -2.0,
        f64::MAX,
        f64::MIN_POSITIVE,
    ];
    bases.extend((0..2000).map(|_| rng.random::<f64>() * 4.0 - 2.0));
    for x in bases {
        for n in (1..70).chain([1000, 1 << 20, i32::MAX as usize]) {
            assert_eq!(powi(x, n).to_bits(), x.powi(n as i32).to_bits(), "{x}^{n}");
        }
    }
}
