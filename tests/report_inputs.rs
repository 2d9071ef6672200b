//! `sim report` reads what it is pointed at and says what it read: run folders (never its
//! own outputs), rotated botify logs, impossible values as malformed lines, "nothing to
//! compare" as an error, and a closed standard output that ends quietly.

use crate::common::*;
use crate::report_cli::{botify_log, simple};
use std::path::Path;
use std::process::{Command, Stdio};

const AB: &str = "name: ab\narms:\n  C: {kind: random}\n  T1: {kind: sticky_artist}\n";

/// The arguments of `sim run` of the two-arm experiment into `out`, plus `extra`.
fn run_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "--experiment",
        "ab.yml",
        "--config",
        "env.yml",
        "--episodes",
        "200",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    args
}

/// `sim run` of the two-arm experiment on the small world into `out`, plus `extra`.
fn run_into(dir: &Path, out: &str, extra: &[&str]) -> std::process::Output {
    std::fs::write(dir.join("ab.yml"), AB).unwrap();
    small_world_config(dir);
    sim(&run_args(out, extra), dir)
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_run_folder_is_read_for_its_log_only_even_after_a_report_was_written_into_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_into(dir.path(), "run", &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        dir.path().join("run/ab.json").exists(),
        "sim run writes its report"
    );
    for extra in [&[][..], &["--skip-bad-lines"][..]] {
        let mut args = vec!["report", "run", "--out", "run"];
        args.extend_from_slice(extra);
        let out = sim(&args, dir.path());
        assert!(out.status.success(), "{extra:?}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("Read 1"), "{text}");
        assert!(text.contains("from 1 file(s)"), "{text}");
        assert!(text.contains("Files read: run/events.jsonl ("), "{text}");
        assert!(
            text.contains("run/ab.json (an output of sim, not an event log)"),
            "{text}"
        );
        assert!(
            text.contains("run/run.json (an output of sim, not an event log)"),
            "{text}"
        );
        assert!(!text.contains("malformed"), "{text}");
    }
}

#[test]
fn rotated_botify_logs_are_all_read_oldest_first_and_listed_with_their_events() {
    let dir = tempfile::tempdir().unwrap();
    let log = botify_log(&[("C", 20), ("T1", 20)], simple);
    let lines: Vec<&str> = log.lines().collect();
    // The service rotates data.json -> data.json.1 -> ... : the highest number is oldest.
    let chunks = [
        ("data.json.10", 0..60),
        ("data.json.2", 60..120),
        ("data.json.1", 120..200),
        ("data.json", 200..lines.len()),
    ];
    for (name, range) in &chunks {
        let text: String = lines[range.clone()]
            .iter()
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), "not a log").unwrap();
    let out = sim(&["report", ".", "--no-files"], dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("Read {} events from 4 file(s)", lines.len())),
        "{text}"
    );
    let listed = format!(
        "Files read: ./data.json.10 (60 events), ./data.json.2 (60 events), ./data.json.1 (80 events), ./data.json ({} events).",
        lines.len() - 200
    );
    assert!(text.contains(&listed), "{text}");
    assert!(text.contains("0 unfinished sessions"), "{text}");
}

#[test]
fn impossible_times_latencies_and_ids_are_malformed_lines() {
    let dir = tempfile::tempdir().unwrap();
    let log = botify_log(&[("C", 20), ("T1", 20)], simple);
    let good = sim(&["report", "data.json", "--no-files"], {
        std::fs::write(dir.path().join("data.json"), &log).unwrap();
        dir.path()
    });
    assert!(good.status.success(), "{}", stderr(&good));
    let cases = [
        (
            r#""time":0.3,"#,
            r#""time":1e308,"#,
            "`time` must be in [0, 1], got 1e308",
        ),
        (
            r#""latency":0.001,"#,
            r#""latency":-0.5,"#,
            "`latency` must be a number of seconds in [0, 86400], got -0.5",
        ),
        // Finite, but no request's time: summed in ms it made a guardrail infinite.
        (
            r#""latency":0.001,"#,
            r#""latency":1e308,"#,
            "`latency` must be a number of seconds in [0, 86400], got 1e308",
        ),
        (
            r#""user":3,"#,
            r#""user":-3,"#,
            "`user` must be a non-negative integer, got -3",
        ),
        (
            r#""track":1,"#,
            r#""track":1.5,"#,
            "`track` must be a non-negative integer, got 1.5",
        ),
    ];
    for (from, to, message) in cases {
        let line = log.lines().position(|l| l.contains(from)).unwrap();
        let bad: String = log
            .lines()
            .enumerate()
            .map(|(i, l)| if i == line { l.replacen(from, to, 1) } else { l.to_string() } + "\n")
            .collect();
        std::fs::write(dir.path().join("data.json"), bad).unwrap();
        let out = sim(&["report", "data.json", "--no-files"], dir.path());
        assert_eq!(out.status.code(), Some(1), "{to}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "data.json:{}: malformed event: {message}",
                line + 1
            )),
            "{to}: {err}"
        );
        let skipped = sim(
            &["report", "data.json", "--no-files", "--skip-bad-lines"],
            dir.path(),
        );
        assert!(skipped.status.success(), "{to}: {}", stderr(&skipped));
        assert!(
            stdout(&skipped).contains("; 1 malformed lines skipped"),
            "{to}"
        );
        // Skipping the line is exactly leaving it out: the same table as without it.
        let without: String = log
            .lines()
            .enumerate()
            .filter(|(i, _)| *i != line)
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        std::fs::write(dir.path().join("without.json"), without).unwrap();
        let reference = sim(&["report", "without.json", "--no-files"], dir.path());
        // The tables, without the lines above them that name the file and the lines read.
        let table = |out: &std::process::Output| {
            let text = stdout(out);
            text.split_once("\n\nPrimary metric")
                .map(|(_, t)| t.to_string())
                .unwrap_or_default()
        };
        assert!(!table(&reference).is_empty());
        assert_eq!(table(&skipped), table(&reference), "{to}");
    }
}

#[test]
fn a_report_with_nothing_to_compare_is_an_error_that_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let one_arm = botify_log(&[("C", 20)], simple);
    std::fs::write(dir.path().join("one.json"), &one_arm).unwrap();
    let unfinished: String = botify_log(&[("C", 10), ("T1", 10)], simple)
        .lines()
        .filter(|l| !(l.contains(r#""message":"last""#) && l.contains(r#""ab":"T1""#)))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.path().join("unfinished.json"), unfinished).unwrap();
    std::fs::write(dir.path().join("garbage.json"), "not json\n{\"x\": 1}\n").unwrap();
    std::fs::write(dir.path().join("empty.json"), "").unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["one.json"],
            "nothing to compare: experiment `ab` has a single arm in the log (`C`)",
        ),
        (
            &["unfinished.json"],
            "nothing to compare: no treatment arm of experiment `ab` has a finished session (no `last` event); 10 unfinished sessions (40 events) were dropped",
        ),
        (
            &["garbage.json", "--skip-bad-lines"],
            "nothing to compare: all 2 lines of garbage.json are malformed and were skipped (first: garbage.json:1:",
        ),
        (
            &["empty.json"],
            "nothing to compare: empty.json hold no events",
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["report", "--out", "out"];
        all.extend_from_slice(args);
        let out = sim(&all, dir.path());
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(stdout(&out).is_empty(), "{args:?}: no table is printed");
        assert!(
            !dir.path().join("out").exists(),
            "{args:?}: no report files"
        );
    }
}

/// Starts `sim` with its standard output (and error) a pipe whose reader is already
/// gone: every write to it fails with EPIPE.
fn sim_into_closed_pipe(args: &[&str], dir: &Path) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_standard_output_ends_quietly_with_every_file_written() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ab.yml"), AB).unwrap();
    small_world_config(dir.path());
    let run = sim_into_closed_pipe(&run_args("run", &[]), dir.path());
    assert_eq!(run.status.code(), Some(0));
    for file in [
        "events.jsonl",
        "run.json",
        "report.md",
        "ab.json",
        "ab.csv",
        "report.html",
    ] {
        assert!(
            dir.path().join("run").join(file).exists(),
            "sim run wrote no {file}"
        );
    }
    let report = sim_into_closed_pipe(&["report", "run", "--out", "again"], dir.path());
    assert_eq!(report.status.code(), Some(0));
    for file in ["report.md", "ab.json", "ab.csv", "report.html"] {
        assert!(
            dir.path().join("again").join(file).exists(),
            "sim report wrote no {file}"
        );
    }
}

/// `sim merge` prints its line and A/B table with a reader gone: no panic, every file.
#[test]
fn merge_into_a_closed_standard_output_ends_quietly_with_every_file_written() {
    let dir = tempfile::tempdir().unwrap();
    for (shard, out) in [("0/2", "s0"), ("1/2", "s1")] {
        let run = run_into(dir.path(), out, &["--shard", shard]);
        assert!(run.status.success(), "{}", stderr(&run));
    }
    let merge = sim_into_closed_pipe(&["merge", "s0", "s1", "--out", "merged"], dir.path());
    assert_eq!(merge.status.code(), Some(0));
    for file in ["events.jsonl", "run.json", "report.md", "ab.csv"] {
        assert!(
            dir.path().join("merged").join(file).exists(),
            "sim merge wrote no {file}"
        );
    }
}

/// The rows of an `ab.csv` but the latency one (measured, so it may differ between runs).
fn ab_rows(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("mean_request_latency"))
        .map(str::to_string)
        .collect()
}

/// The same log read twice (given twice, or a copy of it) is counted once, with a line
/// saying how many events were dropped and from which files.
#[test]
fn the_same_events_read_twice_are_counted_once_and_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_into(dir.path(), "run", &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    std::fs::copy(
        dir.path().join("run/events.jsonl"),
        dir.path().join("copy.jsonl"),
    )
    .unwrap();
    let events = std::fs::read_to_string(dir.path().join("run/events.jsonl"))
        .unwrap()
        .lines()
        .count();
    let once = sim(&["report", "run/events.jsonl", "--out", "once"], dir.path());
    assert!(once.status.success(), "{}", stderr(&once));
    for (second, out) in [("run/events.jsonl", "twice"), ("copy.jsonl", "copy")] {
        let result = sim(
            &["report", "run/events.jsonl", second, "--out", out],
            dir.path(),
        );
        let text = stdout(&result);
        assert!(result.status.success(), "{}", stderr(&result));
        assert!(
            text.contains(&format!("Dropped {events} events read twice, counted once: {second} repeats {events} events of run/events.jsonl")),
            "{text}"
        );
        assert!(text.contains(&format!("Read {events} events")), "{text}");
        assert_eq!(
            ab_rows(&dir.path().join(out).join("ab.csv")),
            ab_rows(&dir.path().join("once/ab.csv"))
        );
    }
}

/// A directory's subfolders (one per replica) are read and listed; a compressed rotated
/// log is listed as not read.
#[test]
fn subfolders_are_read_and_compressed_logs_listed_as_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_into(dir.path(), "run", &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    let text = std::fs::read_to_string(dir.path().join("run/events.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let half = lines.len() / 2;
    let logs = dir.path().join("logs");
    for (replica, part) in [("replica-1", &lines[..half]), ("replica-2", &lines[half..])] {
        std::fs::create_dir_all(logs.join(replica)).unwrap();
        std::fs::write(
            logs.join(replica).join("served.jsonl"),
            part.join("\n") + "\n",
        )
        .unwrap();
    }
    std::fs::write(logs.join("data.json.2.gz"), [0x1f, 0x8b, 8, 0]).unwrap();
    // A hidden folder (a running `sim run`'s) is not read.
    std::fs::create_dir_all(logs.join(".run-1.tmp")).unwrap();
    std::fs::write(logs.join(".run-1.tmp/events.jsonl"), &text).unwrap();
    let result = sim(&["report", "logs", "--out", "from-replicas"], dir.path());
    let said = stdout(&result);
    assert!(result.status.success(), "{}", stderr(&result));
    for part in [
        format!("logs/replica-1/served.jsonl ({half} events)"),
        format!(
            "logs/replica-2/served.jsonl ({} events)",
            lines.len() - half
        ),
        "Files not read: logs/data.json.2.gz (compressed (.gz): not read".to_string(),
        format!("Read {} events from 2 file(s)", lines.len()),
    ] {
        assert!(said.contains(&part), "{part:?} not in {said}");
    }
    let whole = sim(
        &["report", "run/events.jsonl", "--out", "whole"],
        dir.path(),
    );
    assert!(whole.status.success());
    assert_eq!(
        ab_rows(&dir.path().join("from-replicas/ab.csv")),
        ab_rows(&dir.path().join("whole/ab.csv"))
    );
}

/// `--by-day` on a one-day run (whose virtual clock spans days: one
/// `episode_stride_ms` per episode) gives one day, as its run.json says; the same log
/// without its run.json is refused, naming it.
#[test]
fn by_day_uses_the_runs_own_day_count_or_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_into(dir.path(), "run", &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    let events = std::fs::read_to_string(dir.path().join("run/events.jsonl")).unwrap();
    let stamps: Vec<u64> = events
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["timestamp"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let spread = stamps.iter().max().unwrap() - stamps.iter().min().unwrap();
    assert!(
        spread > 86_400_000,
        "the log spans more than a day of timestamps: {spread}"
    );
    let result = sim(
        &["report", "--by-day", "run/events.jsonl", "--out", "days"],
        dir.path(),
    );
    assert!(result.status.success(), "{}", stderr(&result));
    assert!(stderr(&result).contains("(1 days)"), "{}", stderr(&result));
    assert!(stdout(&result).contains("day 1\n") && !stdout(&result).contains("day 2\n"));

    std::fs::copy(
        dir.path().join("run/events.jsonl"),
        dir.path().join("alone.jsonl"),
    )
    .unwrap();
    let result = sim(
        &["report", "--by-day", "alone.jsonl", "--out", "alone"],
        dir.path(),
    );
    let err = stderr(&result);
    assert_eq!(result.status.code(), Some(1), "{err}");
    assert!(
        err.contains("alone.jsonl: a log of `sim run` without the run.json"),
        "{err}"
    );
}

/// A report whose `--out` would overwrite a log it reads is refused before anything is
/// read, the log left as it was.
#[test]
fn a_report_never_writes_over_a_log_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_into(dir.path(), "run", &[]);
    assert!(run.status.success(), "{}", stderr(&run));
    std::fs::create_dir(dir.path().join("x")).unwrap();
    std::fs::copy(
        dir.path().join("run/events.jsonl"),
        dir.path().join("x/ab.json"),
    )
    .unwrap();
    std::os::unix::fs::symlink("../x/ab.json", dir.path().join("run/link.jsonl")).unwrap();
    let before = std::fs::read(dir.path().join("x/ab.json")).unwrap();
    for (log, out) in [("x/ab.json", "x"), ("run/link.jsonl", "x")] {
        let result = sim(&["report", log, "--out", out], dir.path());
        let err = stderr(&result);
        assert_eq!(result.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!("the report would overwrite the log {log}")),
            "{err}"
        );
    }
    assert_eq!(std::fs::read(dir.path().join("x/ab.json")).unwrap(), before);
}
