//! `sim report` end to end: input formats, errors, outputs, colour.

use crate::common::Finish;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A botify-style log (no session ids): `users` users per arm, 2 finished sessions each
/// (3 events), `experiments` given as a JSON object body per arm.
pub fn botify_log(arms: &[(&str, u64)], experiments: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut user = 0u64;
    for (arm, users) in arms {
        for _ in 0..*users {
            user += 1;
            for s in 0..2u64 {
                for i in 0..3u64 {
                    let ts = 1_700_000_000_000 + user * 1000 + s * 100 + i;
                    let message = if i == 2 { "last" } else { "next" };
                    let time = if i == 0 {
                        1.0
                    } else {
                        ((user * 7 + s * 3 + i) % 10) as f64 / 10.0
                    };
                    writeln!(
                        out,
                        r#"{{"message":"{message}","timestamp":{ts},"user":{user},"track":1,"time":{time},"latency":0.001,"recommendation":null,"experiments":{{{}}}}}"#,
                        experiments(arm)
                    )
                    .unwrap();
                }
            }
        }
    }
    out
}

pub fn simple(arm: &str) -> String {
    format!(r#""ab":"{arm}""#)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sim"))
}

#[test]
fn botify_data_json_without_session_ids_writes_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(
        dir.path(),
        "data.json",
        &botify_log(&[("C", 30), ("T1", 30)], simple),
    );
    let out = dir.path().join("out");
    let output = sim()
        .arg("report")
        .arg(&log)
        .arg("--out")
        .arg(&out)
        .success();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("mean_time_per_session"), "{stdout}");
    assert!(stdout.contains("120 finished sessions"), "{stdout}");
    // Piped: no colour.
    assert!(!stdout.contains('\x1b'), "{stdout}");
    for name in [
        "report.md",
        "ab.csv",
        "ab.json",
        "report.html",
        "forest.svg",
        "forest.png",
        "session_time.svg",
        "session_time.png",
        "running_mean.svg",
        "running_mean.png",
    ] {
        let path = out.join(name);
        let bytes = std::fs::read(&path).unwrap_or_else(|_| panic!("{name} missing"));
        assert!(bytes.len() > 100, "{name} too small");
        if name.ends_with(".png") {
            assert_eq!(&bytes[..4], b"\x89PNG", "{name}");
        }
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 3);
    assert!(
        !html.contains("src=\""),
        "report.html must be self-contained"
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| arm | metric | method | control mean | arm mean | effect |"));
    assert!(md.contains("![") && md.contains("forest.png"));
    let csv = std::fs::read_to_string(out.join("ab.csv")).unwrap();
    assert!(csv.starts_with(
        "treatment,metric,effect,upper,lower,control_mean,treatment_mean,significant,"
    ));
    // Five metrics by Welch (the course's rows), then by the always-valid interval.
    assert_eq!(csv.lines().count(), 1 + 5 + 5);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("ab.json")).unwrap()).unwrap();
    assert_eq!(json["experiment"], "ab");
    assert_eq!(json["rows"].as_array().unwrap().len(), 10);
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(
        dir.path(),
        "data.json",
        &botify_log(&[("C", 20), ("T1", 20)], simple),
    );
    let output = sim()
        .args(["report", "--no-files", "--color", "always"])
        .arg(&log)
        .success();
    assert!(String::from_utf8_lossy(&output.stdout).contains("\x1b["));
}

#[test]
fn malformed_line_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = botify_log(&[("C", 5), ("T1", 5)], simple);
    let lines: Vec<&str> = text.lines().collect();
    let mut broken: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    broken.insert(6, r#"{"message":"next","timestamp":17,"user":"#.to_string());
    text = broken.join("\n");
    let log = write(dir.path(), "bad.jsonl", &text);
    let output = sim().args(["report", "--no-files"]).arg(&log).failure();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(stderr.contains("bad.jsonl:7:"), "{stderr}");
    assert!(stderr.contains("--skip-bad-lines"), "{stderr}");

    let output = sim()
        .args(["report", "--no-files", "--skip-bad-lines"])
        .arg(&log)
        .success();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(stdout.contains("1 malformed lines skipped"), "{stdout}");
}

#[test]
fn several_experiments_need_a_choice_and_others_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = botify_log(&[("C", 10), ("T1", 10)], |arm| {
        format!(r#""ab":"{arm}","other":"X""#)
    });
    text.push_str(&botify_log(&[("A", 3)], |arm| {
        format!(r#""third":"{arm}""#)
    }));
    let log = write(dir.path(), "data.json", &text);
    let output = sim().args(["report", "--no-files"]).arg(&log).failure();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        stderr.contains("`ab`, `other`, `third`") && stderr.contains("--experiment"),
        "{stderr}"
    );

    let output = sim()
        .args(["report", "--no-files", "--experiment", "ab"])
        .arg(&log)
        .success();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    // 3 users * 2 sessions * 3 events of experiment `third`.
    assert!(
        stdout.contains("18 events of other experiments ignored"),
        "{stdout}"
    );
}

#[test]
fn unknown_control_lists_the_arms() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(
        dir.path(),
        "data.json",
        &botify_log(&[("A", 5), ("B", 5)], simple),
    );
    let output = sim().args(["report", "--no-files"]).arg(&log).failure();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        stderr.contains("`A`, `B`") && stderr.contains("--control"),
        "{stderr}"
    );
    sim()
        .args(["report", "--no-files", "--control", "B"])
        .arg(&log)
        .success();
}

#[test]
fn directories_of_replicas_and_srm_warning() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    // 100 users in C, 160 in T1: a gross sample-ratio mismatch. Split the lines into two
    // replica files by line parity (each stays in time order).
    let text = botify_log(&[("C", 100), ("T1", 160)], simple);
    let (mut a, mut b) = (String::new(), String::new());
    for (i, line) in text.lines().enumerate() {
        let target = if i % 2 == 0 { &mut a } else { &mut b };
        target.push_str(line);
        target.push('\n');
    }
    write(&logs, "replica-1.json", &a);
    write(&logs, "replica-2.json", &b);
    write(&logs, "notes.txt", "not a log");
    let output = sim().args(["report", "--no-files"]).arg(&logs).success();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(stdout.contains("from 2 file(s)"), "{stdout}");
    assert!(stdout.contains("520 finished sessions"), "{stdout}");
    let warning = stdout.find("SAMPLE RATIO MISMATCH").expect("SRM warning");
    let table = stdout.find("arm  metric").expect("table");
    assert!(warning < table, "the warning comes above the table");
}

#[test]
fn missing_file_is_an_error() {
    let output = sim()
        .args(["report", "--no-files", "/nonexistent/events.jsonl"])
        .failure();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(stderr.contains("/nonexistent/events.jsonl"), "{stderr}");
    // One line, the cause said once (it was printed twice).
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(stderr.matches("(os error 2)").count(), 1, "{stderr}");
}
