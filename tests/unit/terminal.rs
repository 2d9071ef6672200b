//! Unit tests of `core/src/terminal.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::terminal::ColorChoice::*;

#[test]
fn no_color_turns_off_auto_only() {
    assert!(Auto.decide(false, true));
    assert!(!Auto.decide(true, true));
    assert!(!Auto.decide(false, false));
    assert!(Always.decide(true, false));
    assert!(!Never.decide(false, true));
}
