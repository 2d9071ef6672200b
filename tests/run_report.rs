//! `sim run` and `sim merge` tabulate the sessions they have just logged instead of reading
//! their log back: their report files must be exactly what `sim report` makes of that log.

use crate::common::*;
use std::path::Path;

const REPORT_FILES: [&str; 7] = [
    "ab.csv",
    "ab.json",
    "report.md",
    "report.html",
    "forest.svg",
    "running_mean.svg",
    "session_time.svg",
];

fn ok(out: std::process::Output) {
    assert!(out.status.success(), "{}", stderr(&out));
}

fn run(dir: &Path, out: &str, extra: &[&str]) {
    let config = small_world_config(dir);
    let mut args = vec![
        "run",
        "--experiment",
        "seminar",
        "--config",
        config.to_str().unwrap(),
        "--episodes",
        "3000",
        "--seed",
        "9",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    ok(sim(&args, dir));
}

/// Every report file of `made` equals the one `sim report` writes from `made`'s log.
fn assert_report_equals_sim_report_of_the_log(dir: &Path, made: &str) {
    let log = format!("{made}/events.jsonl");
    let again = format!("{made}-again");
    ok(sim(&["report", &log, "--out", &again], dir));
    for file in REPORT_FILES {
        let (a, b) = (dir.join(made).join(file), dir.join(&again).join(file));
        assert!(
            std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
            "{file} of {made} differs from `sim report {log}`'s"
        );
    }
}

#[test]
fn a_runs_report_is_sim_report_of_its_log_to_the_byte() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(d, "two", &["--workers", "2"]);
    assert_report_equals_sim_report_of_the_log(d, "two");
    // The run records how long its report took (read by `sim bench --end-to-end`).
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("two/run.json")).unwrap()).unwrap();
    assert!(record["report_seconds"].as_f64().unwrap() > 0.0, "{record}");
}

#[test]
fn a_merges_report_is_sim_report_of_the_merged_log_to_the_byte() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for k in 0..3 {
        run(d, &format!("s{k}"), &["--shard", &format!("{k}/3")]);
    }
    ok(sim(&["merge", "s0", "s1", "s2", "--out", "merged"], d));
    assert_report_equals_sim_report_of_the_log(d, "merged");
}
