//! Unit tests of `core/src/serve/mod.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::serve::*;

#[test]
fn session_streams_differ_by_seed_user_and_counter() {
    use rand::RngExt;
    let draw = |s, u, c| session_rng(s, u, c).random::<u64>();
    let a = draw(1, 2, 3);
    assert_eq!(a, draw(1, 2, 3));
    assert_ne!(a, draw(0, 2, 3));
    assert_ne!(a, draw(1, 0, 3));
    assert_ne!(a, draw(1, 2, 0));
}

#[test]
fn ids_are_plain_decimals() {
    assert_eq!(parse_id("17"), Some(17));
    for bad in ["", "-1", "+1", " 1", "1.0", "abc", "99999999999"] {
        assert_eq!(parse_id(bad), None, "{bad}");
    }
}
