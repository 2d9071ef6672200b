//! Unit tests of `support/src/deploy.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim_support::deploy::*;

#[test]
fn the_shared_nginx_site_is_filled_for_local_replicas() {
    let site = render_nginx_site(8080, &["127.0.0.1:1".into(), "127.0.0.1:2".into()]).unwrap();
    assert!(site.contains("listen 8080;"), "{site}");
    assert!(site.contains("server 127.0.0.1:1; server 127.0.0.1:2;"));
    assert!(placeholders(&site).is_empty(), "{site}");
    assert_eq!(
        placeholders(NGINX_SITE).into_iter().collect::<Vec<_>>(),
        ["NGINX_PORT", "RECOMMENDER_SERVERS"]
    );
}

#[test]
fn a_placeholder_without_a_value_is_an_error_naming_it() {
    let e = render_template("listen ${PORT}; ${OTHER}", &[("PORT", "1".into())])
        .unwrap_err()
        .to_string();
    assert!(e.contains("${OTHER}"), "{e}");
    assert_eq!(
        render_template("a ${X} b ${X}", &[("X", "1".into())]).unwrap(),
        "a 1 b 1"
    );
}

/// A port already listened on by another process: redis-server, told to use it, says so
/// and exits, and the launcher goes on to the next port; the daemon it returns answers as
/// itself (its pid in `INFO server`), not as the squatter.
#[test]
fn a_daemon_whose_port_is_taken_first_is_started_on_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap().port();
    let e = start_redis_on(dir.path(), taken).err().unwrap().to_string();
    assert!(e.contains(&format!("port {taken} is in use")), "{e}");
    let (_guard, free) = refusing_port().unwrap();
    drop(_guard);
    let redis = start_redis_trying(dir.path(), [Ok(taken), Ok(taken), Ok(free)]).unwrap();
    assert_eq!(redis.port, free);
    let e = start_redis_trying(dir.path(), [Ok(taken), Ok(taken)])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains(&format!("{taken}, {taken}")), "{e}");
    let nginx = start_nginx(&dir.path().join("nginx"), &[redis.address()]).unwrap();
    assert_ne!(nginx.port, taken);
}

#[test]
fn a_refusing_port_refuses() {
    let (_guard, port) = refusing_port().unwrap();
    let e = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
}
