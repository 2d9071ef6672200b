//! `sim run --remote` checks that the service serves the simulated catalogue before it
//! runs: a service with another world is an error naming the track and both values.

use crate::common::*;
use crate::http_support::*;

const ONE_ARM: &str = "name: one\narms:\n  C: {kind: random}\n";

fn remote_run(
    dir: &std::path::Path,
    url: &str,
    config: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "run",
        "--remote",
        url,
        "--config",
        config,
        "--episodes",
        "20",
        "--out",
        "remote",
    ];
    args.extend_from_slice(extra);
    sim(&args, dir)
}

#[test]
fn a_service_with_another_catalogue_is_refused_unless_the_check_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let served = small_world_config(d);
    std::fs::write(d.join("one.yml"), ONE_ARM).unwrap();
    let mut server = Server::start(d, &d.join("one.yml"), &served, "served.jsonl");

    let same = remote_run(d, &server.url, "env.yml", &[]);
    assert!(
        same.status.success(),
        "the served world passes: {}",
        stderr(&same)
    );

    // Same sizes, another seed: every artist and title differs.
    std::fs::write(
        d.join("other.yml"),
        "world:\n  synthetic: {tracks: 3000, artists: 700, users: 400, seed: 8}\n",
    )
    .unwrap();
    let other = remote_run(d, &server.url, "other.yml", &[]);
    assert_eq!(other.status.code(), Some(1));
    let err = stderr(&other);
    assert!(
        err.contains(&format!(
            "GET {}/track/0: the service has another catalogue: track 0 is",
            server.url
        )),
        "{err}"
    );
    assert!(
        err.contains("in the simulated world (use --no-catalogue-check"),
        "{err}"
    );
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("Error: GET") && !err.contains("backtrace"),
        "{err}"
    );

    // A smaller simulated world: the service knows ids past its end.
    std::fs::write(
        d.join("smaller.yml"),
        "world:\n  synthetic: {tracks: 2000, artists: 700, users: 400, seed: 7}\n",
    )
    .unwrap();
    let smaller = remote_run(d, &server.url, "smaller.yml", &[]);
    assert_eq!(smaller.status.code(), Some(1));
    assert!(stderr(&smaller).contains("/track/"), "{}", stderr(&smaller));

    let skipped = remote_run(d, &server.url, "other.yml", &["--no-catalogue-check"]);
    assert!(skipped.status.success(), "{}", stderr(&skipped));
    server.terminate();
}
