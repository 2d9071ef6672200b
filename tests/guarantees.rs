//! Every guarantee the docs state for `history` and `no_repeat` holds in every session,
//! fallbacks included: no track twice in a session (the first track included), and for
//! `history` at most `max_artist_recs` recommendations per artist. Checked over thousands
//! of sessions of arms whose lists are short and whose fallbacks break both rules within
//! a few steps, in `sim run` and through `sim serve` (driven as a black box by `sim run
//! --remote`).

use crate::common::*;
use crate::http_support::Server;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

const CAP: usize = 3;

/// A small world, its export (for each track's artist), per-user lists of four tracks of
/// one artist, and an experiment of one arm per guarantee.
fn project(dir: &Path) -> Vec<String> {
    small_world_config(dir);
    let export = sim(&["world", "export", "world", "--config", "env.yml"], dir);
    assert!(export.status.success(), "{}", stderr(&export));
    let artists: Vec<String> = std::fs::read_to_string(dir.join("world/tracks.json"))
        .unwrap()
        .lines()
        .map(|l| {
            let track: Value = serde_json::from_str(l).unwrap();
            track["artist"].as_str().unwrap().to_string()
        })
        .collect();
    let mut by_artist: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (track, artist) in artists.iter().enumerate() {
        by_artist.entry(artist).or_default().push(track);
    }
    let big: Vec<&Vec<usize>> = by_artist.values().filter(|t| t.len() >= 4).collect();
    assert!(!big.is_empty(), "an artist with 4 tracks");
    let lists: String = (0..400)
        .map(|user| {
            let tracks = &big[user % big.len()][..4];
            format!("{{\"user\": {user}, \"tracks\": {tracks:?}}}\n")
        })
        .collect();
    std::fs::write(dir.join("lists.jsonl"), lists).unwrap();
    std::fs::write(
        dir.join("guarantees.yml"),
        format!(
            "name: guarantees\narms:\n  C: {{kind: history, file: lists.jsonl, max_artist_recs: {CAP}, attempts: 10, fallback: {{kind: top_pop, k: 4}}}}\n  T1: {{kind: top_pop, k: 6, no_repeat: true}}\n  T2: {{kind: sticky_artist, no_repeat: true}}\n  T3: {{kind: indexed, file: lists.jsonl, no_repeat: true, fallback: {{kind: top_pop, k: 3}}}}\n"
        ),
    )
    .unwrap();
    artists
}

/// The events of `log` grouped by session, in order.
fn sessions(log: &Path) -> Vec<Vec<Value>> {
    let mut by_id: BTreeMap<u64, Vec<Value>> = BTreeMap::new();
    for line in std::fs::read_to_string(log).unwrap().lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        by_id
            .entry(event["session"].as_u64().unwrap())
            .or_default()
            .push(event);
    }
    by_id.into_values().collect()
}

/// Checks every session of `log`; `arm_of` gives a session's arm. Returns the sessions
/// checked per arm and the steps in all.
fn check(
    log: &Path,
    artists: &[String],
    arm_of: impl Fn(&Value) -> String,
) -> (HashMap<String, usize>, usize) {
    let mut per_arm: HashMap<String, usize> = HashMap::new();
    let mut steps = 0;
    for session in sessions(log) {
        let arm = arm_of(&session[0]);
        let first = session[0]["track"].as_u64().unwrap();
        let mut seen = HashSet::from([first]);
        let mut per_artist: HashMap<&str, usize> = HashMap::new();
        for event in session.iter().filter(|e| e["message"] == "next") {
            let track = event["recommendation"].as_u64().unwrap();
            steps += 1;
            assert!(
                seen.insert(track),
                "arm {arm}: track {track} twice in session {}",
                event["session"]
            );
            if arm == "C" {
                let artist = artists[track as usize].as_str();
                let n = per_artist.entry(artist).or_default();
                *n += 1;
                assert!(
                    *n <= CAP,
                    "arm C: artist {artist} recommended {n} times in session {}",
                    event["session"]
                );
            }
        }
        *per_arm.entry(arm).or_default() += 1;
    }
    (per_arm, steps)
}

fn assert_enough(per_arm: &HashMap<String, usize>, sessions: usize) {
    for arm in ["C", "T1", "T2", "T3"] {
        let n = per_arm.get(arm).copied().unwrap_or(0);
        assert!(n >= sessions, "arm {arm}: only {n} sessions: {per_arm:?}");
    }
}

#[test]
fn history_and_no_repeat_keep_their_guarantees_in_sim_run() {
    let dir = tempfile::tempdir().unwrap();
    let artists = project(dir.path());
    let out = sim(
        &[
            "run",
            "--experiment",
            "guarantees.yml",
            "--config",
            "env.yml",
            "--episodes",
            "8000",
            "--out",
            "out",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (per_arm, steps) = check(&dir.path().join("out/events.jsonl"), &artists, |e| {
        e["experiments"]["guarantees"].as_str().unwrap().to_string()
    });
    assert_enough(&per_arm, 1500);
    assert!(steps > 20_000, "{steps} steps");
}

#[test]
fn history_and_no_repeat_keep_their_guarantees_through_sim_serve() {
    let dir = tempfile::tempdir().unwrap();
    let artists = project(dir.path());
    let mut server = Server::start(
        dir.path(),
        &dir.path().join("guarantees.yml"),
        &dir.path().join("env.yml"),
        "served.jsonl",
    );
    let out = sim(
        &[
            "run",
            "--remote",
            &server.url,
            "--config",
            "env.yml",
            "--episodes",
            "4000",
            "--out",
            "remote",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(server.terminate().success());
    let (per_arm, _) = check(&server.log, &artists, |e| {
        e["experiments"]["guarantees"].as_str().unwrap().to_string()
    });
    assert_enough(&per_arm, 700);
}
