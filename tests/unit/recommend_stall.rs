//! Unit tests of `core/src/recommend/stall.rs`.

use botify_sim::recommend::stall::StallWatch;
use std::time::Duration;

fn watch(ms: &[u64]) -> Vec<Option<String>> {
    let watch = StallWatch::default();
    ms.iter()
        .map(|&ms| watch.observe("http://svc", Duration::from_millis(ms)))
        .collect()
}

#[test]
fn ten_answers_of_about_40_ms_name_nagle_and_the_fix_once() {
    let said = watch(&[41; 15]);
    assert!(said[..9].iter().all(Option::is_none));
    let warning = said[9].as_deref().unwrap();
    assert!(
        warning.contains("http://svc") && warning.contains("41 ms"),
        "{warning}"
    );
    assert!(warning.contains("Nagle") && warning.contains("disable_nagle_algorithm = True"));
    assert!(said[10..].iter().all(Option::is_none), "said once");
}

#[test]
fn fast_answers_or_a_few_slow_ones_say_nothing() {
    assert!(watch(&[1; 12]).iter().all(Option::is_none));
    // 7 of 10 in the band: not the steady stall.
    assert!(
        watch(&[40, 40, 40, 40, 40, 40, 40, 1, 1, 1])
            .iter()
            .all(Option::is_none)
    );
    // Slower than a delayed ACK: a slow service, not this stall.
    assert!(watch(&[150; 10]).iter().all(Option::is_none));
}
