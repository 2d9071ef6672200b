//! The seed's deployment without docker: a real `redis-server` and a real `nginx` (each on
//! a free port with its own temporary config; nginx runs deploy/nginx.conf, the file
//! compose.yaml uses), two `sim serve --state redis://...` replicas, nginx balancing
//! requests round-robin across them, `sim run --remote` through nginx.
//!
//! redis-server and nginx must be installed (`.ci/run` installs them): without them these
//! tests fail, they do not skip.

use crate::common::*;
use crate::http_support::*;
use botify_sim::serve::deploy::{Daemon, start_nginx, start_redis};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const CAP: usize = 3;

/// The course homework's shape on the small world, with artifacts given as files so the
/// test needs no training: C answers a fixed chain (deterministic: no random draw), T1 is
/// `history` over per-user lists (tracks 0..20), at most 3 per artist, the chain after 10
/// rejected draws.
fn experiment(d: &Path) -> PathBuf {
    let chain: String = (0..3000)
        .map(|t| {
            format!(
                "{{\"track\": {t}, \"recommendations\": [{}]}}\n",
                (t * 7 + 13) % 3000
            )
        })
        .collect();
    std::fs::write(d.join("chain.jsonl"), chain).unwrap();
    let lists: String = (0..400)
        .map(|u| {
            format!(
                "{{\"user\": {u}, \"tracks\": {:?}}}\n",
                (0..20).collect::<Vec<u32>>()
            )
        })
        .collect();
    std::fs::write(d.join("lists.jsonl"), lists).unwrap();
    let path = d.join("hw2like.yml");
    std::fs::write(
        &path,
        format!(
            "name: hw2like\ncontrol: C\narms:\n  C: {{kind: contextual, file: chain.jsonl}}\n  T1: {{kind: history, file: lists.jsonl, max_artist_recs: {CAP}, attempts: 10, fallback: {{kind: contextual, file: chain.jsonl}}}}\n"
        ),
    )
    .unwrap();
    path
}

struct Deployment {
    redis: Daemon,
    replicas: Vec<Server>,
    nginx: Daemon,
    url: String,
}

fn deploy(d: &Path, experiment: &Path, config: &Path) -> Deployment {
    let redis = start_redis(d, None).expect("redis-server starts (apt-get install redis-server)");
    let state = format!("redis://{}/0", redis.address());
    let replicas: Vec<Server> = (0..2)
        .map(|i| {
            Server::start_with(
                d,
                experiment,
                config,
                &format!("replica-{i}.jsonl"),
                &["--state", &state],
            )
        })
        .collect();
    let upstreams: Vec<String> = replicas.iter().map(|r| r.addr.clone()).collect();
    let nginx = start_nginx(&d.join("nginx"), &upstreams)
        .expect("nginx starts (apt-get install nginx-light)");
    let url = format!("http://{}", nginx.address());
    Deployment {
        redis,
        replicas,
        nginx,
        url,
    }
}

/// `sim run --remote` through `url`; `workers` 1 keeps a user's sessions from overlapping
/// (the protocol knows one session per user at a time).
fn remote_run(
    d: &Path,
    config: &Path,
    url: &str,
    episodes: &str,
    workers: &str,
    out: &str,
) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_sim"))
        .args([
            "run",
            "--remote",
            url,
            "--episodes",
            episodes,
            "--seed",
            "5",
        ])
        .args([
            "--workers",
            workers,
            "--remote-retries",
            "30",
            "--remote-backoff-ms",
            "50",
        ])
        .args(["--out", out, "--config"])
        .arg(config)
        .current_dir(d)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(mut run: std::process::Child) {
    let status = wait_for(&mut run, Duration::from_secs(300)).expect("the run ends");
    let mut err = String::new();
    std::io::Read::read_to_string(run.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{err}");
}

fn lasts(path: &Path) -> usize {
    events(path)
        .iter()
        .filter(|e| e["message"] == "last")
        .count()
}

/// The per-arm block of `ab.json` for `arm`, without the latency (it differs by nature).
fn arm_table(ab: &Path, arm: &str) -> serde_json::Value {
    let ab: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ab).unwrap()).unwrap();
    let mut row = ab["arms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["treatment"] == arm)
        .unwrap_or_else(|| panic!("no arm {arm} in {ab}"))
        .clone();
    row["metrics"]
        .as_object_mut()
        .unwrap()
        .remove("mean_request_latency");
    row
}

#[test]
fn replicas_behind_nginx_share_sessions_through_redis() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = small_world_config(d);
    let experiment = experiment(d);
    let mut deployment = deploy(d, &experiment, &config);
    finish(remote_run(
        d,
        &config,
        &deployment.url,
        "2000",
        "1",
        "remote",
    ));
    for replica in &mut deployment.replicas {
        assert!(replica.terminate().success());
    }
    let logs: Vec<PathBuf> = deployment.replicas.iter().map(|r| r.log.clone()).collect();

    // Every session of T1: no repeated list track, no artist over the cap, although its
    // requests alternated between the replicas.
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
    let mut answers: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut replicas_of: HashMap<u64, HashSet<usize>> = HashMap::new();
    let mut arms: HashMap<u64, String> = HashMap::new();
    for (i, log) in logs.iter().enumerate() {
        for e in events(log) {
            let session = e["session"].as_u64().unwrap();
            replicas_of.entry(session).or_default().insert(i);
            arms.insert(
                session,
                e["experiments"]["hw2like"].as_str().unwrap().into(),
            );
            if let Some(r) = e["recommendation"].as_u64() {
                answers.entry(session).or_default().push(r);
            }
        }
    }
    assert_eq!(
        answers.len(),
        2000,
        "one session id per episode across both logs"
    );
    let split = replicas_of.values().filter(|r| r.len() == 2).count();
    assert!(
        split > 1500,
        "requests alternate between replicas: {split} of 2000 sessions split"
    );
    let mut list_answers = 0;
    for (session, answers) in &answers {
        if arms[session] != "T1" {
            continue;
        }
        let from_list: Vec<u64> = answers.iter().copied().filter(|&t| t < 20).collect();
        list_answers += from_list.len();
        let distinct: HashSet<u64> = from_list.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            from_list.len(),
            "a repeat in session {session}: {answers:?}"
        );
        let mut per_artist: HashMap<&String, usize> = HashMap::new();
        for t in from_list {
            *per_artist.entry(&artist[t as usize]).or_default() += 1;
        }
        assert!(
            per_artist.values().all(|&n| n <= CAP),
            "session {session}: {answers:?}"
        );
    }
    assert!(list_answers > 1000, "the lists were used: {list_answers}");

    // The two replicas' logs read together give the in-process run's table for the
    // deterministic arm.
    let local = sim(
        &[
            "run",
            "--experiment",
            experiment.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--episodes",
            "2000",
            "--seed",
            "5",
            "--workers",
            "2",
            "--out",
            "local",
        ],
        d,
    );
    assert!(local.status.success(), "{}", stderr(&local));
    let mut args = vec!["report".to_string()];
    args.extend(logs.iter().map(|l| l.display().to_string()));
    args.extend(["--out".into(), "served-report".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let report = sim(&args, d);
    assert!(report.status.success(), "{}", stderr(&report));
    let served = arm_table(&d.join("served-report/ab.json"), "C");
    let in_process = arm_table(&d.join("local/ab.json"), "C");
    assert_eq!(served["sessions"], in_process["sessions"]);
    assert_eq!(served["users"], in_process["users"]);
    for (metric, value) in in_process["metrics"].as_object().unwrap() {
        for field in ["n", "mean", "var"] {
            let (a, b) = (
                value[field].as_f64().unwrap(),
                served["metrics"][metric][field].as_f64().unwrap(),
            );
            assert!(
                (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                "{metric}.{field}: in-process {a}, served {b}"
            );
        }
    }
    drop(deployment.nginx);
    drop(deployment.redis);
}

/// Killing one replica mid-run loses no episode (nginx retries on the other); a Redis
/// restart mid-run gives 503s naming Redis, then the service recovers by itself.
#[test]
fn a_replica_killed_and_redis_restarted_mid_run_lose_no_episode() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = small_world_config(d);
    let experiment = experiment(d);
    let deployment = deploy(d, &experiment, &config);
    // While it runs, `sim run` writes into a staging folder inside its --out.
    let running_log = |out: &str| -> Option<std::path::PathBuf> {
        std::fs::read_dir(d.join(out))
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path().join("events.jsonl"))
            .find(|log| log.exists())
    };
    let wait_for_episodes = |out: &str, n: usize| {
        let start = Instant::now();
        while running_log(out).is_none_or(|log| lasts(&log) < n) {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "no progress in {out}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };

    let run = remote_run(d, &config, &deployment.url, "3000", "2", "killed");
    wait_for_episodes("killed", 200);
    deployment.replicas[1].signal("KILL");
    finish(run);
    assert_eq!(lasts(&d.join("killed/events.jsonl")), 3000);

    // Redis goes away: a direct request to the live replica is a 503 naming Redis.
    let redis_port = deployment.redis.port;
    let redis_url = format!("redis://{}/0", deployment.redis.address());
    let run = remote_run(d, &config, &deployment.url, "3000", "2", "restarted");
    wait_for_episodes("restarted", 200);
    drop(deployment.redis);
    let body = r#"{"track": 1, "time": 0.5}"#;
    let (status, answer) = exchange(&deployment.replicas[0].addr, &post("/next/3", body)).unwrap();
    assert_eq!(status, 503, "{answer}");
    let error: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert!(
        error["error"].as_str().unwrap().contains(&redis_url),
        "{answer}"
    );
    // Back on the same port: the run (retrying) goes on to the end.
    std::thread::sleep(Duration::from_millis(300));
    let _redis = start_redis(d, Some(redis_port)).unwrap();
    finish(run);
    assert_eq!(lasts(&d.join("restarted/events.jsonl")), 3000);
    // The replica reconnects to Redis by itself (within a few seconds).
    let start = Instant::now();
    while exchange(&deployment.replicas[0].addr, &post("/next/3", body))
        .unwrap()
        .0
        != 200
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the replica did not recover after Redis came back"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
