//! End to end on loopback: `sim serve` on a free port, `sim run --remote` against it.

use crate::common::*;
use crate::http_support::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// A deterministic one-arm experiment: `contextual` with a one-element list for every
/// track of the small world, so no answer depends on a random draw.
fn deterministic_experiment(dir: &Path) -> std::path::PathBuf {
    let lists: String = (0..3000)
        .map(|t| {
            format!(
                "{{\"track\": {t}, \"recommendations\": [{}]}}\n",
                (t * 7 + 13) % 3000
            )
        })
        .collect();
    std::fs::write(dir.join("chain.jsonl"), lists).unwrap();
    let path = dir.join("chain.yml");
    std::fs::write(
        &path,
        "name: chain\narms:\n  C: {kind: contextual, file: chain.jsonl}\n",
    )
    .unwrap();
    path
}

/// The log without the fields that legitimately differ: `latency` and `experiments`.
fn comparable(path: &Path) -> Vec<String> {
    events(path)
        .into_iter()
        .map(|mut e| {
            let o = e.as_object_mut().unwrap();
            o.remove("latency");
            o.remove("experiments");
            e.to_string()
        })
        .collect()
}

#[test]
fn remote_run_completes_and_matches_the_service_log_and_the_in_process_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = small_world_config(d);
    let experiment = deterministic_experiment(d);
    let mut server = Server::start(d, &experiment, &config, "served.jsonl");

    let (c, e) = (config.to_str().unwrap(), experiment.to_str().unwrap());
    let remote = sim(
        &[
            "run",
            "--remote",
            &server.url,
            "--config",
            c,
            "--episodes",
            "300",
            "--seed",
            "5",
            "--workers",
            "2",
            "--out",
            "remote",
        ],
        d,
    );
    assert!(remote.status.success(), "{}", stderr(&remote));
    let local = sim(
        &[
            "run",
            "--experiment",
            e,
            "--config",
            c,
            "--episodes",
            "300",
            "--seed",
            "5",
            "--workers",
            "1",
            "--out",
            "local",
        ],
        d,
    );
    assert!(local.status.success(), "{}", stderr(&local));
    let status = server.terminate();
    assert!(status.success(), "sim serve exits 0 on SIGTERM: {status:?}");

    // Every session completed: 300 episodes, each ending with a "last" event.
    let remote_log = d.join("remote/events.jsonl");
    let remote_events = events(&remote_log);
    let lasts = remote_events
        .iter()
        .filter(|e| e["message"] == "last")
        .count();
    assert_eq!(lasts, 300);
    assert!(
        remote_events
            .iter()
            .all(|e| e["experiments"] == serde_json::json!({"remote": "C"}))
    );
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("remote/run.json")).unwrap()).unwrap();
    assert_eq!(run["completed_episodes"], 300);

    // The simulator's log and the service's describe the same sessions.
    assert_eq!(sessions(&remote_log), sessions(&server.log));
    let served = events(&server.log);
    assert_eq!(served.len(), remote_events.len());
    assert!(
        served
            .iter()
            .all(|e| e["experiments"] == serde_json::json!({"chain": "C"}))
    );

    // A deterministic recommender over HTTP gives the in-process run's sessions exactly.
    assert_eq!(
        comparable(&remote_log),
        comparable(&d.join("local/events.jsonl"))
    );
}

#[test]
fn remote_without_a_url_takes_the_address_from_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = small_world_config(d);
    let server = Server::start(
        d,
        &root().join("experiments/seminar.yml"),
        &config,
        "s.jsonl",
    );
    let (host, port) = server.addr.split_once(':').unwrap();
    let with_address = d.join("remote-env.yml");
    std::fs::write(
        &with_address,
        format!(
            "{}remote_recommender: {{host: {host}, port: {port}}}\n",
            std::fs::read_to_string(&config).unwrap()
        ),
    )
    .unwrap();
    let out = sim(
        &[
            "run",
            "--remote",
            "--config",
            with_address.to_str().unwrap(),
            "--episodes",
            "40",
            "--out",
            "o",
        ],
        d,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let lasts = events(&d.join("o/events.jsonl"))
        .iter()
        .filter(|e| e["message"] == "last")
        .count();
    assert_eq!(lasts, 40);
}

#[test]
fn a_service_that_is_down_at_start_fails_fast_naming_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = small_world_config(d);
    // Refusing for as long as the guard lives: nothing else can listen there meanwhile.
    let (_refusing, port) = botify_sim_support::deploy::refusing_port().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let clock = Instant::now();
    let out = sim(
        &[
            "run",
            "--remote",
            &url,
            "--config",
            config.to_str().unwrap(),
            "--episodes",
            "10",
            "--remote-retries",
            "1",
            "--remote-backoff-ms",
            "10",
            "--out",
            "o",
        ],
        d,
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&url) && err.contains("no botify service answers"),
        "{err}"
    );
    assert!(clock.elapsed() < Duration::from_secs(20));
}

#[test]
fn a_remote_arm_in_an_experiment_file_is_probed_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = small_world_config(d);
    let server = Server::start(
        d,
        &root().join("experiments/seminar.yml"),
        &config,
        "s.jsonl",
    );
    let mixed = d.join("mixed.yml");
    std::fs::write(
        &mixed,
        format!(
            "name: mixed\narms:\n  C: {{kind: random}}\n  T1: {{kind: remote, url: \"{}\", timeout_ms: 2000, retries: 1}}\n",
            server.url
        ),
    )
    .unwrap();
    let out = sim(
        &[
            "run",
            "--experiment",
            mixed.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--episodes",
            "60",
            "--out",
            "o",
        ],
        d,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let arms: std::collections::BTreeSet<String> = events(&d.join("o/events.jsonl"))
        .iter()
        .map(|e| e["experiments"]["mixed"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(arms.len(), 2, "{arms:?}");
}

/// The reference solution keeps per-session memory in `sim serve` too: within a session
/// no list track is answered twice and no artist more than `max_artist_recs` times.
#[test]
fn history_keeps_per_session_memory_when_served() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = small_world_config(d);
    // Every user's list: tracks 0..20. The fallback answers only tracks 100 and above.
    let lists: String = (0..400)
        .map(|u| {
            format!(
                "{{\"user\": {u}, \"tracks\": {:?}}}\n",
                (0..20).collect::<Vec<u32>>()
            )
        })
        .collect();
    std::fs::write(d.join("lists.jsonl"), lists).unwrap();
    let chain: String = (0..3000)
        .map(|t| {
            format!(
                "{{\"track\": {t}, \"recommendations\": [{}]}}\n",
                100 + t % 2900
            )
        })
        .collect();
    std::fs::write(d.join("chain.jsonl"), chain).unwrap();
    let experiment = d.join("history.yml");
    std::fs::write(
        &experiment,
        "name: h\narms:\n  C: {kind: history, file: lists.jsonl, max_artist_recs: 3, attempts: 10, fallback: {kind: contextual, file: chain.jsonl}}\n",
    )
    .unwrap();
    let mut server = Server::start(d, &experiment, &config, "served.jsonl");
    let args = [
        "run",
        "--remote",
        &server.url,
        "--config",
        config.to_str().unwrap(),
        "--episodes",
        "300",
        "--workers",
        "2",
        "--out",
        "remote",
    ];
    let run = sim(&args, d);
    assert!(run.status.success(), "{}", stderr(&run));
    server.terminate();

    // The artists of tracks 0..20 in the exported small world.
    let export = sim(
        &["world", "export", "w", "--config", config.to_str().unwrap()],
        d,
    );
    assert!(export.status.success());
    let artist: Vec<String> = std::fs::read_to_string(d.join("w/tracks.json"))
        .unwrap()
        .lines()
        .take(20)
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["artist"].to_string())
        .collect();

    let mut sessions: std::collections::BTreeMap<u64, Vec<u64>> = Default::default();
    for e in events(&d.join("served.jsonl")) {
        if let Some(r) = e["recommendation"].as_u64() {
            sessions
                .entry(e["session"].as_u64().unwrap())
                .or_default()
                .push(r);
        }
    }
    assert_eq!(sessions.len(), 300);
    let mut list_answers = 0;
    for answers in sessions.values() {
        let from_list: Vec<u64> = answers.iter().copied().filter(|&t| t < 20).collect();
        list_answers += from_list.len();
        let distinct: std::collections::HashSet<u64> = from_list.iter().copied().collect();
        assert_eq!(distinct.len(), from_list.len(), "a repeat in {answers:?}");
        let mut per_artist: std::collections::HashMap<&String, usize> = Default::default();
        for t in from_list {
            *per_artist.entry(&artist[t as usize]).or_default() += 1;
        }
        assert!(per_artist.values().all(|&n| n <= 3), "{answers:?}");
    }
    assert!(list_answers > 300, "the lists were used: {list_answers}");
}
