//! Unit tests of `core/src/world/neighbour_file.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::world::World;
use botify_sim::world::neighbour_file::*;
use botify_sim::world::{Catalogue, User};
use std::path::Path;
use std::sync::atomic::AtomicBool;

fn world() -> World {
    let n = 300;
    let embeddings: Vec<f32> = (0..n * 2)
        .map(|i| ((i * 37) % 101) as f32 / 10.0 - 5.0)
        .collect();
    let catalogue = Catalogue::new(
        2,
        embeddings,
        vec![0; n],
        vec!["a".into()],
        vec![String::new(); n],
        (0..n as u32).collect(),
    );
    let users = (0..40)
        .map(|u| User {
            interests: vec![u * 7 % 300, u * 13 % 300],
            interest_neighbours: 6,
            consume_bias: 5.0,
            consume_sharpness: 1.0,
            session_budget: 5,
            artist_discount_gamma: 0.8,
        })
        .collect();
    World::new(catalogue, users)
}

#[test]
fn the_cached_sets_equal_a_fresh_computation_and_damage_is_caught() {
    let cache = tempfile::tempdir().unwrap();
    let go = AtomicBool::new(false);
    let first = world();
    assert_eq!(
        load_or_compute(&first, cache.path(), false, &go).unwrap(),
        Origin::Computed
    );
    let file = path(&first, cache.path());
    let fresh = world();
    let loaded = world();
    assert_eq!(
        load_or_compute(&loaded, cache.path(), false, &go).unwrap(),
        Origin::Read
    );
    for t in interest_tracks(&fresh) {
        // `fresh` computes lazily, one query at a time: the reference.
        assert_eq!(loaded.nearest(t, 6), fresh.nearest(t, 6), "track {t}");
    }
    let good = std::fs::read(&file).unwrap();
    let (tracks, k) = (interest_tracks(&fresh), 6);
    assert!(decode(&good, 300, k, &tracks).is_ok());
    // Any flipped byte, a cut file or a different world is refused.
    for at in [0, 9, 13, 20, HEADER - 1, HEADER + 3, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x40;
        assert!(decode(&bad, 300, k, &tracks).is_err(), "byte {at}");
    }
    assert!(decode(&good[..good.len() - 4], 300, k, &tracks).is_err());
    assert!(decode(&good, 301, k, &tracks).is_err());
    assert!(decode(&good, 300, k, &tracks[1..]).is_err());
    // A damaged file is computed again and rewritten as it was.
    let mut bad = good.clone();
    bad[HEADER + 8] ^= 1;
    std::fs::write(&file, bad).unwrap();
    assert_eq!(
        load_or_compute(&world(), cache.path(), false, &go).unwrap(),
        Origin::Computed
    );
    assert_eq!(std::fs::read(&file).unwrap(), good);
    // --rebuild recomputes a sound file.
    assert_eq!(
        load_or_compute(&world(), cache.path(), true, &go).unwrap(),
        Origin::Computed
    );
}

/// Ctrl-C during the search: an `Interrupted` error and no file (not even a temporary
/// one) in the cache; the next call computes the sets as if nothing had happened.
#[test]
fn a_stopped_search_caches_nothing() {
    let cache = tempfile::tempdir().unwrap();
    let w = world();
    let error = load_or_compute(&w, cache.path(), false, &AtomicBool::new(true)).unwrap_err();
    assert!(botify_sim::interrupt::is_interrupted(&error), "{error:#}");
    assert!(!cache.path().join("neighbours").exists());
    let fresh = world();
    assert_eq!(
        load_or_compute(&w, cache.path(), false, &AtomicBool::new(false)).unwrap(),
        Origin::Computed
    );
    for t in interest_tracks(&w) {
        assert_eq!(w.nearest(t, 6), fresh.nearest(t, 6), "track {t}");
    }
}

#[test]
fn the_key_changes_with_the_embeddings_and_k() {
    let dir = Path::new("c");
    let a = world();
    let mut b = world();
    b.catalogue.embeddings[5] += 1.0;
    let mut c = world();
    c.ensure_neighbours(9);
    let paths = [path(&a, dir), path(&b, dir), path(&c, dir)];
    assert_ne!(paths[0], paths[1]);
    assert_ne!(paths[0], paths[2]);
    assert_eq!(paths[0], path(&world(), dir));
}
