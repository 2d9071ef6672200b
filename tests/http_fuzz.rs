//! A request fuzz of `sim serve`: malformed bodies, huge bodies, odd paths, garbage,
//! concurrent clients. The server must answer each with the right status (or close),
//! never crash, and still shut down cleanly with a valid log.

use crate::common::*;
use crate::http_support::*;
use rand::{RngExt, SeedableRng};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes()
}

#[test]
fn sim_serve_answers_every_bad_request_with_a_json_error_and_never_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = small_world_config(d);
    let mut server = Server::start(
        d,
        &root().join("experiments/seminar.yml"),
        &config,
        "s.jsonl",
    );
    let addr = server.addr.clone();

    let cases: Vec<(Vec<u8>, u16)> = vec![
        (get("/"), 200),
        (get("/track/0"), 200),
        (get("/track/2999"), 200),
        (get("/track/3000"), 404),
        (get("/track/-1"), 404),
        (get("/track/abc"), 404),
        (get("/nope"), 404),
        (get("//"), 404),
        (get("/next"), 404),
        (get("/next/1/2"), 404),
        (get("/../../etc/passwd"), 404),
        (get("/%00"), 404),
        (get("/next/1"), 405),
        (post("/", "{}"), 405),
        (post("/next/1", r#"{"track": 1, "time": 1.0}"#), 200),
        (post("/last/1", r#"{"track": 1, "time": 0.5}"#), 200),
        (post("/last/2", r#"{"track": 1, "time": 0.5}"#), 200),
        (post("/next/-1", r#"{"track": 1, "time": 1.0}"#), 400),
        (post("/next/abc", r#"{"track": 1, "time": 1.0}"#), 400),
        (
            post("/next/99999999999999999999", r#"{"track": 1, "time": 1.0}"#),
            400,
        ),
        (post("/next/", r#"{"track": 1, "time": 1.0}"#), 400),
        (post("/next/1", ""), 400),
        (post("/next/1", "{"), 400),
        (post("/next/1", "[1, 2]"), 400),
        (post("/next/1", "null"), 400),
        (post("/next/1", r#"{"time": 1.0}"#), 400),
        (post("/next/1", r#"{"track": 1}"#), 400),
        (post("/next/1", r#"{"track": "1", "time": 1.0}"#), 400),
        (post("/next/1", r#"{"track": -5, "time": 1.0}"#), 400),
        (post("/next/1", r#"{"track": 1.5, "time": 1.0}"#), 400),
        (post("/next/1", r#"{"track": 3000, "time": 1.0}"#), 400),
        (post("/next/1", r#"{"track": 1, "time": "fast"}"#), 400),
        (post("/next/1", r#"{"track": 1, "time": null}"#), 400),
        (post("/next/1", "\u{0}\u{1}\u{2}"), 400),
        (
            post(
                "/next/1",
                &format!(
                    "{{\"track\": 1, \"time\": 1.0, \"pad\": \"{}\"}}",
                    "x".repeat(5000)
                ),
            ),
            413,
        ),
        (
            b"POST /next/1 HTTP/1.1\r\nContent-Length: 999999999999999\r\n\r\n{}".to_vec(),
            413,
        ),
        (
            b"POST /next/1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
                .to_vec(),
            411,
        ),
        (
            b"POST /next/1 HTTP/1.1\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\n{}".to_vec(),
            417,
        ),
        (b"HEAD / HTTP/1.1\r\n\r\n".to_vec(), 200),
    ];
    for (request, expected) in &cases {
        let shown = String::from_utf8_lossy(&request[..request.len().min(80)]).into_owned();
        let (status, body) =
            exchange(&addr, request).unwrap_or_else(|| panic!("no answer to {shown:?}"));
        assert_eq!(status, *expected, "{shown:?} -> {body}");
        if request.starts_with(b"HEAD") {
            assert_eq!(body, "", "no body to a HEAD");
            continue;
        }
        let json: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{shown:?}: body not JSON ({e}): {body}"));
        if status >= 400 {
            assert!(
                json["error"].as_str().is_some_and(|m| !m.is_empty()),
                "{body}"
            );
        }
    }

    // Bytes that are not an HTTP request, or a head over 8 KiB: the HTTP layer (hyper)
    // answers them itself, with its bare status (no body), and closes.
    let not_http: Vec<(Vec<u8>, u16)> = vec![
        (
            b"POST /next/1 HTTP/1.1\r\nContent-Length: 184467440737095516150\r\n\r\n".to_vec(),
            400,
        ),
        (b"GET / HTTP/9.9\r\n\r\n".to_vec(), 400),
        (b"HELLO\r\n\r\n".to_vec(), 400),
        (b"GET / HTTP/1.1\r\nbroken header\r\n\r\n".to_vec(), 400),
        (
            format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "y".repeat(10_000)).into_bytes(),
            431,
        ),
        (b"\xff\xfe\r\n\r\n".to_vec(), 400),
    ];
    for (request, expected) in &not_http {
        let shown = String::from_utf8_lossy(&request[..request.len().min(80)]).into_owned();
        let (status, body) =
            exchange(&addr, request).unwrap_or_else(|| panic!("no answer to {shown:?}"));
        assert_eq!(status, *expected, "{shown:?} -> {body}");
        assert_eq!(body, "", "{shown:?}");
    }

    // Garbage after a valid request on a keep-alive connection: its answer, then hyper's
    // bare 400.
    let mut both = get("/track/1");
    both.extend_from_slice(b"HELLO\r\n\r\n");
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream.write_all(&both).unwrap();
    let mut answers = String::new();
    stream.read_to_string(&mut answers).unwrap();
    let answers: Vec<&str> = answers.split("HTTP/1.1 ").skip(1).collect();
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert!(
        answers[0].starts_with("200 ") && answers[0].contains("\"track\":1"),
        "{answers:?}"
    );
    assert!(answers[1].starts_with("400 "), "{answers:?}");
    assert_eq!(answers[1].split_once("\r\n\r\n").unwrap().1, "");

    // A huge body actually sent: answered 413 without reading it all.
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let _ = stream.write_all(b"POST /next/1 HTTP/1.1\r\nContent-Length: 50000000\r\n\r\n");
    let _ = stream.write_all(&vec![b'{'; 1 << 20]);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert_eq!(parse_answer(&answer).map(|a| a.0), Some(413));

    // Seeded random mutations of valid requests: any answer or a close, never a crash.
    let mut rng = chacha20::ChaCha8Rng::seed_from_u64(11);
    let valid = post("/next/7", r#"{"track": 12, "time": 0.25}"#);
    for _ in 0..300 {
        let mut request = valid.clone();
        for _ in 0..rng.random_range(1..6) {
            let at = rng.random_range(0..request.len());
            match rng.random_range(0..3) {
                0 => request[at] = rng.random(),
                1 => {
                    request.remove(at);
                }
                _ => request.insert(at, rng.random()),
            }
        }
        if rng.random_bool(0.2) {
            request.truncate(rng.random_range(0..request.len()));
        }
        if let Some((status, _)) = exchange(&addr, &request) {
            assert!(
                [200, 400, 404, 405, 408, 411, 413, 417, 431].contains(&status),
                "{status}"
            );
        }
    }

    // Concurrent keep-alive clients, valid and invalid requests mixed.
    std::thread::scope(|scope| {
        for c in 0..8u32 {
            let addr = &addr;
            scope.spawn(move || {
                let mut stream = TcpStream::connect(addr).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(15)))
                    .unwrap();
                let mut buf = vec![0u8; 4096];
                for i in 0..150u32 {
                    let user = 1000 + c * 10 + i % 10;
                    let (request, expected) = match i % 5 {
                        4 => (post(&format!("/next/{user}"), "{\"track\": oops"), 400),
                        3 => (
                            post(&format!("/last/{user}"), r#"{"track": 3, "time": 0.0}"#),
                            200,
                        ),
                        _ => (
                            post(&format!("/next/{user}"), r#"{"track": 3, "time": 0.5}"#),
                            200,
                        ),
                    };
                    stream.write_all(&request).unwrap();
                    let n = stream.read(&mut buf).unwrap();
                    let (status, _) = parse_answer(&buf[..n]).expect("an answer");
                    assert_eq!(status, expected, "client {c}, request {i}");
                }
            });
        }
    });

    // Pipelined requests for users on different session threads: answers in request order.
    let mut pipelined = Vec::new();
    for user in 0..40 {
        pipelined.extend(post(
            &format!("/next/{}", 5000 + user),
            r#"{"track": 9, "time": 1.0}"#,
        ));
    }
    pipelined.extend(get("/track/1"));
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream.write_all(&pipelined).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answers = String::new();
    stream.read_to_string(&mut answers).unwrap();
    let users: Vec<i64> = answers
        .split("HTTP/1.1 ")
        .skip(1)
        .map(|a| {
            let body = a.split_once("\r\n\r\n").unwrap().1;
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            v["user"].as_i64().unwrap_or(-1)
        })
        .collect();
    let mut expected: Vec<i64> = (5000..5040).collect();
    expected.push(-1);
    assert_eq!(users, expected);

    // Still alive, then a clean stop with a valid log.
    assert_eq!(exchange(&addr, &get("/")).map(|a| a.0), Some(200));
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    let logged = events(&server.log);
    assert!(logged.len() >= 8 * 120, "{}", logged.len());
}
