//! Unit tests of `report/src/render/terminal.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::report::render::terminal::wrap;

#[test]
fn wrap_breaks_at_spaces_within_the_width() {
    assert_eq!(wrap("aa bb cc dd", 5), "aa bb\ncc dd");
    assert_eq!(wrap("a verylongword b", 4), "a\nverylongword\nb");
    assert_eq!(wrap("", 10), "");
}
