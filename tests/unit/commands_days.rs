//! Unit tests of `src/commands/days.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::commands::days::*;

#[test]
fn a_failing_command_is_named_with_its_status_and_output() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("events-day2.jsonl");
    let err = between_days(
        "echo \"day $BOTIFY_DAY log $BOTIFY_LOG\"; echo oops >&2; exit 3",
        2,
        &log,
        dir.path(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("failed after day 2 with exit status 3"),
        "{err}"
    );
    assert!(
        err.contains(&format!("day 2 log {}", log.display())),
        "{err}"
    );
    assert!(err.contains("oops"), "{err}");
    assert!(err.contains("days 1..2 are kept"), "{err}");
}

#[test]
fn a_succeeding_command_sees_the_day_log_and_folder() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("events-day1.jsonl");
    between_days(
        "echo \"$BOTIFY_DAY $BOTIFY_LOG\" > \"$BOTIFY_OUT/seen\"",
        1,
        &log,
        dir.path(),
    )
    .unwrap();
    let seen = std::fs::read_to_string(dir.path().join("seen")).unwrap();
    assert_eq!(seen.trim(), format!("1 {}", log.display()));
}
