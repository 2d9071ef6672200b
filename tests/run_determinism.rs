//! `sim run` is reproducible: same seed, any number of workers, same log (but `latency`).

use crate::common::*;

fn run(dir: &std::path::Path, out: &str, workers: &str, seed: &str) -> Vec<String> {
    run_episodes(dir, out, workers, seed, "300")
}

fn run_episodes(
    dir: &std::path::Path,
    out: &str,
    workers: &str,
    seed: &str,
    episodes: &str,
) -> Vec<String> {
    let mut args = ceiling_on_small_world(dir, "run");
    args.extend(["--episodes", episodes, "--seed", seed, "--workers", workers]);
    args.extend(["--out", out]);
    let result = sim(&args, dir);
    assert!(result.status.success(), "{}", stderr(&result));
    log_without_latency(&dir.join(out).join("events.jsonl"))
}

/// One, two and three workers give one log: 3,000 episodes are three blocks of 1,024
/// for one or two workers and two of 1,536 for three, each block cut into a different
/// number of chunks run on different threads; a draw that depended on any of that (a
/// stream per block, chunk or thread rather than per episode) would differ. Episodes
/// are logged in order, each once, and `run.json` records the workers asked for.
#[test]
fn same_seed_gives_the_same_log_for_any_number_of_workers() {
    let dir = tempfile::tempdir().unwrap();
    let a = run_episodes(dir.path(), "a", "1", "9", "3000");
    let b = run_episodes(dir.path(), "b", "2", "9", "3000");
    let c = run_episodes(dir.path(), "c", "3", "9", "3000");
    let again = run_episodes(dir.path(), "again", "2", "9", "3000");
    assert!(
        a.len() > 6000,
        "a 3000-episode log has more than 6000 events"
    );
    assert_eq!(a, b, "1 and 2 workers");
    assert_eq!(a, c, "1 and 3 workers");
    assert_eq!(b, again, "the same command twice");
    let episodes: Vec<u64> = a
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["episode"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let mut distinct = episodes.clone();
    distinct.dedup();
    assert_eq!(distinct, (0..3000).collect::<Vec<u64>>());
    for (out, workers) in [("a", 1), ("b", 2), ("c", 3)] {
        let record: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(out).join("run.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(record["workers"], workers);
    }
    let other_seed = run_episodes(dir.path(), "d", "2", "10", "3000");
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
