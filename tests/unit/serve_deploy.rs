//! Unit tests of `core/src/serve/deploy.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::serve::deploy::*;

#[test]
fn the_shared_nginx_site_is_filled_for_local_replicas() {
    let site = render_nginx_site(8080, &["127.0.0.1:1".into(), "127.0.0.1:2".into()]);
    assert!(site.contains("listen 8080;"), "{site}");
    assert!(site.contains("server 127.0.0.1:1; server 127.0.0.1:2;"));
    assert!(
        !site.contains("${NGINX_PORT}") && !site.contains("${RECOMMENDER_SERVERS}"),
        "{site}"
    );
}
