//! `sim run` is reproducible: same seed, any number of workers, same log (but `latency`).

use crate::common::*;

fn run(dir: &std::path::Path, out: &str, workers: &str, seed: &str) -> Vec<String> {
    let mut args = ceiling_on_small_world(dir, "run");
    args.extend(["--episodes", "300", "--seed", seed, "--workers", workers]);
    args.extend(["--out", out]);
    let result = sim(&args, dir);
    assert!(result.status.success(), "{}", stderr(&result));
    log_without_latency(&dir.join(out).join("events.jsonl"))
}

#[test]
fn same_seed_gives_the_same_log_for_one_or_two_workers() {
    let dir = tempfile::tempdir().unwrap();
    let a = run(dir.path(), "a", "1", "9");
    let b = run(dir.path(), "b", "2", "9");
    let c = run(dir.path(), "c", "2", "9");
    assert!(a.len() > 600, "a 300-episode log has more than 600 events");
    assert_eq!(a, b);
    assert_eq!(b, c);
    let other_seed = run(dir.path(), "d", "2", "10");
    assert_ne!(a, other_seed);
}

#[test]
fn run_json_records_what_was_run() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), "a", "2", "3");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("a/run.json")).unwrap())
            .unwrap();
    assert_eq!(record["seed"], 3);
    assert_eq!(record["episodes"], 300);
    assert_eq!(record["completed_episodes"], 300);
    assert_eq!(record["experiment"]["name"], "ceiling");
    assert_eq!(record["arms"].as_array().unwrap().len(), 4);
}

#[test]
fn processes_is_an_alias_of_workers_and_zero_episodes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut base = ceiling_on_small_world(dir.path(), "run");
    base.extend(["--out", "o"]);
    let mut args = base.clone();
    args.extend(["--episodes", "5", "--processes", "2"]);
    assert!(sim(&args, dir.path()).status.success());
    let mut args = base;
    args.extend(["--episodes", "0"]);
    assert!(!sim(&args, dir.path()).status.success());
}
