//! `sim run --days`: one day is today's log byte for byte; later days draw their own
//! streams one virtual day later; `retrain: daily` trains a new, cached artifact per day;
//! `--between-days` runs between days and stops the run when it fails; `sim report
//! --by-day` gives one table per day and a chart per metric.

use crate::common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

const DAY_MS: u64 = 86_400_000;
const START_MS: u64 = 1_700_000_000_000;

fn run_ceiling(dir: &Path, out: &str, extra: &[&str]) -> std::process::Output {
    let mut args = ceiling_on_small_world(dir, "run");
    args.extend(["--seed", "5", "--out", out, "--cache-dir", "cache"]);
    args.extend(extra);
    sim(&args, dir)
}

fn events(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn run_json(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap()
}

/// The log without `latency` and `timestamp`: what the user model and recommenders drew.
fn draws(path: &Path) -> Vec<String> {
    events(path)
        .into_iter()
        .map(|mut e| {
            let o = e.as_object_mut().unwrap();
            o.remove("latency");
            o.remove("timestamp");
            e.to_string()
        })
        .collect()
}

#[test]
fn one_day_is_the_log_the_main_branch_writes() {
    let dir = tempfile::tempdir().unwrap();
    // Written by the main branch's `sim run` before days existed (latency zeroed), with
    // the same world, experiment, seed and episodes.
    let expected =
        log_without_latency(&root().join("tests/data/days/main_ceiling_seed5_120.jsonl"));
    for (out, extra) in [("plain", &[][..]), ("one", &["--days", "1"][..])] {
        let mut args = vec!["--episodes", "120", "--workers", "2"];
        args.extend(extra);
        let result = run_ceiling(dir.path(), out, &args);
        assert!(result.status.success(), "{}", stderr(&result));
        let log = dir.path().join(out).join("events.jsonl");
        assert_eq!(log_without_latency(&log), expected, "{out}");
    }
}

#[test]
fn three_days_draw_their_own_streams_one_virtual_day_apart() {
    let dir = tempfile::tempdir().unwrap();
    let result = run_ceiling(dir.path(), "multi", &["--episodes", "100", "--days", "3"]);
    assert!(result.status.success(), "{}", stderr(&result));
    let single = run_ceiling(dir.path(), "single", &["--episodes", "100"]);
    assert!(single.status.success());
    let out = dir.path().join("multi");
    let logs: Vec<PathBuf> = (1..=3)
        .map(|d| out.join(format!("events-day{d}.jsonl")))
        .collect();
    // Day 1 draws what a one-day run draws (only the clock is spread over the day).
    assert_eq!(
        draws(&logs[0]),
        draws(&dir.path().join("single/events.jsonl"))
    );
    assert_ne!(draws(&logs[0]), draws(&logs[1]));
    assert_ne!(draws(&logs[1]), draws(&logs[2]));

    let record = run_json(&out);
    let days = record["days"].as_array().unwrap();
    assert_eq!(days.len(), 3);
    let mut sessions = std::collections::HashSet::new();
    for (d, (log, day)) in logs.iter().zip(days).enumerate() {
        let start = START_MS + d as u64 * DAY_MS;
        assert_eq!(day["day"], d as u64 + 1);
        assert_eq!(day["start_timestamp_ms"], start);
        assert_eq!(day["end_timestamp_ms"], start + DAY_MS);
        assert_eq!(day["first_episode"], d as u64 * 100);
        assert_eq!(day["episodes"], 100);
        assert_eq!(day["arms"].as_array().unwrap().len(), 4);
        let events = events(log);
        for e in &events {
            let ts = e["timestamp"].as_u64().unwrap();
            // The day is recoverable from the timestamp alone.
            assert_eq!((ts - START_MS) / DAY_MS, d as u64, "{e}");
            if e["message"] == "last" {
                assert!(sessions.insert(e["session"].as_u64().unwrap()), "{e}");
            }
        }
        assert_eq!(events.first().unwrap()["timestamp"], start);
    }
    assert_eq!(sessions.len(), 300, "session ids are unique across days");

    // One summary row per day and arm.
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(stdout.contains("300 episodes over 3 days"), "{stdout}");
    for day in 1..=3 {
        for arm in ["C", "T1", "T2", "T3"] {
            let row = format!("{day:<4} {arm:<4} ");
            assert!(stdout.contains(&row), "no row {row:?} in\n{stdout}");
        }
    }
    // The run's report by day sits next to the logs.
    assert!(out.join("by_day.md").exists());
}

#[test]
fn report_by_day_gives_a_table_per_day_and_a_chart_per_metric() {
    let dir = tempfile::tempdir().unwrap();
    let result = run_ceiling(dir.path(), "multi", &["--episodes", "150", "--days", "3"]);
    assert!(result.status.success(), "{}", stderr(&result));
    let out = dir.path().join("multi");
    let logs: Vec<String> = (1..=3)
        .map(|d| {
            out.join(format!("events-day{d}.jsonl"))
                .display()
                .to_string()
        })
        .collect();
    let mut args = vec!["report", "--by-day", "--out", "bd", "--color", "never"];
    args.extend(logs.iter().map(String::as_str));
    let report = sim(&args, dir.path());
    assert!(report.status.success(), "{}", stderr(&report));
    let stdout = String::from_utf8_lossy(&report.stdout);
    for day in 1..=3 {
        assert!(stdout.contains(&format!("day {day}\n")), "{stdout}");
    }
    let by_day: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("bd/by_day.json")).unwrap())
            .unwrap();
    let by_day = by_day.as_array().unwrap();
    assert_eq!(by_day.len(), 3);
    // Each day's table counts that day's sessions only, and the days add up to the run.
    let run = run_json(&out);
    let mut total = 0;
    for (d, day) in by_day.iter().enumerate() {
        assert_eq!(day["day"], d as u64 + 1);
        let sessions = day["analysis"]["log"]["sessions"].as_u64().unwrap();
        assert_eq!(sessions, run["days"][d]["episodes"].as_u64().unwrap());
        total += sessions;
        // Three treatments against the control on each of the five metrics, by Welch
        // (the course's rows) and by the always-valid interval.
        let rows = day["analysis"]["rows"].as_array().unwrap();
        let welch = rows.iter().filter(|r| r["method"] == "welch").count();
        assert_eq!((welch, rows.len()), (15, 30));
    }
    assert_eq!(total, 450);
    let md = std::fs::read_to_string(dir.path().join("bd/by_day.md")).unwrap();
    for metric in [
        "time",
        "sessions",
        "mean_request_latency",
        "mean_tracks_per_session",
        "mean_time_per_session",
    ] {
        for ext in ["svg", "png"] {
            let chart = dir.path().join(format!("bd/by_day_{metric}.{ext}"));
            assert!(std::fs::metadata(&chart).unwrap().len() > 1000, "{chart:?}");
        }
        assert!(md.contains(&format!("(by_day_{metric}.png)")), "{md}");
    }
    assert!(md.contains("## Day 1") && md.contains("## Day 3"));
}

#[test]
fn between_days_sees_each_day_and_a_failure_stops_the_run_keeping_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let ok = run_ceiling(
        dir.path(),
        "ok",
        &[
            "--episodes",
            "20",
            "--days",
            "3",
            "--between-days",
            "echo \"$BOTIFY_DAY $(basename \"$BOTIFY_LOG\") $(grep -c session \"$BOTIFY_LOG\")\" >> \"$BOTIFY_OUT/seen\"",
        ],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    let out = dir.path().join("ok");
    let seen = std::fs::read_to_string(out.join("seen")).unwrap();
    // The day's whole log is there when the command runs.
    let expected = (1..=2)
        .map(|d| {
            let events = events(&out.join(format!("events-day{d}.jsonl"))).len();
            format!("{d} events-day{d}.jsonl {events}\n")
        })
        .collect::<String>();
    assert_eq!(seen, expected, "run between days, not after the last");

    let failed = run_ceiling(
        dir.path(),
        "bad",
        &[
            "--episodes",
            "20",
            "--days",
            "3",
            "--between-days",
            "echo reloading; echo model server down >&2; exit 7",
        ],
    );
    assert_eq!(failed.status.code(), Some(1));
    let err = stderr(&failed);
    for part in [
        "exit 7\" failed after day 1 with exit status 7",
        "reloading",
        "model server down",
        "logs of days 1..1 are kept",
    ] {
        assert!(err.contains(part), "{part:?} missing from\n{err}");
    }
    let out = dir.path().join("bad");
    assert!(events(&out.join("events-day1.jsonl")).len() > 40);
    assert!(!out.join("events-day2.jsonl").exists());
    let record = run_json(&out);
    assert_eq!(record["days"].as_array().unwrap().len(), 1);
    assert_eq!(record["completed_episodes"], 20);
}

#[test]
fn days_ask_needs_a_terminal_and_days_must_be_a_count_or_ask() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_ceiling(dir.path(), "o", &["--episodes", "5", "--days", "ask"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("--days ask") && err.contains("not a terminal"),
        "{err}"
    );
    assert!(!dir.path().join("o").exists(), "nothing ran");
    for bad in ["0", "two", "1.5"] {
        let out = run_ceiling(dir.path(), "o", &["--episodes", "5", "--days", bad]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            stderr(&out).contains(&format!("{bad:?}")),
            "{}",
            stderr(&out)
        );
    }
}

/// A tiny world, the seminar lineup, and an experiment whose T1 retrains daily.
fn daily_project(dir: &Path) {
    tiny_world_and_seminar(dir);
    std::fs::write(
        dir.join("daily.yml"),
        "name: daily\narms:\n  C: {kind: sticky_artist}\n  T1:\n    kind: indexed\n    source:\n      train: dssm\n      logs_from:\n        - {experiment: seminar.yml, episodes: 600, seed: 1}\n      top_k: 20\n      seed: 1\n      dim: 16\n      epochs: 3\n      retrain: daily\n",
    )
    .unwrap();
}

fn run_daily(dir: &Path, out: &str) -> (Value, String) {
    let args = [
        "run",
        "--experiment",
        "daily.yml",
        "--config",
        "env.yml",
        "--episodes",
        "300",
        "--days",
        "3",
        "--out",
        out,
        "--cache-dir",
        "cache",
    ];
    let result = sim(&args, dir);
    assert!(result.status.success(), "{}", stderr(&result));
    (run_json(&dir.join(out)), stderr(&result))
}

/// The artifact file each day's T1 used: day 1's from the experiment, later days' from
/// the retrained list.
fn t1_artifacts(record: &Value) -> Vec<String> {
    let mut files = vec![
        record["experiment"]["arms"][1]["spec"]["file"]
            .as_str()
            .unwrap()
            .to_string(),
    ];
    for day in &record["days"].as_array().unwrap()[1..] {
        let made = day["artifacts"].as_array().unwrap();
        assert_eq!(made.len(), 1, "{day}");
        assert_eq!(made[0]["arm"], "T1");
        files.push(made[0]["file"].as_str().unwrap().to_string());
    }
    files
}

#[test]
fn daily_retraining_makes_a_new_artifact_per_day_and_a_rerun_reuses_them() {
    let dir = tempfile::tempdir().unwrap();
    daily_project(dir.path());
    let (first, err) = run_daily(dir.path(), "a");
    assert!(err.contains("retraining on 2 logs"), "{err}");
    assert!(err.contains("retraining on 3 logs"), "{err}");
    assert_eq!(first["days"].as_array().unwrap().len(), 3);
    let files = t1_artifacts(&first);
    let contents: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert_ne!(
        contents[0], contents[1],
        "day 2 learnt from day 1's traffic"
    );
    assert_ne!(
        contents[1], contents[2],
        "day 3 learnt from day 2's traffic"
    );
    // Each retrained artifact holds its training logs: the recipe's, then the days'.
    let day3 = Path::new(&files[2]).parent().unwrap();
    assert!(day3.join("logs/day-1.jsonl").exists() && day3.join("logs/day-2.jsonl").exists());

    let (again, err) = run_daily(dir.path(), "b");
    assert!(!err.contains("building"), "{err}");
    assert!(!err.contains("retraining"), "{err}");
    assert_eq!(t1_artifacts(&again), files);
    for d in 1..=3 {
        let log = |out: &str| {
            log_without_latency(&dir.path().join(out).join(format!("events-day{d}.jsonl")))
        };
        assert_eq!(log("a"), log("b"), "day {d}");
    }
}
