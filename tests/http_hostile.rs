//! `sim serve` against hostile or odd clients, and its log against a second server:
//! every case here stalled, locked out or destroyed something before the hyper server.

use crate::common::*;
use crate::http_support::*;
use botify_sim::serve::raise_open_file_limit;
use botify_sim_support::hostile::{NEVER_READER_CAP, idle_connections, never_reading_client};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn seminar() -> std::path::PathBuf {
    root().join("experiments/seminar.yml")
}

fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
}

/// Reads one answer (head and its Content-Length body) from a keep-alive connection.
fn read_answer(stream: &mut TcpStream, head_only: bool) -> (String, String) {
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("an answer within 5 s");
        assert!(n == 1, "closed after {:?}", String::from_utf8_lossy(&bytes));
        bytes.push(byte[0]);
    }
    let head = String::from_utf8(bytes).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; if head_only { 0 } else { length }];
    stream.read_exact(&mut body).unwrap();
    (head, String::from_utf8(body).unwrap())
}

fn next_request(user: u32, keep_alive_10: bool) -> Vec<u8> {
    let body = r#"{"track": 5, "time": 0.5}"#;
    let version = if keep_alive_10 {
        "HTTP/1.0\r\nConnection: keep-alive"
    } else {
        "HTTP/1.1\r\nHost: x"
    };
    format!(
        "POST /next/{user} {version}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[test]
fn head_http10_keep_alive_and_bare_lf_requests_are_answered_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let server = Server::start(d, &seminar(), &small_world_config(d), "s.jsonl");

    // HEAD: the GET's status and headers, no body; the connection stays usable.
    let mut stream = connect(&server.addr);
    stream
        .write_all(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /track/1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (head, _) = read_answer(&mut stream, true);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let (head, body) = read_answer(&mut stream, false);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        body.contains("\"track\":1"),
        "the GET after the HEAD: {body}"
    );
    // HEAD of an error: the status, no body (the GET after it reads its own answer).
    stream
        .write_all(
            b"HEAD /track/999999 HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .unwrap();
    let (head, _) = read_answer(&mut stream, true);
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    let (head, body) = read_answer(&mut stream, false);
    assert!(
        head.starts_with("HTTP/1.1 200") && body.contains("alive"),
        "{head}{body}"
    );

    // HTTP/1.0 without keep-alive: answered, then closed.
    let mut stream = connect(&server.addr);
    stream.write_all(b"GET /track/2 HTTP/1.0\r\n\r\n").unwrap();
    let (head, body) = read_answer(&mut stream, false);
    assert!(
        head.starts_with("HTTP/1.0 200") && body.contains("\"track\":2"),
        "{head}{body}"
    );
    let mut rest = Vec::new();
    assert_eq!(
        stream
            .read_to_end(&mut rest)
            .expect("closed, not timed out"),
        0
    );

    // HTTP/1.0 with keep-alive (`ab -k`): two requests on one connection.
    let mut stream = connect(&server.addr);
    for _ in 0..2 {
        stream.write_all(&next_request(7, true)).unwrap();
        let (head, body) = read_answer(&mut stream, false);
        assert!(head.starts_with("HTTP/1.0 200"), "{head}");
        assert!(
            head.to_ascii_lowercase().contains("connection: keep-alive"),
            "{head}"
        );
        assert!(body.contains("\"track\""), "{body}");
    }

    // Bare LF line ends: answered (not a 408 after 10 s; the read times out after 5).
    let mut stream = connect(&server.addr);
    stream.write_all(b"GET / HTTP/1.1\nHost: x\n\n").unwrap();
    let (head, body) = read_answer(&mut stream, false);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(body.contains("alive"), "{body}");
}

/// 1,000 idle connections and a client that pipelines requests and never reads its
/// answers: other clients are still answered, each within the 5-s read timeout, on one
/// keep-alive connection and on fresh ones (so the server still accepts too).
#[test]
fn an_idle_flood_and_a_never_reading_client_lock_nobody_out() {
    // The idle connections' two ends, this process's and the server's: 1,000 files each.
    raise_open_file_limit().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let server = Server::start(d, &seminar(), &small_world_config(d), "s.jsonl");
    let idle = idle_connections(&server.addr, 1000).unwrap();
    let (never_reader, sent) = never_reading_client(&server.addr).unwrap();
    assert!(
        sent < NEVER_READER_CAP,
        "the server kept reading a client that never reads"
    );

    let mut stream = connect(&server.addr);
    for i in 0..200 {
        stream.write_all(&next_request(i % 50, false)).unwrap();
        let (head, body) = read_answer(&mut stream, false);
        assert!(
            head.starts_with("HTTP/1.1 200"),
            "request {i}: {head} {body}"
        );
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["user"], i % 50, "{body}");
        assert!(answer["track"].as_u64().is_some_and(|t| t < 3000), "{body}");
    }
    for user in 100..120 {
        let (status, body) = exchange(&server.addr, &next_request(user, false)).unwrap();
        assert_eq!(status, 200, "a fresh connection: {body}");
    }
    assert_eq!(
        exchange(&server.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").map(|a| a.0),
        Some(200)
    );
    drop((idle, never_reader));
}

/// `sim serve` raises a low soft limit of open files to the hard one: started with a soft
/// limit of 256, it still accepts a client while 300 idle connections are open (without
/// the raise, `accept` fails from about the 240th connection on, the rest wait in the
/// listen backlog, and so does the client, past its 15-s timeout).
#[test]
fn a_low_open_file_limit_is_raised_to_the_hard_one() {
    raise_open_file_limit().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = small_world_config(d);
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -S -n 256 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_sim"))
        .args(["serve", "--port", "0", "--log", "s.jsonl", "--config"])
        .arg(&config)
        .arg("--experiment")
        .arg(seminar())
        .current_dir(d)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    let idle = idle_connections(&addr, 300).unwrap();
    let answer = exchange(&addr, &next_request(1, false));
    drop(idle);
    signal(child.id(), "TERM");
    let status = wait_for(&mut child, Duration::from_secs(20)).expect("stops on SIGTERM");
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{err}");
    assert!(
        err.contains("open files: soft limit raised from 256 to"),
        "{err}"
    );
    assert_eq!(answer.map(|a| a.0), Some(200), "{err}");
}

/// `sim bench-http --hostile --json`: the load generator's figures without and with the
/// 1,000 idle connections and the never-reading client, every request answered.
#[test]
fn bench_http_hostile_measures_the_load_without_and_with_hostile_clients() {
    raise_open_file_limit().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = small_world_config(d);
    let out = sim(
        &[
            "bench-http",
            "--hostile",
            "--config",
            config.to_str().unwrap(),
            "--episodes",
            "20",
            "--seconds",
            "0.3",
            "--connections",
            "2",
            "--json",
        ],
        d,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let measured = &record["hostile"]["measured"];
    assert_eq!(measured["idle_connections"], 1000, "{record}");
    let sent = measured["never_reader_bytes_sent"].as_u64().unwrap();
    assert!(sent > 0 && sent < NEVER_READER_CAP as u64, "{record}");
    for phase in ["quiet", "hostile"] {
        let load = &measured[phase];
        assert!(load["requests"].as_u64().unwrap() > 0, "{phase}: {record}");
        assert_eq!(load["errors"], 0, "{phase}: {record}");
        let latency = &load["latency_ms"];
        let (p50, p99, max) = (
            latency["p50"].as_f64().unwrap(),
            latency["p99"].as_f64().unwrap(),
            latency["max"].as_f64().unwrap(),
        );
        assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{phase}: {record}");
    }
    assert_eq!(record["hostile"]["servers"][0]["errors"], 0, "{record}");
}

/// Starts `sim serve` with extra flags, returning it once it listens.
fn serve_with(d: &Path, log: &str, extra: &[&str]) -> Server {
    Server::start_with(d, &seminar(), &small_world_config(d), log, extra)
}

#[test]
fn idle_connections_close_after_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let server = serve_with(d, "s.jsonl", &["--idle-timeout", "0.3"]);
    let mut stream = connect(&server.addr);
    stream.write_all(&next_request(1, false)).unwrap();
    read_answer(&mut stream, false);
    // Then silence: the server closes (EOF) well before the 5-s read timeout.
    let mut rest = Vec::new();
    assert_eq!(
        stream
            .read_to_end(&mut rest)
            .expect("closed, not timed out"),
        0
    );
}

/// An idle timeout above hyper's 10-s request deadline holds: a connection idle for 10.5 s
/// under `--idle-timeout 60` still answers (the deadline closed every idle connection at
/// 10 s before). Takes 10.5 s of wall time, waiting: a shorter check would not see it.
#[test]
fn an_idle_timeout_over_ten_seconds_holds() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let server = serve_with(d, "s.jsonl", &["--idle-timeout", "60"]);
    let mut stream = connect(&server.addr);
    stream.write_all(&next_request(1, false)).unwrap();
    read_answer(&mut stream, false);
    // Waiting is the test here: the time a connection sat idle.
    std::thread::sleep(Duration::from_millis(10_500));
    stream.write_all(&next_request(1, false)).unwrap();
    let (head, body) = read_answer(&mut stream, false);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}{body}");
}

/// The open connections `GET /` counts (its own included).
fn open_connections(addr: &str) -> u64 {
    let (status, body) = exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(status, 200, "{body}");
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    status["open_connections"].as_u64().unwrap()
}

/// A client that never reads its answers loses its connection once an answer could not
/// be written for the idle timeout (seen in `GET /`'s count of open connections, waited
/// for with a deadline), while other clients are answered.
#[test]
fn a_client_that_never_reads_is_closed_after_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let server = serve_with(d, "s.jsonl", &["--idle-timeout", "2"]);
    let (never_reader, sent) = never_reading_client(&server.addr).unwrap();
    assert!(sent > 0);
    assert_eq!(
        open_connections(&server.addr),
        2,
        "the never-reader and this request"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while open_connections(&server.addr) > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the never-reader's connection is still open 10 s on"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(never_reader);
}

/// A session never ended by `/last` is forgotten after `--session-ttl`: the user's next
/// request opens a new session (a new id in the log). Two requests within the TTL (as
/// this test measures: a pair that took longer on a loaded machine is tried again) are
/// one session; a request a TTL after the last answer is in a new one.
#[test]
fn abandoned_sessions_expire_with_the_session_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ttl = Duration::from_millis(300);
    let mut server = serve_with(d, "s.jsonl", &["--session-ttl", "0.3"]);
    let call = |user: u32| {
        let answer = exchange(&server.addr, &next_request(user, false)).unwrap();
        assert_eq!(answer.0, 200, "{}", answer.1);
    };
    let mut users = 0..;
    let user = loop {
        let user = users.next().unwrap();
        assert!(
            user < 20,
            "20 pairs of requests each took longer than the TTL"
        );
        let sent = std::time::Instant::now();
        call(user);
        call(user);
        // The session was last touched before the first answer came: the second request
        // reached the server less than this after it.
        if sent.elapsed() < ttl {
            break user;
        }
    };
    // Waiting is the test here: the TTL passing since the last answer.
    std::thread::sleep(ttl + Duration::from_millis(100));
    call(user);
    server.terminate();
    let ids: Vec<u64> = events(&server.log)
        .iter()
        .filter(|e| e["user"] == user)
        .map(|e| e["session"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[0], ids[1], "one session while the user is active");
    assert_ne!(ids[1], ids[2], "a new session after the TTL");
}

#[test]
fn a_second_server_on_a_busy_port_or_a_held_log_is_refused_and_the_log_kept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = small_world_config(d);
    let mut first = Server::start(d, &seminar(), &config, "s.jsonl");
    for user in 0..20 {
        assert_eq!(
            exchange(&first.addr, &next_request(user, false)).unwrap().0,
            200
        );
    }
    // Each event is in the file before its answer is sent.
    let logged = std::fs::read(&first.log).unwrap();
    assert_eq!(events(&first.log).len(), 20);
    let second = |port: &str, log: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_sim"))
            .args(["serve", "--port", port, "--log", log, "--config"])
            .arg(&config)
            .arg("--experiment")
            .arg(seminar())
            .current_dir(d)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success());
        stderr(&out)
    };
    let port = first.addr.rsplit(':').next().unwrap().to_string();
    let err = second(&port, "s.jsonl");
    assert!(err.contains("cannot listen"), "{err}");
    let err = second("0", "s.jsonl");
    assert!(
        err.contains("s.jsonl") && err.contains(&format!("process {}", first.child.id())),
        "names the log and the other server: {err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("Error")).count(),
        1,
        "{err}"
    );
    assert_eq!(
        std::fs::read(&first.log).unwrap(),
        logged,
        "the log is untouched"
    );

    // A restart appends: the earlier events stay, the new sessions have new ids.
    assert!(first.terminate().success());
    let before = events(&first.log);
    let mut again = Server::start(d, &seminar(), &config, "s.jsonl");
    assert_eq!(
        exchange(&again.addr, &next_request(0, false)).unwrap().0,
        200
    );
    assert!(again.terminate().success());
    let after = events(&again.log);
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(after[..before.len()], before[..]);
    let old_ids: std::collections::HashSet<u64> = before
        .iter()
        .map(|e| e["session"].as_u64().unwrap())
        .collect();
    let new_id = after.last().unwrap()["session"].as_u64().unwrap();
    assert!(!old_ids.contains(&new_id), "appended runs stay separable");
}
