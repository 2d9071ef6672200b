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

#[test]
fn one_line_says_each_cause_once() {
    use botify_sim::terminal::one_line;
    let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
    // A message naming its cause, then the cause again in the chain.
    let named = anyhow::Error::new(io()).context("x.jsonl: cannot read: gone");
    assert_eq!(one_line(&named), "x.jsonl: cannot read: gone");
    let plain = anyhow::Error::new(io()).context("x.jsonl: cannot read");
    assert_eq!(one_line(&plain), "x.jsonl: cannot read: gone");
    let outer = plain.context("day 2");
    assert_eq!(one_line(&outer), "day 2: x.jsonl: cannot read: gone");
}
