//! Unit tests of `src/pipeline/daily.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::pipeline::daily::*;

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
