//! Unit tests of `core/src/recommend/remote.rs` (moved out of the library: see `tests/unit/mod.rs`).

use crate::unit::http_test_server::{Reply, answer, start};
use botify_sim::recommend::remote::*;
use botify_sim::recommend::{RecRng, Recommender, SessionStart};

#[test]
fn answers_without_a_usable_track_are_clear_errors() {
    let url = "http://h:1/next/3";
    assert_eq!(
        parse_next_answer(url, r#"{"user": 3, "track": 17}"#).unwrap(),
        17
    );
    let err = parse_next_answer(url, "<html>oops</html>")
        .unwrap_err()
        .to_string();
    assert!(err.contains("not JSON") && err.contains(url), "{err}");
    let err = parse_next_answer(url, r#"{"user": 3}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no \"track\"") && err.contains(url), "{err}");
    for bad in [
        r#"{"track": -1}"#,
        r#"{"track": "5"}"#,
        r#"{"track": 1e12}"#,
    ] {
        assert!(parse_next_answer(url, bad).is_err(), "{bad}");
    }
    let err = parse_next_answer(url, r#"{"track": 99999999999}"#).unwrap_err();
    assert!(err.to_string().contains("99999999999"), "{err}");
}

#[test]
fn urls_must_be_plain_http() {
    let options = |url: &str| RemoteOptions {
        url: url.into(),
        timeout_ms: 100,
        retries: 0,
        backoff_ms: 0,
    };
    assert!(Remote::new(options("http://127.0.0.1:5001/")).is_ok());
    assert!(
        Remote::new(options("https://x"))
            .err()
            .unwrap()
            .contains("http://")
    );
    assert!(
        Remote::new(options("http://"))
            .err()
            .unwrap()
            .contains("no host")
    );
}

#[test]
fn nothing_listening_fails_fast_naming_the_url() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let remote = Remote::new(RemoteOptions {
        url: format!("http://127.0.0.1:{port}"),
        timeout_ms: 500,
        retries: 1,
        backoff_ms: 1,
    })
    .unwrap();
    let err = remote.probe().unwrap_err().to_string();
    assert!(err.contains(&format!("http://127.0.0.1:{port}/")), "{err}");
    assert!(err.contains("2 attempt"), "{err}");
    let mut session = remote.start(&SessionStart {
        user: 4,
        hidden_taste: 0,
    });
    let mut rng = <RecRng as rand::SeedableRng>::seed_from_u64(0);
    let err = session.next(1, 1.0, &mut rng).unwrap_err().to_string();
    assert!(err.contains(&format!("127.0.0.1:{port}/next/4")), "{err}");
    let err = session.next(1, 1.0, &mut rng).unwrap_err().to_string();
    assert!(
        err.contains("service is down") && err.contains("attempt"),
        "{err}"
    );
}

fn remote_at(url: &str, retries: u32) -> Remote {
    Remote::new(RemoteOptions {
        url: url.to_string(),
        timeout_ms: 300,
        retries,
        backoff_ms: 1,
    })
    .unwrap()
}

fn next(remote: &Remote) -> Result<u32, String> {
    let mut session = remote.start(&SessionStart {
        user: 4,
        hidden_taste: 0,
    });
    let mut rng = <RecRng as rand::SeedableRng>::seed_from_u64(0);
    session.next(1, 1.0, &mut rng).map_err(|e| e.to_string())
}

#[test]
fn a_503_is_retried_like_a_lost_connection_other_statuses_are_not() {
    let (url, seen) = start(5, |n| {
        Reply::Send(match n {
            1 => answer(503, "store restarting"),
            _ => answer(200, r#"{"track": 5}"#),
        })
    });
    assert_eq!(next(&remote_at(&url, 1)), Ok(5));
    assert_eq!(seen.lock().unwrap().concat().len(), 2);

    let (url, seen) = start(5, |_| Reply::Send(answer(503, "store restarting")));
    let remote = remote_at(&url, 0);
    for _ in 0..2 {
        // An answer, even a 503, means the service is up: each call asks it.
        let err = next(&remote).unwrap_err();
        assert!(
            err.contains(&format!("POST {url}/next/4 answered HTTP 503")),
            "{err}"
        );
        assert!(err.contains("store restarting"), "{err}");
    }
    assert_eq!(seen.lock().unwrap().concat().len(), 2);

    let (url, seen) = start(5, |_| Reply::Send(answer(500, "bug")));
    let err = next(&remote_at(&url, 3)).unwrap_err();
    assert!(err.contains("HTTP 500"), "{err}");
    assert_eq!(
        seen.lock().unwrap().concat().len(),
        1,
        "a 500 is not retried"
    );
}

#[test]
fn a_service_that_stops_answering_times_out_then_counts_as_down() {
    let (url, seen) = start(5, |_| Reply::Silence);
    let remote = remote_at(&url, 1);
    let err = next(&remote).unwrap_err();
    assert!(
        err.contains(&format!("POST {url}/next/4: timed out after 300 ms")),
        "{err}"
    );
    assert!(err.contains("2 attempt"), "{err}");
    let err = next(&remote).unwrap_err();
    assert!(err.contains("the service is down"), "{err}");
    assert_eq!(
        seen.lock().unwrap().concat().len(),
        2,
        "no request once down"
    );
}
