//! Unit tests of `core/src/serve/log_file.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::serve::log_file::*;

#[test]
fn a_claimed_log_is_appended_to_and_refused_to_a_second_claim() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("served.jsonl");
    std::fs::write(&path, "{\"old\": 1}\n{\"cut").unwrap();
    let (mut writer, pid) = claim(&path).unwrap();
    writer.write_lines(b"{\"new\": 2}\n").unwrap();
    writer.flush().unwrap();
    let err = claim(&path).err().unwrap().to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(
        err.contains(&format!("process {}", std::process::id())),
        "{err}"
    );
    drop((writer, pid));
    assert!(!pid_file(&path).exists());
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{\"old\": 1}\n{\"cut\n{\"new\": 2}\n"
    );
    assert!(claim(&path).is_ok(), "free again once the first is gone");
}
