//! Unit tests of `core/src/world/world_file.rs` (see `tests/unit/mod.rs`).

use botify_sim::config::UserDefaults;
use botify_sim::world::World;
use botify_sim::world::neighbour_file::Origin;
use botify_sim::world::synthetic::{SyntheticWorldConfig, generate};
use botify_sim::world::world_file::*;
use std::path::Path;

fn small() -> SyntheticWorldConfig {
    SyntheticWorldConfig {
        tracks: 3_000,
        artists: 700,
        users: 150,
        interests_per_user: 2,
        ..SyntheticWorldConfig::default()
    }
}

fn assert_same(a: &World, b: &World) {
    assert_eq!(a.catalogue, b.catalogue);
    assert_eq!(a.users, b.users);
    let bits =
        |w: &World| -> Vec<u32> { w.catalogue.embeddings.iter().map(|x| x.to_bits()).collect() };
    assert_eq!(bits(a), bits(b), "embeddings bit for bit");
}

#[test]
fn the_cached_world_equals_a_fresh_one_and_damage_is_caught() {
    let cache = tempfile::tempdir().unwrap();
    let defaults = UserDefaults::default();
    let (first, origin) = load_or_generate(&small(), &defaults, cache.path(), false).unwrap();
    assert_eq!(origin, Origin::Computed);
    let fresh = generate(&small(), &defaults).unwrap();
    assert_same(&first, &fresh);
    let (read, origin) = load_or_generate(&small(), &defaults, cache.path(), false).unwrap();
    assert_eq!(origin, Origin::Read);
    assert_same(&read, &fresh);

    // The users' defaults are applied on reading, not stored.
    let other_defaults = UserDefaults {
        session_budget: 9,
        interest_neighbours: 4,
        ..UserDefaults::default()
    };
    let (read, origin) = load_or_generate(&small(), &other_defaults, cache.path(), false).unwrap();
    assert_eq!(origin, Origin::Read);
    assert_same(&read, &generate(&small(), &other_defaults).unwrap());

    let file = path(&small(), cache.path()).unwrap();
    let good = std::fs::read(&file).unwrap();
    // Any flipped byte, a cut or lengthened file, or another config is refused.
    for at in [
        0,
        9,
        13,
        17,
        21,
        25,
        29,
        HEADER - 1,
        HEADER,
        good.len() / 2,
        good.len() - 1,
    ] {
        let mut bad = good.clone();
        bad[at] ^= 0x40;
        assert!(decode(&bad, &small(), &defaults).is_err(), "byte {at}");
    }
    assert!(decode(&good[..good.len() - 1], &small(), &defaults).is_err());
    let mut longer = good.clone();
    longer.push(0);
    assert!(decode(&longer, &small(), &defaults).is_err());
    let bigger = SyntheticWorldConfig {
        users: 151,
        ..small()
    };
    assert!(decode(&good, &bigger, &defaults).is_err());

    // A damaged file is generated again and rewritten as it was.
    let mut bad = good.clone();
    bad[HEADER + 8] ^= 1;
    std::fs::write(&file, bad).unwrap();
    let (again, origin) = load_or_generate(&small(), &defaults, cache.path(), false).unwrap();
    assert_eq!(origin, Origin::Computed);
    assert_same(&again, &fresh);
    assert_eq!(std::fs::read(&file).unwrap(), good);
    // --rebuild generates a sound file again.
    let (_, origin) = load_or_generate(&small(), &defaults, cache.path(), true).unwrap();
    assert_eq!(origin, Origin::Computed);
}

#[test]
fn the_key_changes_with_every_key_of_the_config() {
    let dir = Path::new("c");
    let base = path(&small(), dir).unwrap();
    assert_eq!(base, path(&small(), dir).unwrap());
    let changed = [
        SyntheticWorldConfig {
            seed: 43,
            ..small()
        },
        SyntheticWorldConfig {
            track_norm2: 2.000001,
            ..small()
        },
        SyntheticWorldConfig {
            consume_bias: [0.0, 9.0],
            ..small()
        },
        SyntheticWorldConfig {
            artist_discount_gamma: 0.8,
            ..small()
        },
    ];
    for cfg in changed {
        assert_ne!(path(&cfg, dir).unwrap(), base, "{cfg:?}");
    }
}

#[test]
fn an_unwritable_cache_still_gives_the_world() {
    let cache = tempfile::tempdir().unwrap();
    // A file where the cache's folder should be.
    let blocked = cache.path().join("file");
    std::fs::write(&blocked, b"x").unwrap();
    let (world, origin) =
        load_or_generate(&small(), &UserDefaults::default(), &blocked, false).unwrap();
    assert_eq!(origin, Origin::NotSaved);
    assert_same(
        &world,
        &generate(&small(), &UserDefaults::default()).unwrap(),
    );
}
