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
        retries: Some(0),
        backoff_ms: 0,
        wait_ms: 0,
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
    let (_refusing, port) = botify_sim_support::deploy::refusing_port().unwrap();
    let remote = Remote::new(RemoteOptions {
        url: format!("http://127.0.0.1:{port}"),
        timeout_ms: 500,
        retries: Some(1),
        backoff_ms: 1,
        wait_ms: 10_000,
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
        retries: Some(retries),
        backoff_ms: 1,
        wait_ms: 10_000,
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

fn remote_waiting(url: &str, wait_ms: u64) -> Remote {
    Remote::new(RemoteOptions {
        url: url.to_string(),
        timeout_ms: 300,
        retries: None,
        backoff_ms: 10,
        wait_ms,
    })
    .unwrap()
}

/// A service unavailable for a while (its Redis restarting: 503s) is waited for: the
/// request is asked again, the waits doubling from 10 ms, until it is answered.
#[test]
fn an_unavailable_service_is_waited_for_within_the_wait() {
    let (url, seen) = start(5, |n| {
        Reply::Send(match n {
            1..=6 => answer(503, "store restarting"),
            _ => answer(200, r#"{"track": 5}"#),
        })
    });
    assert_eq!(next(&remote_waiting(&url, 10_000)), Ok(5));
    assert_eq!(seen.lock().unwrap().concat().len(), 7);
}

/// Past the wait the request fails, saying how many attempts it made: with a wait of
/// 0.5 s and waits of 10, 20, 40, 80, 160 ms (310 ms), the next (320 ms) would end past
/// it, so 6 attempts, each answered at once.
#[test]
fn a_service_unavailable_past_the_wait_fails_the_request() {
    let (url, seen) = start(5, |_| Reply::Send(answer(503, "store restarting")));
    let clock = std::time::Instant::now();
    let err = next(&remote_waiting(&url, 500)).unwrap_err();
    assert!(
        err.contains("HTTP 503") && err.contains("store restarting"),
        "{err}"
    );
    assert_eq!(seen.lock().unwrap().concat().len(), 6);
    assert!(clock.elapsed() >= std::time::Duration::from_millis(310));
    // With no wait at all: one attempt.
    let (url, seen) = start(5, |_| Reply::Send(answer(503, "store restarting")));
    assert!(next(&remote_waiting(&url, 0)).is_err());
    assert_eq!(seen.lock().unwrap().concat().len(), 1);
}
