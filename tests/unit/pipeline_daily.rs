//! Unit tests of `lib/src/pipeline/daily.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::pipeline::daily::*;

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

#[test]
fn source_logs_come_in_recipe_order() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["10-b.jsonl", "2-a.jsonl", "0-c.jsonl", "notes.txt"] {
        std::fs::write(dir.path().join(name), "").unwrap();
    }
    let names: Vec<String> = source_logs(dir.path())
        .unwrap()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["0-c.jsonl", "2-a.jsonl", "10-b.jsonl"]);
}
