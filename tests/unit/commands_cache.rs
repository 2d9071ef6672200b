//! Unit tests of `src/commands/cache.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::commands::cache::is_cache_entry;

#[test]
fn only_what_the_cache_makes_is_an_entry() {
    let key = "0123456789abcdef0123456789abcdef";
    assert!(is_cache_entry(key));
    assert!(is_cache_entry(&format!("{key}.tmp-4242")));
    assert!(is_cache_entry("neighbours"));
    assert!(is_cache_entry("worlds"));
    assert!(is_cache_entry(&format!("{key}.lock")));
    for other in [
        "Documents",
        "cache",
        &key[1..],
        &format!("{key}.tmp-x"),
        ".bashrc",
    ] {
        assert!(!is_cache_entry(other), "{other}");
    }
}
