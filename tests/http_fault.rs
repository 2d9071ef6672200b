//! Faults of a remote run: the service dies mid-run, Ctrl-C during a remote run.

use crate::common::*;
use crate::http_support::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts a long `sim run --remote` in the background.
fn long_remote_run(d: &Path, config: &Path, url: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .args([
            "run",
            "--remote",
            url,
            "--episodes",
            "1000000",
            "--workers",
            "2",
        ])
        .args([
            "--remote-retries",
            "2",
            "--remote-backoff-ms",
            "20",
            "--out",
            "o",
        ])
        .arg("--config")
        .arg(config)
        .current_dir(d)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sim run starts")
}

/// Waits (at most 60 s) until the run writing into `out` has logged some finished
/// episodes (in its temporary folder `out/.run-<pid>.tmp/` until it ends).
fn wait_for_log(out: &Path) {
    let start = Instant::now();
    let logged = || {
        std::fs::read_dir(out)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| std::fs::metadata(e.path().join("events.jsonl")).is_ok_and(|m| m.len() > 0))
    };
    while !logged() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "nothing logged in 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every logged episode is whole: its events end with exactly one "last".
fn whole_episodes(path: &Path) -> usize {
    let events = events(path);
    let mut open: Option<u64> = None;
    let mut finished = 0;
    for e in &events {
        let episode = e["episode"].as_u64().unwrap();
        if let Some(o) = open {
            assert_eq!(o, episode, "episodes do not interleave");
        }
        if e["message"] == "last" {
            open = None;
            finished += 1;
        } else {
            open = Some(episode);
        }
    }
    assert_eq!(open, None, "the log ends with a whole episode");
    finished
}

#[test]
fn the_service_killed_mid_run_stops_the_run_with_a_valid_partial_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = small_world_config(d);
    let server = Server::start(
        d,
        &root().join("experiments/seminar.yml"),
        &config,
        "s.jsonl",
    );
    let mut run = long_remote_run(d, &config, &server.url);
    wait_for_log(&d.join("o"));
    server.signal("KILL");
    let status = wait_for(&mut run, Duration::from_secs(60)).expect("the run stops by itself");
    assert!(!status.success());
    let mut err = String::new();
    std::io::Read::read_to_string(run.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains(&server.url), "{err}");
    let finished = whole_episodes(&d.join("o/events.jsonl"));
    assert!(finished > 0);
    assert!(
        err.contains(&format!("; {finished} finished episodes were logged")),
        "the message says how many episodes are in the log ({finished}): {err}"
    );
}

#[test]
fn ctrl_c_stops_a_remote_run_cleanly_with_a_valid_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = small_world_config(d);
    let server = Server::start(
        d,
        &root().join("experiments/seminar.yml"),
        &config,
        "s.jsonl",
    );
    let mut run = long_remote_run(d, &config, &server.url);
    wait_for_log(&d.join("o"));
    signal(run.id(), "INT");
    let status = wait_for(&mut run, Duration::from_secs(60)).expect("the run stops by itself");
    assert_eq!(status.code(), Some(130));
    let finished = whole_episodes(&d.join("o/events.jsonl"));
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("o/run.json")).unwrap()).unwrap();
    assert_eq!(record["completed_episodes"], finished);
    assert_eq!(record["interrupted"], true);
}
