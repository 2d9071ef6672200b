//! Unit tests of `core/src/log/fingerprint.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::log::fingerprint::*;

#[test]
fn fingerprints_ignore_latency_only() {
    let a = b"{\"time\":0.5,\"latency\":0.00042,\"x\":1}\n{\"latency\":1e-7}\n";
    let b = b"{\"time\":0.5,\"latency\":0.1,\"x\":1}\n{\"latency\":3}\n";
    let c = b"{\"time\":0.6,\"latency\":0.1,\"x\":1}\n{\"latency\":3}\n";
    assert_eq!(without_latency(a), without_latency(b));
    assert_ne!(without_latency(a), without_latency(c));
    assert_eq!(
        without_latency(a),
        b"{\"time\":0.5,\"latency\":,\"x\":1}\n{\"latency\":}\n".to_vec()
    );
}
