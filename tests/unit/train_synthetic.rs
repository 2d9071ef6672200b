//! Unit tests of `train/src/synthetic.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::train::synthetic::*;

#[test]
fn about_ten_percent_positives() {
    let cfg = SyntheticConfig {
        users: 200,
        tracks: 1000,
        artists: 200,
        genres: 10,
        favourite_artists: 4,
        events: 20_000,
        session_length: 20,
        seed: 3,
    };
    let log = SyntheticLog::generate(&cfg);
    let it = log.interactions();
    assert_eq!(it.len(), 20_000);
    assert_eq!(log.events().count(), 20_000);
    let pos = it.iter().filter(|i| i.time > 0.8).count() as f64 / it.len() as f64;
    assert!((0.07..0.16).contains(&pos), "{pos}");
}
