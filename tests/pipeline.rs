//! Recipes: artifacts are built from simulated logs, cached, rebuilt on demand, and
//! trained on the log alone (the honesty test).

use crate::common::*;
use std::path::{Path, PathBuf};

/// A tiny world, a seminar experiment and one whose control is trained from its logs.
fn project(dir: &Path) {
    tiny_world_and_seminar(dir);
    std::fs::write(
        dir.join("trained.yml"),
        "name: trained\narms:\n  C:\n    kind: indexed\n    source:\n      train: dssm\n      logs_from:\n        - {experiment: seminar.yml, episodes: 600, seed: 1}\n      top_k: 20\n      seed: 1\n      dim: 16\n      epochs: 3\n  T1: {kind: random}\n",
    )
    .unwrap();
}

fn run_trained(dir: &Path, extra: &[&str]) -> String {
    let out = sim(&trained_run_args(extra), dir);
    assert!(out.status.success(), "{}", stderr(&out));
    stderr(&out)
}

/// Runs `experiment`, expecting a failure; its stderr.
fn failed_run(dir: &Path, experiment: &str) -> String {
    let args = [
        "run",
        "--experiment",
        experiment,
        "--config",
        "env.yml",
        "--episodes",
        "5",
        "--out",
        "o",
    ];
    let out = sim(&args, dir);
    assert!(!out.status.success(), "{experiment} ran");
    stderr(&out)
}

/// The single artifact folder in `cache/` (lock files and the neighbour cache aside).
fn artifact(dir: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir.join("cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.ends_with("neighbours") && !p.ends_with("worlds"))
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.pop().unwrap()
}

#[test]
fn artifacts_are_built_once_reused_and_rebuilt_identically() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let first = run_trained(dir.path(), &[]);
    assert!(first.contains("building"), "{first}");
    let recs = std::fs::read(artifact(dir.path()).join("recs.jsonl")).unwrap();
    assert!(!recs.is_empty());

    let second = run_trained(dir.path(), &[]);
    assert!(
        second.contains("cached") && !second.contains("building"),
        "{second}"
    );

    let rebuilt = run_trained(dir.path(), &["--rebuild"]);
    assert!(rebuilt.contains("building"), "{rebuilt}");
    assert_eq!(
        std::fs::read(artifact(dir.path()).join("recs.jsonl")).unwrap(),
        recs
    );
}

#[test]
fn a_changed_recipe_gets_a_new_artifact() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    run_trained(dir.path(), &[]);
    let text = std::fs::read_to_string(dir.path().join("trained.yml")).unwrap();
    std::fs::write(
        dir.path().join("trained.yml"),
        text.replace("top_k: 20", "top_k: 21"),
    )
    .unwrap();
    let again = run_trained(dir.path(), &[]);
    assert!(again.contains("building"), "{again}");
    let artifacts = std::fs::read_dir(dir.path().join("cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.ends_with("neighbours") && !p.ends_with("worlds"))
        .count();
    assert_eq!(artifacts, 2);
}

/// Honesty: `sim train dssm` given only the artifact's logs and the exported `tracks.json`
/// (ids, artists, titles: no embeddings, no user parameters) makes the same file.
#[test]
fn training_input_is_the_log_alone() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    run_trained(dir.path(), &[]);
    let artifact = artifact(dir.path());
    let mut logs: Vec<PathBuf> = std::fs::read_dir(artifact.join("logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    logs.sort();
    let export = sim(
        &["world", "export", "world", "--config", "env.yml"],
        dir.path(),
    );
    assert!(export.status.success(), "{}", stderr(&export));

    let mut args = vec!["train", "dssm", "--logs"];
    let log_args: Vec<String> = logs.iter().map(|p| p.display().to_string()).collect();
    args.extend(log_args.iter().map(String::as_str));
    args.extend([
        "--tracks",
        "world/tracks.json",
        "--top-k",
        "20",
        "--seed",
        "1",
        "--dim",
        "16",
        "--epochs",
        "3",
        "--out",
        "alone.jsonl",
    ]);
    let out = sim(&args, dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(dir.path().join("alone.jsonl")).unwrap(),
        std::fs::read(artifact.join("recs.jsonl")).unwrap()
    );
}

#[test]
fn a_recipe_that_simulates_its_own_experiment_is_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    std::fs::write(
        dir.path().join("loop.yml"),
        "name: loop\narms:\n  C:\n    kind: indexed\n    source:\n      train: dssm\n      logs_from:\n        - {experiment: loop.yml, episodes: 10}\n",
    )
    .unwrap();
    let err = failed_run(dir.path(), "loop.yml");
    assert!(err.contains("recipe cycle"), "{err}");
}

#[test]
fn a_spec_with_neither_file_nor_source_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    std::fs::write(
        dir.path().join("bad.yml"),
        "name: bad\narms:\n  C: {kind: indexed}\n",
    )
    .unwrap();
    let err = failed_run(dir.path(), "bad.yml");
    assert!(err.contains("needs `file`"), "{err}");
}

#[test]
fn every_shipped_experiment_loads() {
    let dir = root().join("experiments");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yml") {
            botify_sim::experiment::Experiment::load(&path)
                .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
            count += 1;
        }
    }
    assert!(count >= 5, "{count} experiment files");
}
