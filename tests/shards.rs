//! `sim run --shard K/N` + `sim merge` rebuild the single-machine run; a failed shard is
//! rerun alone; `sim report` reads shard logs directly; `--shard auto` reads the scheduler.

use crate::common::*;
use std::path::Path;
use std::process::Command;

const EPISODES: &str = "1500";

fn run(dir: &Path, out: &str, extra: &[&str]) -> std::process::Output {
    let config = small_world_config(dir);
    let experiment = root().join("experiments/seminar.yml");
    let mut args = vec![
        "run",
        "--experiment",
        experiment.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--episodes",
        EPISODES,
        "--out",
        out,
        "--cache-dir",
        "cache",
    ];
    if !extra.contains(&"--seed") {
        args.extend(["--seed", "5"]);
    }
    args.extend_from_slice(extra);
    sim(&args, dir)
}

fn ok(out: std::process::Output) -> std::process::Output {
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

fn run_shards(dir: &Path, count: u32) {
    for k in 0..count {
        let shard = format!("{k}/{count}");
        let workers = if k % 2 == 0 { "1" } else { "2" };
        ok(run(
            dir,
            &format!("s{k}"),
            &["--shard", &shard, "--workers", workers],
        ));
    }
}

fn merge(dir: &Path, inputs: &[&str], out: &str) -> std::process::Output {
    let mut args = vec!["merge"];
    args.extend_from_slice(inputs);
    args.extend_from_slice(&["--out", out]);
    sim(&args, dir)
}

fn run_json(path: &Path) -> serde_json::Map<String, serde_json::Value> {
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    value.as_object().unwrap().clone()
}

/// The A/B rows of `ab.csv` but latency (the one measure that differs between runs) and
/// the Holm columns (adjusted over every measure, latency included).
fn ab_rows_but_latency(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .filter(|l| !l.contains("latency"))
        .map(|l| {
            l.split(',')
                .zip(&header)
                .filter(|(_, h)| !h.contains("holm"))
                .map(|(v, _)| v)
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

#[test]
fn four_shards_merged_equal_the_single_run_and_report_reads_them_directly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(run(d, "single", &[]));
    run_shards(d, 4);
    let shard_sizes: Vec<usize> = (0..4)
        .map(|k| log_without_latency(&d.join(format!("s{k}/events.jsonl"))).len())
        .collect();
    assert!(shard_sizes.iter().all(|&n| n > 0), "{shard_sizes:?}");
    // Inputs in any order, as folders or log files.
    let merged = ok(merge(d, &["s2", "s0/events.jsonl", "s3", "s1"], "merged"));
    // The merged A/B table: plain into a pipe, coloured when `--color always` says so.
    let table = String::from_utf8_lossy(&merged.stdout);
    assert!(table.contains("arm") && !table.contains('\x1b'), "{table}");
    let coloured = ok(merge(
        d,
        &["s0", "s1", "s2", "s3", "--color", "always"],
        "coloured",
    ));
    let table = String::from_utf8_lossy(&coloured.stdout);
    assert!(table.contains("\x1b["), "{table}");
    let single = log_without_latency(&d.join("single/events.jsonl"));
    assert_eq!(single.len(), shard_sizes.iter().sum::<usize>());
    assert_eq!(single, log_without_latency(&d.join("merged/events.jsonl")));

    let (mut a, mut b) = (
        run_json(&d.join("single/run.json")),
        run_json(&d.join("merged/run.json")),
    );
    assert_eq!(b["merged_from"].as_array().unwrap().len(), 4);
    for key in [
        "wall_seconds",
        "report_seconds",
        "workers",
        "merged_from",
        "git_commit",
    ] {
        a.remove(key);
        b.remove(key);
    }
    assert_eq!(a, b, "run.json equal to the last bit, timings aside");

    // `sim report` of the four shard logs = the report of the single run.
    let shard_logs: Vec<String> = (0..4).map(|k| format!("s{k}/events.jsonl")).collect();
    let mut args = vec!["report"];
    args.extend(shard_logs.iter().map(String::as_str));
    args.extend(["--out", "from-shards"]);
    ok(sim(&args, d));
    let single_rows = ab_rows_but_latency(&d.join("single/ab.csv"));
    assert!(single_rows.len() >= 4, "{single_rows:?}");
    assert_eq!(
        single_rows,
        ab_rows_but_latency(&d.join("from-shards/ab.csv"))
    );
    assert_eq!(single_rows, ab_rows_but_latency(&d.join("merged/ab.csv")));
}

#[test]
fn a_failed_shard_is_named_and_its_rerun_replaces_only_its_part() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(run(d, "single", &[]));
    run_shards(d, 3);
    let untouched: Vec<Vec<u8>> = [0, 2]
        .iter()
        .map(|k| std::fs::read(d.join(format!("s{k}/events.jsonl"))).unwrap())
        .collect();
    // Shard 1 "failed": its folder is gone.
    std::fs::remove_dir_all(d.join("s1")).unwrap();
    let failed = merge(d, &["s0", "s2"], "merged");
    assert!(!failed.status.success());
    let message = stderr(&failed);
    assert!(message.contains("missing shard(s) 1/3"), "{message}");
    assert!(
        !d.join("merged/events.jsonl").exists(),
        "no merged log from a partial set"
    );

    ok(run(d, "s1", &["--shard", "1/3"]));
    ok(merge(d, &["s0", "s1", "s2"], "merged"));
    assert_eq!(
        log_without_latency(&d.join("single/events.jsonl")),
        log_without_latency(&d.join("merged/events.jsonl"))
    );
    for (k, before) in [0, 2].iter().zip(untouched) {
        assert_eq!(
            std::fs::read(d.join(format!("s{k}/events.jsonl"))).unwrap(),
            before
        );
    }
}

#[test]
fn merge_refuses_cut_duplicated_mixed_or_unsharded_runs_and_keeps_the_old_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_shards(d, 2);
    ok(merge(d, &["s0", "s1"], "merged"));
    let good = std::fs::read(d.join("merged/events.jsonl")).unwrap();
    let expect_error = |inputs: &[&str], needle: &str| {
        let out = merge(d, inputs, "merged");
        assert!(!out.status.success(), "{inputs:?} merged");
        let message = stderr(&out);
        assert!(message.contains(needle), "{inputs:?}: {message}");
        assert_eq!(message.trim().lines().count(), 1, "{message}");
        assert_eq!(std::fs::read(d.join("merged/events.jsonl")).unwrap(), good);
    };
    expect_error(&["s0", "s0"], "given twice");
    ok(run(d, "single", &[]));
    expect_error(&["s0", "single"], "not a shard's run");
    ok(run(d, "other-seed", &["--shard", "1/2", "--seed", "6"]));
    expect_error(&["s0", "other-seed"], "differ in \"seed\"");
    // A shard log cut after its run.json was written (lost lines).
    let log = d.join("s1/events.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    let keep = text.lines().count() / 2;
    let cut: String = text.lines().take(keep).map(|l| format!("{l}\n")).collect();
    std::fs::write(&log, cut).unwrap();
    expect_error(
        &["s0", "s1"],
        "s1/events.jsonl: shard 1/2's log was changed after its run",
    );
    std::fs::write(&log, "{\"message\":\"next\"}\n").unwrap();
    expect_error(
        &["s0", "s1"],
        "s1/events.jsonl: shard 1/2's log was changed after its run",
    );
    // One value edited, every line still a valid event of the run: the hash names the shard.
    std::fs::write(&log, &text).unwrap();
    ok(merge(d, &["s0", "s1"], "merged"));
    let edited = text.replacen("\"time\":0.", "\"time\":1.", 1);
    assert_ne!(edited, text);
    std::fs::write(&log, &edited).unwrap();
    expect_error(
        &["s1", "s0"],
        "s1/events.jsonl: shard 1/2's log was changed after its run",
    );
    std::fs::write(&log, &text).unwrap();
}

/// `sim merge --out` into a shard's folder (or any folder holding a shard's run) would
/// replace that shard: refused before anything is read, the shard left whole.
#[test]
fn merge_refuses_an_out_that_holds_a_shard() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_shards(d, 2);
    let before = std::fs::read(d.join("s0/events.jsonl")).unwrap();
    for (out, needle) in [
        ("s0", "--out s0 is the folder of the shard s0"),
        ("./s1/", "--out ./s1/ is the folder of the shard s1"),
    ] {
        let result = merge(d, &["s0", "s1"], out);
        let err = stderr(&result);
        assert_eq!(result.status.code(), Some(1), "{err}");
        assert!(err.contains(needle), "{err}");
    }
    // A copy of a shard elsewhere, given as --out.
    std::fs::create_dir(d.join("copy")).unwrap();
    std::fs::copy(d.join("s0/run.json"), d.join("copy/run.json")).unwrap();
    let result = merge(d, &["s0", "s1"], "copy");
    let err = stderr(&result);
    assert_eq!(result.status.code(), Some(1), "{err}");
    assert!(err.contains("--out copy holds a shard's run"), "{err}");
    assert_eq!(std::fs::read(d.join("s0/events.jsonl")).unwrap(), before);
}

#[test]
fn shard_auto_reads_kubernetes_and_slurm_and_bad_shards_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(run(d, "fixed", &["--shard", "1/3"]));
    let config = small_world_config(d);
    let experiment = root().join("experiments/seminar.yml");
    let auto = |out: &str, env: &[(&str, &str)], extra: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sim"));
        command
            .current_dir(d)
            .env_remove("JOB_COMPLETION_INDEX")
            .env_remove("SLURM_ARRAY_TASK_ID")
            .args(["run", "--experiment", experiment.to_str().unwrap()])
            .args(["--config", config.to_str().unwrap(), "--episodes", EPISODES])
            .args([
                "--seed",
                "5",
                "--out",
                out,
                "--cache-dir",
                "cache",
                "--shard",
                "auto",
            ])
            .args(extra)
            .envs(env.iter().copied());
        command.output().unwrap()
    };
    ok(auto(
        "k8s",
        &[("JOB_COMPLETION_INDEX", "1")],
        &["--shards", "3"],
    ));
    ok(auto(
        "slurm",
        &[
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ],
        &[],
    ));
    let fixed = log_without_latency(&d.join("fixed/events.jsonl"));
    assert_eq!(fixed, log_without_latency(&d.join("k8s/events.jsonl")));
    assert_eq!(fixed, log_without_latency(&d.join("slurm/events.jsonl")));

    let missing = auto("none", &[], &["--shards", "3"]);
    assert!(
        stderr(&missing).contains("JOB_COMPLETION_INDEX"),
        "{}",
        stderr(&missing)
    );
    let no_count = auto("none", &[("JOB_COMPLETION_INDEX", "1")], &[]);
    assert!(
        stderr(&no_count).contains("--shards N"),
        "{}",
        stderr(&no_count)
    );
    for bad in ["3/3", "x/3", "1-3"] {
        let out = run(d, "bad", &["--shard", bad]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains(bad), "{bad}: {}", stderr(&out));
    }
}
