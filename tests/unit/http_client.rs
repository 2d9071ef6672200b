//! Unit tests of `core/src/http_client.rs` (moved out of the library: see `tests/unit/mod.rs`).

use crate::unit::http_test_server::{Reply, answer, start, start_counting_closes, wait_for_closes};
use botify_sim::http_client::*;
use std::time::Duration;

fn client() -> HttpClient {
    HttpClient::new(Duration::from_millis(2_000))
}

#[test]
fn urls_split_into_host_header_address_and_path() {
    let t = Target::parse("http://localhost:5001/prefix/next/3").unwrap();
    assert_eq!(
        (t.authority.as_str(), t.address.as_str(), t.path.as_str()),
        ("localhost:5001", "localhost:5001", "/prefix/next/3")
    );
    let t = Target::parse("http://example.org").unwrap();
    assert_eq!(
        (t.address.as_str(), t.path.as_str()),
        ("example.org:80", "/")
    );
    let t = Target::parse("http://[::1]:8080/x").unwrap();
    assert_eq!(t.address, "[::1]:8080");
    for (url, why) in [
        ("https://h/", "http://"),
        ("h:1/", "http://"),
        ("http://", "no host"),
        ("http://:5000/", "no host"),
        ("http://h:port/", "bad port"),
        ("http://h:70000/", "bad port"),
        ("http://h/a b", "bad path"),
    ] {
        let err = Target::parse(url).unwrap_err();
        assert!(err.contains(why) && err.contains(url), "{url}: {err}");
    }
}

#[test]
fn requests_reuse_one_kept_alive_connection() {
    let (url, seen) = start(10, |n| Reply::Send(answer(200, &format!("{{\"n\": {n}}}"))));
    let client = client();
    for n in 1..=5 {
        let got = client
            .post_json(&format!("{url}/next/7"), format!("{{\"track\": {n}}}"))
            .unwrap();
        let body = format!("{{\"n\": {n}}}");
        assert_eq!(got, Answer { status: 200, body });
    }
    assert_eq!(client.get(&format!("{url}/track/0")).unwrap().status, 200);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "one connection for every request");
    let first = &seen[0][0];
    assert!(first.starts_with("POST /next/7 HTTP/1.1\r\n"), "{first}");
    let host = url.strip_prefix("http://").unwrap();
    let lower = first.to_ascii_lowercase();
    assert!(lower.contains(&format!("host: {host}\r\n")), "{first}");
    assert!(
        lower.contains("content-type: application/json\r\n"),
        "{first}"
    );
    assert!(first.ends_with("\r\n\r\n{\"track\": 1}"), "{first}");
    assert!(seen[0][5].starts_with("GET /track/0 HTTP/1.1\r\n"));
}

/// A server that closes idle connections (a keep-alive timeout): the next request goes
/// on a new connection instead of failing, and is sent once.
#[test]
fn a_connection_the_server_closed_while_idle_is_replaced() {
    let (url, seen, closed) = start_counting_closes(10, |_| Reply::SendAndClose(answer(200, "{}")));
    let client = client();
    for done in 0..4 {
        // The server's close has arrived, as with a real keep-alive timeout.
        wait_for_closes(&closed, done);
        assert_eq!(client.get(&format!("{url}/")).unwrap().status, 200);
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|requests| requests.len() == 1), "{seen:?}");
}

#[test]
fn each_failure_is_a_transport_error_saying_what_happened() {
    let (url, _) = start(1, |_| Reply::Silence);
    let client = HttpClient::new(Duration::from_millis(200));
    let err = client.get(&format!("{url}/")).unwrap_err();
    assert!(err.is_transport());
    assert_eq!(
        err.to_string(),
        "timed out after 200 ms waiting for the answer"
    );

    let (url, _) = start(1, |_| Reply::SendAndClose("SMTP ready\r\n\r\n".into()));
    let err = client.get(&format!("{url}/")).unwrap_err();
    assert!(
        err.is_transport() && err.to_string().contains("invalid"),
        "{err}"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = client
        .get(&format!("http://127.0.0.1:{port}/"))
        .unwrap_err();
    assert!(err.is_transport());
    assert!(
        err.to_string()
            .starts_with(&format!("cannot connect to 127.0.0.1:{port}: ")),
        "{err}"
    );

    let err = client.get("https://example.org/").unwrap_err();
    assert!(!err.is_transport(), "a bad URL is not worth retrying");
}

/// The pool is shared by threads: a connection one thread gave back serves another.
#[test]
fn a_pooled_connection_moves_between_threads() {
    let (url, seen) = start(10, |_| Reply::Send(answer(200, "{}")));
    let client = client();
    std::thread::scope(|s| {
        s.spawn(|| client.get(&format!("{url}/")).unwrap());
    });
    assert_eq!(client.get(&format!("{url}/")).unwrap().status, 200);
    assert_eq!(seen.lock().unwrap().len(), 1);
}
