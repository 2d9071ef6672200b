//! The verdict that opens every report (ship / don't ship / inconclusive, how many more
//! users an inconclusive result needs) and the health check that refuses one: a sample
//! ratio mismatch, an arm with too few users, a paired log with missing partners, a run
//! stopped early. On seeded runs of the seminar lineup.

use crate::common::*;
use serde_json::Value;
use std::path::Path;

fn seminar(dir: &Path, out: &str, extra: &[&str]) {
    let mut args = vec![
        "run",
        "--experiment",
        "seminar",
        "--seed",
        "3",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    let done = sim(&args, dir);
    assert!(done.status.success(), "{}", stderr(&done));
}

/// `sim report ARGS --json --no-files`, the document.
fn report(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--json", "--no-files"]);
    let out = sim(&all, dir);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn verdict<'a>(ab: &'a Value, treatment: &str) -> &'a Value {
    ab["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["treatment"] == treatment)
        .unwrap_or_else(|| panic!("no verdict on {treatment}: {}", ab["verdicts"]))
}

/// Sticky artist beats random on mean time per session; with a guardrail forbidding any
/// increase of tracks per session (which sticky artist raises, surely) it is a don't ship;
/// the table's lines and the terminal open with the verdicts.
#[test]
fn ship_and_dont_ship_follow_the_primary_metric_and_the_guardrails() {
    let dir = tempfile::tempdir().unwrap();
    seminar(dir.path(), "out", &["--episodes", "3000"]);
    let ab = report(dir.path(), &["out"]);
    assert_eq!(verdict(&ab, "T1")["decision"], "ship");
    assert_eq!(verdict(&ab, "T1")["method"], "welch");
    // Two treatments: each verdict at 97.5 % (Bonferroni).
    assert_eq!(verdict(&ab, "T1")["confidence"], 0.975);
    let strict = report(
        dir.path(),
        &["out", "--guardrail", "mean_tracks_per_session=+0%"],
    );
    let v = verdict(&strict, "T1");
    assert_eq!(v["decision"], "dont_ship", "{v}");
    assert_eq!(v["guardrails"][0]["result"], "fail");
    assert!(
        v["line"]
            .as_str()
            .unwrap()
            .starts_with("Verdict on T1 vs C: DON'T SHIP"),
        "{v}"
    );
    let table = sim(&["report", "out", "--no-files"], dir.path());
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(
        text.starts_with("Verdict on T1 vs C: SHIP: mean_time_per_session"),
        "{text}"
    );
}

/// Top-pop's small gain on 800 episodes is not decided: the verdict says how many more
/// users per arm would detect an effect of the estimated size at 80 % power.
#[test]
fn an_inconclusive_verdict_says_how_many_more_users_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    seminar(dir.path(), "out", &["--episodes", "800"]);
    let ab = report(dir.path(), &["out"]);
    let v = verdict(&ab, "T2");
    assert_eq!(v["decision"], "inconclusive", "{v}");
    let more = v["more_users_per_arm"].as_u64().expect("a number of users");
    let n = ab["arms"][0]["users_with_sessions"].as_u64().unwrap();
    assert!(more > 0, "{v}");
    // Sized for 80 % power at the estimated effect: the needed total against today's
    // is ((z_0.9875 + z_0.8) se / effect)^2, from the row itself.
    let row = ab["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["treatment"] == "T2"
                && r["metric"] == "mean_time_per_session"
                && r["method"] == "welch"
        })
        .unwrap();
    let effect_abs =
        row["effect"].as_f64().unwrap() / 100.0 * row["control_mean"].as_f64().unwrap();
    let se = row["se"].as_f64().unwrap();
    let per_arm = (row["control_n"].as_f64().unwrap() + row["treatment_n"].as_f64().unwrap()) / 2.0;
    let needed = per_arm * ((2.241402727604947 + 0.8416212335729143) * se / effect_abs).powi(2);
    assert!(
        ((needed - per_arm) - more as f64).abs() <= 1.0,
        "{more} more against {needed} needed of {per_arm} ({n} in C)"
    );
    assert!(
        v["line"]
            .as_str()
            .unwrap()
            .contains(&format!("about {more} more users per arm"))
    );
}

/// A log whose arms do not match the split: no verdict, and the reason.
#[test]
fn a_sample_ratio_mismatch_refuses_a_verdict() {
    let dir = tempfile::tempdir().unwrap();
    seminar(dir.path(), "out", &["--episodes", "3000"]);
    // Drop every other T1 user: the split is then far from a third each.
    let text = std::fs::read_to_string(dir.path().join("out/events.jsonl")).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| {
            let e: Value = serde_json::from_str(l).unwrap();
            e["experiments"]["seminar"] != "T1" || e["user"].as_u64().unwrap().is_multiple_of(2)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.path().join("skewed.jsonl"), kept).unwrap();
    let ab = report(dir.path(), &["skewed.jsonl"]);
    assert_eq!(ab["srm"]["mismatch"], true);
    assert_eq!(ab["health"]["ok"], false);
    for v in ab["verdicts"].as_array().unwrap() {
        assert_eq!(v["decision"], "no_verdict");
        assert!(
            v["line"]
                .as_str()
                .unwrap()
                .contains("sample ratio mismatch"),
            "{v}"
        );
    }
}

/// A paired log that lost one session of a pair: no verdict, the reason names the pairs.
#[test]
fn a_paired_log_with_a_missing_partner_refuses_a_verdict() {
    let dir = tempfile::tempdir().unwrap();
    seminar(dir.path(), "out", &["--episodes", "600", "--paired"]);
    let text = std::fs::read_to_string(dir.path().join("out/events.jsonl")).unwrap();
    // Session 4 is pair 1's session under T1.
    let kept: String = text
        .lines()
        .filter(|l| !l.contains(r#""session":4,"#))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(kept.len() < text.len());
    std::fs::write(dir.path().join("lost.jsonl"), kept).unwrap();
    let ab = report(dir.path(), &["lost.jsonl"]);
    assert_eq!(ab["design"]["paired"], true);
    assert_eq!(ab["design"]["incomplete_pairs"], 1);
    let problems = ab["health"]["problems"].to_string();
    assert!(
        problems.contains("1 paired episodes miss the session of some arm"),
        "{problems}"
    );
    assert_eq!(verdict(&ab, "T1")["decision"], "no_verdict");
}

/// A run stopped early (its run.json says so): `sim report` of its folder gives no
/// verdict, and says why.
#[test]
fn a_run_stopped_early_refuses_a_verdict() {
    let dir = tempfile::tempdir().unwrap();
    seminar(dir.path(), "out", &["--episodes", "3000"]);
    let path = dir.path().join("out/run.json");
    let mut record: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    record["interrupted"] = Value::Bool(true);
    record["completed_episodes"] = 2048.into();
    std::fs::write(&path, serde_json::to_vec(&record).unwrap()).unwrap();
    let ab = report(dir.path(), &["out"]);
    let v = verdict(&ab, "T1");
    assert_eq!(v["decision"], "no_verdict");
    assert!(
        v["line"].as_str().unwrap().contains(
            "the run was interrupted after 2048 episodes: the logs are not the whole run"
        ),
        "{v}"
    );
}

/// The flags of the plan are checked: a metric given twice, a metric that is not one, a
/// threshold that is not one; each error names what is wrong.
#[test]
fn a_bad_plan_on_the_command_line_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    seminar(dir.path(), "out", &["--episodes", "200"]);
    let refused = |args: &[&str]| {
        let mut all = vec!["report", "out", "--no-files"];
        all.extend_from_slice(args);
        let out = sim(&all, dir.path());
        assert!(!out.status.success(), "{args:?} was accepted");
        stderr(&out)
    };
    let err = refused(&["--guardrail", "time=+1", "--guardrail", "time=-1"]);
    assert!(err.contains("--guardrail time=... is given twice"), "{err}");
    let err = refused(&["--guardrail", "happiness=+1%"]);
    assert!(
        err.contains("guardrails.happiness: unknown metric `happiness`"),
        "{err}"
    );
    let err = refused(&["--primary", "sessions", "--guardrail", "sessions=+1"]);
    assert!(err.contains("is the primary metric"), "{err}");
    let err = refused(&["--guardrail", "mean_request_latency=+2 parsecs"]);
    assert!(err.contains("2 parsecs"), "{err}");
}
