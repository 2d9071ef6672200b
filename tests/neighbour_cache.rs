//! The neighbour sets on disk: written by the first run (or `sim prepare`), read by the
//! next, recomputed when damaged or with `--rebuild`, and the log the same every time.

use crate::common::*;
use std::path::{Path, PathBuf};

fn run(dir: &Path, out: &str, extra: &[&str]) -> (String, Vec<String>) {
    let mut args = ceiling_on_small_world(dir, "run");
    args.extend(["--episodes", "400", "--out", out, "--cache-dir", "cache"]);
    args.extend_from_slice(extra);
    let result = sim(&args, dir);
    assert!(result.status.success(), "{}", stderr(&result));
    (
        stderr(&result),
        log_without_latency(&dir.join(out).join("events.jsonl")),
    )
}

fn cache_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir.join("cache/neighbours"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect()
}

#[test]
fn written_once_read_after_and_recomputed_when_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (first, log) = run(d, "a", &[]);
    assert!(first.contains("computed in"), "{first}");
    let files = cache_files(d);
    assert_eq!(files.len(), 1, "{files:?}");
    let good = std::fs::read(&files[0]).unwrap();

    let (second, again) = run(d, "b", &[]);
    assert!(second.contains("read from"), "{second}");
    assert_eq!(log, again);

    let mut damaged = good.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 0x10;
    std::fs::write(&files[0], damaged).unwrap();
    let (third, after_damage) = run(d, "c", &[]);
    let warnings: Vec<&str> = third.lines().filter(|l| l.starts_with("warning")).collect();
    assert_eq!(warnings.len(), 1, "{third}");
    assert!(warnings[0].contains("content hash"), "{third}");
    assert_eq!(log, after_damage);
    assert_eq!(
        std::fs::read(&files[0]).unwrap(),
        good,
        "rewritten as computed"
    );

    let (rebuilt, _) = run(d, "d", &["--rebuild"]);
    assert!(rebuilt.contains("computed in"), "{rebuilt}");
}

#[test]
fn prepare_fills_the_cache_that_runs_then_only_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut prepare = ceiling_on_small_world(d, "prepare");
    prepare.extend(["--cache-dir", "cache"]);
    let prepared = sim(&prepare, d);
    assert!(prepared.status.success(), "{}", stderr(&prepared));
    assert_eq!(cache_files(d).len(), 1);
    let (shard, _) = run(d, "s", &["--shard", "0/2"]);
    assert!(shard.contains("read from"), "{shard}");
    assert!(!shard.contains("computed"), "{shard}");
}

#[test]
fn bench_end_to_end_times_a_cold_and_a_warm_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = small_world_config(d);
    let out = sim(
        &[
            "bench",
            "--end-to-end",
            "--config",
            config.to_str().unwrap(),
            "--experiment",
            root().join("experiments/seminar.yml").to_str().unwrap(),
            "--episodes",
            "300",
            "--repeats",
            "1",
        ],
        d,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "cold cache: sim run 300 episodes",
        "warm cache: sim run 300 episodes",
        "report step",
    ] {
        assert!(text.contains(line), "{text}");
    }
}
