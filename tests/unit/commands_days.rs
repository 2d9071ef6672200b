//! Unit tests of `src/commands/days.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::commands::between_days::*;

#[test]
fn a_failing_command_is_named_with_its_status_and_output() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("events-day2.jsonl");
    let err = between_days(
        "echo \"day $BOTIFY_DAY log $BOTIFY_LOG\"; echo oops >&2; exit 3",
        2,
        &log,
        dir.path(),
        None,
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
        None,
    )
    .unwrap();
    let seen = std::fs::read_to_string(dir.path().join("seen")).unwrap();
    assert_eq!(seen.trim(), format!("1 {}", log.display()));
}

/// The output reaches stderr as it comes; only its tail is kept for the message, however
/// much the command prints.
#[test]
fn a_failing_commands_message_holds_only_the_tail_of_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("events-day1.jsonl");
    // 3,000 lines of 60 bytes, then the last one.
    let err = between_days(
        "seq -f '%059g' 1 3000; echo the-end; exit 1",
        1,
        &log,
        dir.path(),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("the-end"), "{}", &err[..err.len().min(2000)]);
    assert!(
        err.contains(&format!("{:059}", 3000)),
        "{}",
        &err[..err.len().min(2000)]
    );
    assert!(
        !err.contains(&format!("{:059}", 2980)),
        "more than the tail: {} bytes",
        err.len()
    );
    assert!(err.len() < 4000, "{} bytes", err.len());
}

/// A command that outlives `--between-days-timeout` is stopped (SIGTERM) and the error
/// names the timeout.
#[test]
fn a_command_past_its_timeout_is_stopped_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("events-day1.jsonl");
    let started = std::time::Instant::now();
    let err = between_days(
        "echo started; sleep 600",
        1,
        &log,
        dir.path(),
        Some(std::time::Duration::from_millis(300)),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("--between-days-timeout 0.3 s"), "{err}");
    assert!(err.contains("started"), "{err}");
    // SIGTERM ends `sh` and its `sleep` (one process group) at once: well before the
    // grace period that would kill it.
    assert!(
        started.elapsed() < BETWEEN_DAYS_GRACE,
        "{:?}",
        started.elapsed()
    );
}
