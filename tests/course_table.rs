//! The course table's pieces end to end on a small world: `no_repeat` policies, the
//! `mf` and `i2i` trainers as commands (deterministic across thread counts) and as
//! recipes, and the errors of recipes that do not fit their spec.

use crate::common::*;
use std::collections::{HashMap, HashSet};
use std::path::Path;

const SEMINAR: &str = "name: seminar\narms:\n  C: {kind: random}\n  T1: {kind: sticky_artist}\n  T2: {kind: top_pop, k: 100}\n";

/// Runs `experiment` (YAML text) on the small world; returns the run's folder.
fn run(dir: &Path, experiment: &str, episodes: &str) -> std::process::Output {
    std::fs::write(dir.join("seminar.yml"), SEMINAR).unwrap();
    std::fs::write(dir.join("exp.yml"), experiment).unwrap();
    let config = small_world_config(dir);
    sim(
        &[
            "run",
            "--experiment",
            "exp.yml",
            "--config",
            config.to_str().unwrap(),
            "--episodes",
            episodes,
            "--cache-dir",
            "cache",
            "--out",
            "out",
        ],
        dir,
    )
}

/// Tracks of each session of a log: the first track, then every answer.
fn session_tracks(log: &Path) -> HashMap<u64, (String, Vec<u64>)> {
    let mut sessions: HashMap<u64, (String, Vec<u64>)> = HashMap::new();
    for line in std::fs::read_to_string(log).unwrap().lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        let arm = e["experiments"]["exp"].as_str().unwrap().to_string();
        let entry = sessions
            .entry(e["session"].as_u64().unwrap())
            .or_insert((arm, Vec::new()));
        entry.1.push(e["track"].as_u64().unwrap());
    }
    sessions
}

#[test]
fn no_repeat_arms_never_play_a_track_twice_in_a_session() {
    let dir = tempfile::tempdir().unwrap();
    // Sticky artist without repeats keeps sessions long: repeats would show up.
    let experiment = "name: exp\narms:\n  C: {kind: random, no_repeat: true}\n  T1: {kind: sticky_artist, no_repeat: true}\n  T2: {kind: top_pop, k: 5, no_repeat: true}\n  T3: {kind: sticky_artist}\n";
    let out = run(dir.path(), experiment, "2000");
    assert!(out.status.success(), "{}", stderr(&out));
    let sessions = session_tracks(&dir.path().join("out/events.jsonl"));
    let mut repeats_without_the_rule = 0;
    let mut long_top_pop = 0;
    for (arm, tracks) in sessions.values() {
        let distinct = tracks.iter().collect::<HashSet<_>>().len();
        if arm == "T3" {
            repeats_without_the_rule += tracks.len() - distinct;
        } else {
            assert_eq!(distinct, tracks.len(), "arm {arm} repeated: {tracks:?}");
        }
        // Top-pop of 5: beyond the 5 (and the first track) answers come from the fallback.
        if arm == "T2" && tracks.len() > 7 {
            long_top_pop += 1;
        }
    }
    assert!(repeats_without_the_rule > 100, "{repeats_without_the_rule}");
    assert!(long_top_pop > 0, "some top-pop sessions outlive the list");
}

#[test]
fn mf_and_i2i_recipes_feed_indexed_and_contextual_arms() {
    let dir = tempfile::tempdir().unwrap();
    let experiment = "name: exp\narms:\n  C: {kind: random}\n  T1:\n    kind: indexed\n    no_repeat: true\n    source: {train: mf, logs_from: [{experiment: seminar.yml, episodes: 3000, seed: 1}], top_k: 20, seed: 1}\n  T2:\n    kind: contextual\n    source: {train: i2i, logs_from: [{experiment: seminar.yml, episodes: 3000, seed: 1}], top_k: 10, one_per_artist: true}\n";
    let out = run(dir.path(), experiment, "1500");
    assert!(out.status.success(), "{}", stderr(&out));
    let cache = dir.path().join("cache");
    let artifacts: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        // The neighbour cache lives beside the artifacts.
        .filter(|p| p.is_dir() && !p.ends_with("neighbours") && !p.ends_with("worlds"))
        .collect();
    assert_eq!(artifacts.len(), 2, "{artifacts:?}");
    let mut kinds = Vec::new();
    for artifact in artifacts {
        let recs = std::fs::read_to_string(artifact.join("recs.jsonl")).unwrap();
        let first: serde_json::Value = serde_json::from_str(recs.lines().next().unwrap()).unwrap();
        let summary: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(artifact.join("recs.summary.json")).unwrap(),
        )
        .unwrap();
        kinds.push(summary["trainer"].as_str().unwrap().to_string());
        if summary["trainer"] == "i2i" {
            assert!(first["recommendations"].as_array().unwrap().len() <= 10);
        } else {
            assert_eq!(first["tracks"].as_array().unwrap().len(), 20);
        }
    }
    kinds.sort();
    assert_eq!(kinds, ["i2i", "mf"]);
}

#[test]
fn a_recipe_that_does_not_fit_its_spec_is_an_error_naming_the_arm() {
    let dir = tempfile::tempdir().unwrap();
    let experiment = "name: exp\narms:\n  C: {kind: random}\n  T1:\n    kind: contextual\n    source: {train: mf, logs_from: [{experiment: seminar.yml, episodes: 10}]}\n";
    let out = run(dir.path(), experiment, "10");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("arm T1") && err.contains("must be `train: i2i`"),
        "{err}"
    );
    let experiment = "name: exp\narms:\n  C: {kind: random}\n  T1:\n    kind: indexed\n    source: {train: mf, one_per_artist: true, logs_from: [{experiment: seminar.yml, episodes: 10}]}\n";
    let out = run(dir.path(), experiment, "10");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("`one_per_artist` is an option of `train: i2i` only"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn mf_and_i2i_commands_give_the_same_bytes_for_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        SEMINAR.replace("seminar", "exp").as_str(),
        "3000",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let d = dir.path();
    let export = sim(
        &[
            "world",
            "export",
            "world",
            "--config",
            d.join("env.yml").to_str().unwrap(),
        ],
        d,
    );
    assert!(export.status.success(), "{}", stderr(&export));
    let mut outputs = Vec::new();
    for trainer in ["mf", "i2i"] {
        let mut per_threads = Vec::new();
        for threads in ["1", "2"] {
            let name = format!("{trainer}-{threads}.jsonl");
            let mut args = vec![
                "train",
                trainer,
                "--logs",
                "out/events.jsonl",
                "--tracks",
                "world/tracks.json",
                "--out",
                &name,
                "--threads",
                threads,
            ];
            if trainer == "i2i" {
                args.push("--one-per-artist");
            }
            let out = sim(&args, d);
            assert!(out.status.success(), "{}", stderr(&out));
            per_threads.push(std::fs::read(d.join(&name)).unwrap());
            let summary = d.join(format!("{trainer}-{threads}.summary.json"));
            assert!(summary.exists(), "{}", summary.display());
        }
        assert!(!per_threads[0].is_empty());
        assert_eq!(
            per_threads[0], per_threads[1],
            "{trainer}: threads changed the output"
        );
        outputs.push(per_threads.remove(0));
    }
    // i2i with one track per artist: no two tracks of one artist in a list.
    let tracks = std::fs::read_to_string(d.join("world/tracks.json")).unwrap();
    let artist: Vec<String> = tracks
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["artist"].to_string())
        .collect();
    for line in String::from_utf8(outputs[1].clone()).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let list = v["recommendations"].as_array().unwrap();
        let artists: HashSet<&String> = list
            .iter()
            .map(|t| &artist[t.as_u64().unwrap() as usize])
            .collect();
        assert_eq!(artists.len(), list.len(), "{line}");
    }
    let bad = sim(
        &[
            "train",
            "mf",
            "--logs",
            "out/events.jsonl",
            "--out",
            "x.jsonl",
            "--reg",
            "0",
        ],
        d,
    );
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("reg must be > 0"), "{}", stderr(&bad));
}

/// docs/EXPERIMENTS.md's claims about `experiments/course_table.yml`: T4 is hw2's DSSM baseline
/// (same recipe, so the same trained model) cut to a longer list, and T6 falls back to
/// T4 itself (one DSSM artifact serves both arms).
#[test]
fn course_table_t4_is_the_hw2_baseline_model_and_t6_falls_back_to_it() {
    let load = |name: &str| -> serde_norway::Value {
        let text = std::fs::read_to_string(root().join("experiments").join(name)).unwrap();
        serde_norway::from_str(&text).unwrap()
    };
    let (table, hw2) = (load("course_table.yml"), load("hw2.yml"));
    let t4 = &table["arms"]["T4"];
    assert_eq!(table["arms"]["T6"]["fallback"], *t4);
    let without_top_k = |source: &serde_norway::Value| {
        let mut source = source.clone();
        source.as_mapping_mut().unwrap().remove("top_k");
        source
    };
    assert_eq!(
        without_top_k(&t4["source"]),
        without_top_k(&hw2["arms"]["C"]["source"])
    );
    assert_eq!(t4["fallback"], hw2["arms"]["C"]["fallback"]);
}
