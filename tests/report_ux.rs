//! `sim report` as a person reads it: guardrails apart and judged in their direction,
//! a terminal table that fits 120 columns, one mean session time in table and chart.

use crate::common::Finish;
use std::fmt::Write as _;
use std::process::Command;

/// A botify-style log: `users` users per arm; user `u` has `u % 3 + 1` sessions of
/// `u % 4 + 2` events, so the user-level mean time per session differs from the mean
/// pooled over sessions. Arm `T1` answers 10 times slower (latency) than the others.
fn log(arms: &[&str], users: u64) -> String {
    let mut out = String::new();
    let mut user = 0u64;
    for arm in arms {
        let latency = if *arm == "T1" { 0.01 } else { 0.001 };
        for _ in 0..users {
            user += 1;
            for s in 0..user % 3 + 1 {
                let events = user % 4 + 2;
                for i in 0..events {
                    let ts = 1_700_000_000_000 + user * 1000 + s * 100 + i;
                    let message = if i + 1 == events { "last" } else { "next" };
                    let time = if i == 0 {
                        1.0
                    } else {
                        ((user * 7 + s * 3 + i) % 10) as f64 / 10.0
                    };
                    let jitter = ((user * 13 + i) % 5) as f64 * latency / 10.0;
                    writeln!(
                        out,
                        r#"{{"message":"{message}","timestamp":{ts},"user":{user},"track":{i},"time":{time},"latency":{},"recommendation":null,"experiments":{{"ab":"{arm}"}}}}"#,
                        latency + jitter
                    )
                    .unwrap();
                }
            }
        }
    }
    out
}

#[test]
fn guardrails_apart_table_fits_and_one_mean_session_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.json");
    std::fs::write(&path, log(&["C", "T1", "T2"], 60)).unwrap();
    let out = dir.path().join("out");
    let output = Command::new(env!("CARGO_BIN_EXE_sim"))
        .arg("report")
        .arg(&path)
        .args(["--guardrail", "mean_request_latency=+5%"])
        .arg("--out")
        .arg(&out)
        .success();
    let stdout = String::from_utf8(output.stdout).unwrap();
    // The tables and their notes; the lines above saying what was read, and the
    // verdicts, stay whole.
    let tables = &stdout[stdout.find("\nPrimary metric").expect("tables")..];
    for line in tables.lines() {
        assert!(line.chars().count() <= 120, "too wide: {line}");
    }
    let (primary, guardrails) = stdout
        .split_once("Guardrails (decide: pass when the interval stays inside the threshold)")
        .unwrap_or_else(|| panic!("no guardrail section: {stdout}"));
    assert!(
        primary.contains("Primary metric: mean_time_per_session (decides; an increase is good)")
    );
    assert!(
        !primary
            .lines()
            .any(|l| l.contains("mean_request_latency") && l.starts_with("T1 ")),
        "{primary}"
    );
    let latency = guardrails
        .lines()
        .find(|l| l.starts_with("T1 ") && l.contains("mean_request_latency"))
        .unwrap_or_else(|| panic!("{guardrails}"));
    assert!(
        latency.ends_with("fail"),
        "10x slower fails a +5% guardrail: {latency}"
    );
    assert!(guardrails.contains("wall time"), "{guardrails}");
    let verdict = stdout
        .lines()
        .find(|l| l.starts_with("Verdict on T1 vs C"))
        .unwrap_or_else(|| panic!("{stdout}"));
    // 60 users an arm: the health check refuses a verdict, and says why.
    assert!(
        verdict
            .contains("NO VERDICT: arm C has 60 users with finished sessions, fewer than the 100"),
        "{verdict}"
    );

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let section = &html[html.find("<section id=\"guardrails\">").unwrap()..];
    assert!(section.contains("<tr class=\"worse\"><td>T1</td><td>mean_request_latency</td>"));

    // The running-mean chart ends at the table's mean_time_per_session of every arm.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("ab.json")).unwrap()).unwrap();
    let svg = std::fs::read_to_string(out.join("running_mean.svg")).unwrap();
    let mut pooled_differs = false;
    for arm in json["arms"].as_array().unwrap() {
        let name = arm["treatment"].as_str().unwrap();
        let mean = arm["metrics"]["mean_time_per_session"]["mean"]
            .as_f64()
            .unwrap();
        // As the table prints it (4 significant digits), not more.
        let shown = botify_sim::report::render::num(mean);
        let label = format!("{name} (final {shown})");
        assert!(
            svg.contains(&label),
            "{label} not in the running-mean chart"
        );
        assert!(
            stdout.contains(&format!(" {shown} ")),
            "{shown} not in the table"
        );
        // The mean pooled over sessions, which the chart must not draw.
        let time = &arm["metrics"]["time"];
        let pooled = time["mean"].as_f64().unwrap() * time["n"].as_f64().unwrap()
            / arm["sessions"].as_f64().unwrap();
        pooled_differs |= format!("{pooled:.4}") != format!("{mean:.4}");
    }
    assert!(pooled_differs, "the log must tell the two means apart");
}
