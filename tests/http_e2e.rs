//! End to end on loopback: `sim serve` on a free port, `sim run --remote` against it.

mod common;
mod http_support;
use common::*;
use http_support::*;
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
    let url = format!("http://127.0.0.1:{}", free_port());
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
