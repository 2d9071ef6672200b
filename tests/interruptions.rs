//! Any number of Ctrl-C (SIGINT) or SIGTERM ends `sim run` as the first one does, whatever
//! it is doing: every finished episode in `--out`, `run.json` with `interrupted: true`,
//! exit 130. The signals are sent twice in a row, nothing between them, to a real process,
//! once it shows (on stderr or on disk) that it reached the phase under test.

use crate::common::*;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The sessions of a log (its `session` ids, each once, in order).
fn sessions(log: &Path) -> Vec<u64> {
    let mut ids: Vec<u64> = Vec::new();
    for line in std::fs::read_to_string(log).unwrap().lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        let id = event["session"].as_u64().unwrap();
        if ids.last() != Some(&id) {
            ids.push(id);
        }
    }
    ids
}

/// The run in `out` ended as an interruption: exit 130, `run.json` says so and counts
/// exactly the episodes of its logs, no temporary folder is left.
fn assert_interrupted(code: Option<i32>, err: &str, out: &Path, logs: &[&str]) -> Value {
    assert_eq!(code, Some(130), "{err}");
    let record = read_json(&out.join("run.json"));
    assert_eq!(record["interrupted"], true, "{record}");
    let logged: usize = logs.iter().map(|l| sessions(&out.join(l)).len()).sum();
    assert_eq!(record["completed_episodes"], logged as u64, "{err}");
    let left: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert!(left.is_empty(), "temporary folders left: {left:?}");
    record
}

fn ab_run<'a>(episodes: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", "--experiment", "ab.yml", "--config", "env.yml"];
    args.extend(["--episodes", episodes, "--workers", "1", "--out", "out"]);
    args.extend(extra);
    args
}

#[test]
fn two_signals_while_simulating_end_the_run_as_one_does() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let dir = ab_project();
        let max = u64::MAX.to_string();
        let mut run = Running::start(&ab_run(&max, &[]), dir.path());
        run.wait_for("world:");
        let out = dir.path().join("out");
        wait_until("no events were written", || {
            std::fs::read_dir(&out).is_ok_and(|entries| {
                entries.flatten().any(|e| {
                    e.path()
                        .join("events.jsonl")
                        .metadata()
                        .is_ok_and(|m| m.len() > 0)
                })
            })
        });
        run.signal_twice(signal);
        let (code, err) = run.finish();
        let record = assert_interrupted(code, &err, &out, &["events.jsonl"]);
        assert!(record["completed_episodes"].as_u64().unwrap() > 0);
        assert!(err.contains("interrupted:"), "{signal}: {err}");
    }
}

/// A project whose T1 retrains daily on a day of many episodes, so that retraining
/// takes a while.
fn daily_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    tiny_world_and_seminar(dir.path());
    std::fs::write(
        dir.path().join("daily.yml"),
        "name: daily\narms:\n  C: {kind: random}\n  T1:\n    kind: indexed\n    source:\n      train: dssm\n      logs_from:\n        - {experiment: seminar.yml, episodes: 200, seed: 1}\n      top_k: 20\n      seed: 1\n      dim: 16\n      epochs: 50\n      retrain: daily\n",
    )
    .unwrap();
    dir
}

#[test]
fn two_ctrl_c_while_retraining_end_the_run_as_one_does() {
    let dir = daily_project();
    let args = [
        "run",
        "--experiment",
        "daily.yml",
        "--config",
        "env.yml",
        "--episodes",
        "40000",
        "--days",
        "2",
        "--out",
        "out",
    ];
    let mut run = Running::start(&args, dir.path());
    run.wait_for("retraining on 2 logs");
    run.signal_twice(libc::SIGINT);
    let (code, err) = run.finish();
    let record = assert_interrupted(code, &err, &dir.path().join("out"), &["events-day1.jsonl"]);
    assert_eq!(record["completed_episodes"], 40000, "{err}");
    assert_eq!(record["days"].as_array().unwrap().len(), 1);
    assert!(record["error"].is_null(), "{record}");
}

#[test]
fn two_ctrl_c_at_the_console_prompt_end_the_run_as_one_does() {
    let dir = tempfile::tempdir().unwrap();
    small_world_config(dir.path());
    let args = [
        "run",
        "--console",
        "--config",
        "env.yml",
        "--seed",
        "3",
        "--out",
        "out",
    ];
    let mut run = Running::start_with_stdin(&args, dir.path());
    const PROMPT: &str = "q quits)> ";
    let mut prompts = 1;
    run.wait_for_count(PROMPT, prompts);
    // The same track again and again: repeats are worth 0, so the session soon ends.
    // Each line gets one prompt: the next step's, or the next session's.
    while !run.stderr.contains("the session ends") {
        let stdin = run.stdin.as_mut().unwrap();
        stdin.write_all(b"5\n").unwrap();
        stdin.flush().unwrap();
        prompts += 1;
        run.wait_for_count(PROMPT, prompts);
    }
    run.signal_twice(libc::SIGINT);
    let (code, err) = run.finish();
    let record = assert_interrupted(code, &err, &dir.path().join("out"), &["events.jsonl"]);
    assert_eq!(record["completed_episodes"], 1, "{err}");
    assert_eq!(record["ended_at_console"], false);
}

fn between_days_run<'a>(command: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = ab_run("50", &["--days", "2", "--between-days", command]);
    args.extend(extra);
    args
}

/// The command's output reaches stderr while it runs (the test waits for it), and two
/// Ctrl-C stop both the command and the run.
#[test]
fn two_ctrl_c_during_a_between_days_command_stop_it_and_end_the_run() {
    let dir = ab_project();
    let mut run = Running::start(
        &between_days_run("echo between-started; sleep 600", &[]),
        dir.path(),
    );
    run.wait_for("between-started");
    run.signal_twice(libc::SIGINT);
    let (code, err) = run.finish();
    let record = assert_interrupted(code, &err, &dir.path().join("out"), &["events-day1.jsonl"]);
    assert_eq!(record["completed_episodes"], 50);
    assert!(err.contains("was passed SIGINT and stopped"), "{err}");
}

/// SIGTERM to `sim` reaches the command: its trap runs.
#[test]
fn sigterm_is_passed_to_the_between_days_command() {
    let dir = ab_project();
    let command = "trap 'echo got-TERM; exit 0' TERM; echo between-started; sleep 600 & wait";
    let mut run = Running::start(&between_days_run(command, &[]), dir.path());
    run.wait_for("between-started");
    run.signal("-TERM");
    let (code, err) = run.finish();
    assert_interrupted(code, &err, &dir.path().join("out"), &["events-day1.jsonl"]);
    assert!(err.contains("got-TERM"), "{err}");
    assert!(err.contains("was passed SIGTERM"), "{err}");
}

#[test]
fn a_between_days_command_past_its_timeout_stops_the_run_keeping_day_one() {
    let dir = ab_project();
    let out = sim(
        &between_days_run("echo waiting; sleep 600", &["--between-days-timeout", "1"]),
        dir.path(),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("--between-days-timeout 1 s"), "{err}");
    let record = read_json(&dir.path().join("out/run.json"));
    assert_eq!(record["completed_episodes"], 50);
    assert!(
        record["error"].as_str().unwrap().contains("timeout"),
        "{record}"
    );
}
