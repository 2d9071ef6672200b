//! The designs beyond independent arms, end to end on the seminar lineup of the default
//! world: paired arms (`sim run --paired`), CUPED with a pre-period (`--pre-days`), and
//! sequential monitoring over days. Statistical checks use fixed seeds and tolerances of a
//! few standard errors.

use crate::common::*;
use serde_json::Value;
use std::path::Path;

fn ab_json(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("ab.json"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    serde_json::from_str(&text).unwrap()
}

/// The row of `treatment` on `metric` by `method`.
fn row<'a>(ab: &'a Value, treatment: &str, metric: &str, method: &str) -> &'a Value {
    ab["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["treatment"] == treatment && r["metric"] == metric && r["method"] == method)
        .unwrap_or_else(|| panic!("no {method} row of {treatment} {metric}"))
}

fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

fn run(dir: &Path, out: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "run",
        "--experiment",
        "seminar",
        "--seed",
        "7",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    let done = sim(&args, dir);
    assert!(done.status.success(), "{}", stderr(&done));
    ab_json(&dir.join(out))
}

/// Paired arms, on the seminar lineup (C random, T1 sticky artist): in the paired log the
/// paired estimate is the Welch estimate of the same sessions, its interval covers it and
/// is narrower; an independent unpaired run with as many episodes per arm agrees with it
/// within three standard errors of their difference.
#[test]
fn paired_arms_narrow_the_interval_of_the_same_estimate() {
    let dir = tempfile::tempdir().unwrap();
    let paired = run(dir.path(), "paired", &["--episodes", "4000", "--paired"]);
    assert_eq!(paired["design"]["paired"], true);
    assert_eq!(paired["design"]["incomplete_pairs"], 0);
    assert_eq!(paired["design"]["decided_by"], "paired");
    assert!(
        paired["health"]["ok"].as_bool().unwrap(),
        "{}",
        paired["health"]
    );
    let metric = "mean_time_per_session";
    let p = row(&paired, "T1", metric, "paired");
    let w = row(&paired, "T1", metric, "welch");
    let (effect, lower, upper) = (f(p, "effect"), f(p, "lower"), f(p, "upper"));
    assert!(
        (effect - f(w, "effect")).abs() <= 1e-9 * effect.abs(),
        "{p}\n{w}"
    );
    assert!(lower < f(w, "effect") && f(w, "effect") < upper);
    assert!(
        upper - lower < f(w, "upper") - f(w, "lower"),
        "paired {p}\nwelch {w}"
    );
    let reduction = f(p, "variance_reduction");
    assert!(reduction > 0.0 && reduction < 1.0, "{reduction}");
    // Each arm played every episode: the same users, as many sessions.
    let arms = paired["arms"].as_array().unwrap();
    assert!(
        arms.iter()
            .all(|a| a["sessions"] == 4000 && a["users"] == arms[0]["users"])
    );

    // The unpaired design with the same sessions per arm: 3 arms x 4000 episodes.
    let unpaired = run(dir.path(), "unpaired", &["--episodes", "12000"]);
    let u = row(&unpaired, "T1", metric, "welch");
    let se_u = f(u, "se") / f(u, "control_mean") * 100.0;
    let se_p = f(p, "se") / f(p, "control_mean") * 100.0;
    let gap = f(u, "effect") - effect;
    assert!(
        gap.abs() < 3.0 * (se_u * se_u + se_p * se_p).sqrt(),
        "unpaired {} against paired {effect} (se {se_u}, {se_p})",
        f(u, "effect")
    );
}

/// A paired run's log: one session per arm per episode, tied by `pair` (the episode), with
/// session ids `episode * arms + arm`; every arm plays the episode's user and first track.
#[test]
fn a_paired_log_ties_the_arms_of_each_episode() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), "out", &["--episodes", "40", "--paired"]);
    let text = std::fs::read_to_string(dir.path().join("out/events.jsonl")).unwrap();
    let mut firsts: std::collections::BTreeMap<u64, Vec<(u64, u64, u64, String)>> =
        Default::default();
    let mut last_session = None;
    for line in text.lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        let pair = e["pair"].as_u64().expect("every event has a pair");
        assert_eq!(e["episode"], pair);
        let session = e["session"].as_u64().unwrap();
        assert_eq!(session / 3, pair, "session ids are episode * arms + arm");
        if last_session != Some(session) {
            let arm = e["experiments"]["seminar"].as_str().unwrap().to_string();
            firsts.entry(pair).or_default().push((
                session,
                e["user"].as_u64().unwrap(),
                e["track"].as_u64().unwrap(),
                arm,
            ));
            last_session = Some(session);
        }
    }
    assert_eq!(firsts.len(), 40);
    for (pair, sessions) in &firsts {
        let arms: Vec<&str> = sessions.iter().map(|s| s.3.as_str()).collect();
        assert_eq!(arms, ["C", "T1", "T2"], "pair {pair}");
        assert!(
            sessions
                .iter()
                .all(|s| (s.1, s.2) == (sessions[0].1, sessions[0].2)),
            "pair {pair}: the same user and first track under every arm: {sessions:?}"
        );
    }
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/run.json")).unwrap())
            .unwrap();
    assert_eq!(record["paired"], true);
    assert_eq!(record["completed_episodes"], 40);
}

/// The arm a user is assigned to plays a paired episode exactly as the unpaired run does:
/// same streams, same session.
#[test]
fn a_paired_episode_under_the_users_arm_is_the_unpaired_episode() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), "paired", &["--episodes", "60", "--paired"]);
    run(dir.path(), "unpaired", &["--episodes", "60"]);
    let strip = |line: &str| -> Value {
        let mut e: Value = serde_json::from_str(line).unwrap();
        for key in ["latency", "session", "pair"] {
            e.as_object_mut().unwrap().remove(key);
        }
        e
    };
    let unpaired: Vec<Value> = log_lines(&dir.path().join("unpaired/events.jsonl"))
        .iter()
        .map(|l| strip(l))
        .collect();
    let paired: Vec<Value> = log_lines(&dir.path().join("paired/events.jsonl"))
        .iter()
        .map(|l| strip(l))
        .filter(|e| {
            unpaired
                .iter()
                .any(|u| u["episode"] == e["episode"] && u["experiments"] == e["experiments"])
        })
        .collect();
    assert_eq!(paired, unpaired);
}

fn log_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// `--paired` refuses arms that cannot play an episode they were not assigned.
#[test]
fn pairing_refuses_remote_arms_and_the_console() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("remote.yml"),
        "name: r\narms:\n  C: {kind: random}\n  T1: {kind: remote, url: \"http://127.0.0.1:9\"}\n",
    )
    .unwrap();
    let out = sim(
        &["run", "--experiment", "remote.yml", "--paired"],
        dir.path(),
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("--paired: arm T1 asks a remote service") && err.contains("murmur3"),
        "{err}"
    );
    let out = sim(
        &["run", "--remote", "http://127.0.0.1:9", "--paired"],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot be used with"),
        "{}",
        stderr(&out)
    );
}

/// CUPED with a pre-period on the seminar lineup: the adjusted estimate agrees with the
/// raw one within three of its standard errors, its variance is lower, the design says
/// how many users have a pre-period and what theta is; `sim report` of the run's folder
/// finds the pre-period by itself and gives the same table, and `--covariate` on the log
/// alone too.
#[test]
fn cuped_with_a_pre_period_lowers_the_variance() {
    let dir = tempfile::tempdir().unwrap();
    let ab = run(
        dir.path(),
        "out",
        &["--episodes", "3000", "--pre-days", "7"],
    );
    let metric = "mean_time_per_session";
    let c = row(&ab, "T1", metric, "cuped");
    let w = row(&ab, "T1", metric, "welch");
    let se = f(w, "se") / f(w, "control_mean") * 100.0;
    assert!(
        (f(c, "effect") - f(w, "effect")).abs() < 3.0 * se,
        "cuped {c}\nwelch {w}"
    );
    let reduction = f(c, "variance_reduction");
    assert!(reduction > 0.05 && reduction < 1.0, "{reduction}");
    let covariate = &ab["design"]["covariate"];
    assert_eq!(covariate["experiment"], "pre-period");
    assert_eq!(covariate["sessions"], 21000);
    // 21,000 pre-period sessions over 10,000 users: most users have one.
    let coverage = f(covariate, "coverage");
    assert!(coverage > 0.8 && coverage < 1.0, "{coverage}");
    let theta = covariate["theta"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t[0] == metric)
        .unwrap()[1]
        .as_f64()
        .unwrap();
    assert!(
        theta > 0.0,
        "session time of a user is correlated with itself: {theta}"
    );
    assert_eq!(ab["design"]["decided_by"], "cuped");

    let again = sim(&["report", "out", "--no-files", "--json"], dir.path());
    assert!(again.status.success(), "{}", stderr(&again));
    let again: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["rows"], ab["rows"]);
    let skipped = again["log"]["skipped_files"].to_string();
    assert!(
        skipped.contains("events-pre.jsonl") && skipped.contains("pre-period"),
        "{skipped}"
    );
    let by_flag = sim(
        &[
            "report",
            "out/events.jsonl",
            "--covariate",
            "out/events-pre.jsonl",
            "--no-files",
            "--json",
        ],
        dir.path(),
    );
    let by_flag: Value = serde_json::from_slice(&by_flag.stdout).unwrap();
    assert_eq!(by_flag["rows"], ab["rows"]);
}

/// `--covariate` with logs of several experiments, none the analysed one, is an error
/// naming them; a log that is not there is an error naming it.
#[test]
fn a_covariate_log_must_say_which_experiment_is_the_pre_period() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), "a", &["--episodes", "300"]);
    let ceiling = sim(
        &[
            "run",
            "--experiment",
            "ceiling",
            "--episodes",
            "100",
            "--out",
            "b",
        ],
        dir.path(),
    );
    assert!(ceiling.status.success(), "{}", stderr(&ceiling));
    std::fs::write(
        dir.path().join("mixed.jsonl"),
        [
            std::fs::read_to_string(dir.path().join("b/events.jsonl")).unwrap(),
            std::fs::read_to_string(dir.path().join("a/events.jsonl"))
                .unwrap()
                .replace("\"seminar\"", "\"other\""),
        ]
        .concat(),
    )
    .unwrap();
    let out = sim(
        &[
            "report",
            "a/events.jsonl",
            "--covariate",
            "mixed.jsonl",
            "--no-files",
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("mixed.jsonl")
            && err.contains("`ceiling`, `other`")
            && err.contains("none is `seminar`"),
        "{err}"
    );
    let out = sim(
        &[
            "report",
            "a/events.jsonl",
            "--covariate",
            "missing.jsonl",
            "--no-files",
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("missing.jsonl"), "{}", stderr(&out));
}

/// Sequential monitoring over four days: the by-day report looks at every session so far
/// after each day with the always-valid interval; its last look decides as the run's own
/// report does; each look says whether stopping there is safe.
#[test]
fn a_multi_day_run_is_monitored_with_always_valid_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let ab = run(dir.path(), "out", &["--episodes", "1500", "--days", "4"]);
    assert_eq!(ab["design"]["decided_by"], "sequential");
    let by_day: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/by_day.json")).unwrap())
            .unwrap();
    let days = by_day.as_array().unwrap();
    assert_eq!(days.len(), 4);
    let mut users = 0;
    for day in days {
        let so_far = &day["so_far"];
        assert_eq!(so_far["design"]["decided_by"], "sequential");
        // One tuning for every look: the whole log's.
        assert_eq!(
            so_far["design"]["sequential_tuning"],
            ab["design"]["sequential_tuning"]
        );
        let seen = so_far["arms"][0]["users_with_sessions"].as_u64().unwrap();
        assert!(seen > users, "the looks grow");
        users = seen;
        assert!(day["analysis"]["verdicts"].as_array().unwrap().is_empty());
    }
    assert_eq!(days[3]["so_far"]["verdicts"], ab["verdicts"]);
    assert_eq!(days[3]["so_far"]["rows"], ab["rows"]);
    let md = std::fs::read_to_string(dir.path().join("out/by_day.md")).unwrap();
    let looks: Vec<&str> = md.lines().filter(|l| l.starts_with("- day ")).collect();
    assert_eq!(looks.len(), 4 * 2, "a line per day and treatment");
    assert!(
        looks
            .iter()
            .all(|l| l.contains("stopping here is safe") || l.contains("keep going")),
        "{looks:?}"
    );
    // The always-valid interval is wider than Welch's on the same sessions.
    let s = row(&ab, "T1", "mean_time_per_session", "sequential");
    let w = row(&ab, "T1", "mean_time_per_session", "welch");
    assert!(f(s, "upper") - f(s, "lower") > f(w, "upper") - f(w, "lower"));
    assert_eq!(f(s, "effect"), f(w, "effect"));
}
