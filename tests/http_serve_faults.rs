//! `sim serve` under faults of its own: killed with `kill -9` under load, its log past a
//! file-size limit, a Redis that replies garbage, an experiment it cannot serve, and a
//! Redis password that must never be shown.

use crate::common::*;
use crate::http_support::*;
use botify_sim::http_client::HttpClient;
use botify_sim_support::deploy::{refusing_port, start_redis};
use std::collections::HashSet;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One arm that answers at random: nothing to prepare, no cache written.
fn random_experiment(d: &Path) -> PathBuf {
    let path = d.join("random.yml");
    std::fs::write(&path, "name: random\narms:\n  C: {kind: random}\n").unwrap();
    path
}

/// An answered request as the log must hold it: (message, user, track, time, recommendation).
type Answered = (String, u64, u64, u64, Option<u64>);

/// `clients` threads sending requests to `url` until `stop` is set or a request fails:
/// each a run of sessions of its own users, every listen time unique (`time` bits in the
/// key). Every 200 is recorded in `answered`.
fn load(url: &str, clients: u32, stop: &AtomicBool, answered: &Mutex<Vec<Answered>>) {
    let client = HttpClient::new(Duration::from_secs(5));
    let sequence = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for c in 0..clients {
            let (client, sequence) = (&client, &sequence);
            scope.spawn(move || {
                let mut track = c;
                for step in 0u32.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let user = c + clients * (step / 6);
                    let what = if step % 6 == 5 { "last" } else { "next" };
                    // Unique, and exact in binary: the log's time reads back equal.
                    let time = sequence.fetch_add(1, Ordering::Relaxed) as f64 / 1024.0;
                    let body = format!("{{\"track\": {track}, \"time\": {time}}}");
                    let Ok(answer) = client.post_json(&format!("{url}/{what}/{user}"), body) else {
                        return;
                    };
                    if answer.status != 200 {
                        return;
                    }
                    let value: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
                    let recommendation = value["track"].as_u64();
                    answered.lock().unwrap().push((
                        what.to_string(),
                        u64::from(user),
                        u64::from(track),
                        time.to_bits(),
                        recommendation,
                    ));
                    if let Some(next) = recommendation {
                        track = next as u32;
                    }
                }
            });
        }
    });
}

fn logged(path: &Path) -> HashSet<Answered> {
    events(path)
        .iter()
        .map(|e| {
            (
                e["message"].as_str().unwrap().to_string(),
                e["user"].as_u64().unwrap(),
                e["track"].as_u64().unwrap(),
                e["time"].as_f64().unwrap().to_bits(),
                e["recommendation"].as_u64(),
            )
        })
        .collect()
}

/// `kill -9` while 4 clients keep it busy: every answer a client got is in the log (each
/// event reaches the file before its answer is sent).
#[test]
fn kill_9_under_load_loses_no_answered_event() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = small_world_config(d);
    let server = Server::start(d, &random_experiment(d), &config, "served.jsonl");
    let (stop, answered) = (AtomicBool::new(false), Mutex::new(Vec::new()));
    std::thread::scope(|scope| {
        scope.spawn(|| load(&server.url, 4, &stop, &answered));
        let deadline = Instant::now() + Duration::from_secs(60);
        while answered.lock().unwrap().len() < 2000 {
            assert!(Instant::now() < deadline, "2,000 answers within 60 s");
            std::thread::sleep(Duration::from_millis(5));
        }
        server.signal("KILL");
        // The clients stop at their first failed request.
    });
    let answered = answered.into_inner().unwrap();
    let logged = logged(&server.log);
    let missing: Vec<&Answered> = answered.iter().filter(|a| !logged.contains(a)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} answered events are not in the log: {:?}",
        missing.len(),
        answered.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(answered.len() >= 2000);
}

/// A log that cannot grow (a file-size limit of 4 KiB, `ulimit -f`): the answers from the
/// failed write on are 503s naming the log and the cause, `GET /` says so, every 200 given
/// before is in the log, and the server exits 1 at its stop, saying why.
#[test]
fn a_log_past_a_file_size_limit_turns_answers_into_503s() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = small_world_config(d);
    let limit = 4096;
    // The world's and the neighbours' caches are written first, before the limit holds.
    let experiment = random_experiment(d);
    let warm = sim(
        &[
            "prepare",
            "--experiment",
            experiment.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
        d,
    );
    assert!(warm.status.success(), "{}", stderr(&warm));
    let mut command = serve_command(d, &experiment, &config, "served.jsonl", &[]);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut server = Server::spawn(command, d.join("served.jsonl"));
    let url = server.url.clone();
    let client = HttpClient::new(Duration::from_secs(5));
    let log = d.join("served.jsonl");
    let mut answered = 0;
    let refusal = loop {
        assert!(answered < 1000, "4 KiB took 1,000 events");
        let answer = client
            .post_json(
                &format!("{url}/next/{answered}"),
                r#"{"track": 1, "time": 0.5}"#.into(),
            )
            .unwrap();
        match answer.status {
            200 => answered += 1,
            503 => break answer.body,
            other => panic!("HTTP {other}: {}", answer.body),
        }
    };
    let error: serde_json::Value = serde_json::from_str(&refusal).unwrap();
    let message = error["error"].as_str().unwrap();
    assert!(
        message.contains("the event log served.jsonl") && message.contains("File too large"),
        "{refusal}"
    );
    // From then on: every request refused, GET / failing.
    let again = client
        .post_json(
            &format!("{url}/next/1"),
            r#"{"track": 1, "time": 0.5}"#.into(),
        )
        .unwrap();
    assert_eq!(again.status, 503);
    let status = client.get(&format!("{url}/")).unwrap();
    assert_eq!(status.status, 503, "{}", status.body);
    let status: serde_json::Value = serde_json::from_str(&status.body).unwrap();
    assert_eq!(
        (status["status"].as_str(), status["error"].as_str()),
        (Some("failing"), Some(message))
    );
    // The answered events are the log's whole lines; the failed write may have left a cut one.
    let text = std::fs::read(&log).unwrap();
    assert!(text.len() as u64 <= limit);
    let whole = text.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(whole, answered);
    let status = server.terminate();
    let err = stderr_of(&mut server.child);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("Error: the event log") && err.contains("File too large"),
        "{err}"
    );
}

/// A Redis that answers the session read with 10,000 nested arrays: a 503 naming the
/// store, every time, and the server stays up.
#[test]
fn a_redis_reply_of_10000_nested_arrays_costs_a_503() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = small_world_config(d);
    let fake = fake_redis(|_| nested_arrays_reply());
    let mut server = Server::start_with(
        d,
        &random_experiment(d),
        &config,
        "served.jsonl",
        &["--state", &format!("redis://{fake}/0")],
    );
    for user in 0..3 {
        let (status, body) = exchange(
            &server.addr,
            &post(&format!("/next/{user}"), r#"{"track": 1, "time": 0.5}"#),
        )
        .unwrap();
        assert_eq!(status, 503, "{body}");
        assert!(body.contains(&format!("redis://{fake}/0")), "{body}");
    }
    assert_eq!(
        exchange(&server.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").map(|a| a.0),
        Some(200)
    );
    assert!(server.child.try_wait().unwrap().is_none(), "still running");
    assert!(server.terminate().success());
}

#[test]
fn an_experiment_with_a_console_arm_is_refused_naming_the_arm() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = small_world_config(d);
    std::fs::write(
        d.join("people.yml"),
        "name: people\narms:\n  C: {kind: random}\n  T1: {kind: console}\n",
    )
    .unwrap();
    let out = sim(
        &[
            "serve",
            "--port",
            "0",
            "--experiment",
            "people.yml",
            "--config",
            config.to_str().unwrap(),
        ],
        d,
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("arm T1") && err.contains("console"), "{err}");
    assert!(!d.join("runs").exists(), "no log started");
}

/// A Redis password never shows: not in `sim serve`'s start line, nor in a 503 once
/// Redis is gone, nor in a `sim run --remote` failing on those 503s (its message and
/// run.json), nor when Redis refuses at start or the url is malformed.
#[test]
fn a_redis_password_is_shown_as_stars_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = small_world_config(d);
    let experiment = random_experiment(d);
    let redis = start_redis(d).unwrap();
    let client = redis::Client::open(format!("redis://{}/0", redis.address())).unwrap();
    let mut connection = client.get_connection().unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("sekret")
        .query(&mut connection)
        .unwrap();
    let state = format!("redis://:sekret@{}/0", redis.address());
    let shown = format!("redis://:***@{}/0", redis.address());
    let command = serve_command(
        d,
        &experiment,
        &config,
        "served.jsonl",
        &["--state", &state],
    );
    let mut server = Server::spawn(command, d.join("served.jsonl"));
    let (url, addr) = (server.url.clone(), server.addr.clone());
    let body = r#"{"track": 1, "time": 0.5}"#;
    assert_eq!(exchange(&addr, &post("/next/1", body)).unwrap().0, 200);
    drop(redis);
    let (status, answer) = exchange(&addr, &post("/next/1", body)).unwrap();
    assert_eq!(status, 503, "{answer}");
    assert!(
        answer.contains(&shown) && !answer.contains("sekret"),
        "{answer}"
    );
    let run = sim(
        &[
            "run",
            "--remote",
            &url,
            "--episodes",
            "5",
            "--remote-wait",
            "0.3",
            "--out",
            "o",
            "--config",
            config.to_str().unwrap(),
            "--no-catalogue-check",
        ],
        d,
    );
    assert!(!run.status.success());
    let run_err = stderr(&run);
    assert!(
        run_err.contains(&shown) && !run_err.contains("sekret"),
        "{run_err}"
    );
    let record = std::fs::read_to_string(d.join("o/run.json")).unwrap();
    assert!(
        record.contains(&shown) && !record.contains("sekret"),
        "{record}"
    );
    server.terminate();
    let serve_err = stderr_of(&mut server.child);
    assert!(
        serve_err.contains(&format!("sessions: {shown}")),
        "{serve_err}"
    );
    assert!(!serve_err.contains("sekret"), "{serve_err}");
    let served = std::fs::read_to_string(d.join("served.jsonl")).unwrap();
    assert!(!served.contains("sekret"));

    // Refused at start, and a malformed url: the password hidden too.
    let (_refusing, port) = refusing_port().unwrap();
    for state in [
        format!("redis://:sekret@127.0.0.1:{port}/0"),
        "redis://:sekret@host:port/0".to_string(),
    ] {
        let out = sim(
            &[
                "serve",
                "--port",
                "0",
                "--state",
                &state,
                "--experiment",
                experiment.to_str().unwrap(),
                "--config",
                config.to_str().unwrap(),
            ],
            d,
        );
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(
            err.contains("redis://:***@") && !err.contains("sekret"),
            "{err}"
        );
    }
}

/// `sim serve --state rediss://...` in a build with the feature `tls` (`cargo test
/// --release --features tls -- rediss`): sessions through TLS to a redis-server whose
/// certificate only `SSL_CERT_FILE` vouches for; without it the certificate is refused
/// at start, naming the store.
#[cfg(feature = "tls")]
#[test]
fn rediss_serves_sessions_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = small_world_config(d);
    let experiment = random_experiment(d);
    let (_redis, tls_port, ca) = botify_sim_support::deploy::start_redis_tls(d).unwrap();
    let state = format!("rediss://localhost:{tls_port}/0");
    let serve = |trusted: bool| {
        let mut command = serve_command(
            d,
            &experiment,
            &config,
            "served.jsonl",
            &["--state", &state],
        );
        if trusted {
            command.env("SSL_CERT_FILE", &ca);
        }
        command
    };
    let refused = serve(false).output().unwrap();
    assert!(!refused.status.success());
    let err = stderr(&refused);
    assert!(
        err.contains(&state) && err.to_lowercase().contains("certificate"),
        "{err}"
    );
    let mut server = Server::spawn(serve(true), d.join("served.jsonl"));
    let addr = server.addr.clone();
    for _ in 0..2 {
        let (status, body) =
            exchange(&addr, &post("/next/3", r#"{"track": 1, "time": 0.5}"#)).unwrap();
        assert_eq!(status, 200, "{body}");
    }
    assert!(server.terminate().success());
    let sessions: HashSet<u64> = events(&d.join("served.jsonl"))
        .iter()
        .map(|e| e["session"].as_u64().unwrap())
        .collect();
    assert_eq!(
        sessions.len(),
        1,
        "both requests in one session, kept in Redis"
    );
}
