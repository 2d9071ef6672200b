//! Unit tests of `core/src/serve/log_file.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::serve::log_file::*;

#[test]
fn a_claimed_log_is_appended_to_and_refused_to_a_second_claim() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("served.jsonl");
    std::fs::write(&path, "{\"old\": 1}\n{\"cut").unwrap();
    let (log, pid) = claim(&path).unwrap();
    log.append(b"{\"new\": 2}\n").unwrap();
    // In the file at once: no buffer of ours to flush.
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{\"old\": 1}\n{\"cut\n{\"new\": 2}\n"
    );
    let err = claim(&path).err().unwrap().to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(
        err.contains(&format!("process {}", std::process::id())),
        "{err}"
    );
    drop((log, pid));
    assert!(!pid_file(&path).exists());
    assert!(claim(&path).is_ok(), "free again once the first is gone");
}

/// A write that fails (`/dev/full`: no space left) fails every later one too, each
/// naming the log and the cause.
#[test]
fn a_failed_write_fails_the_log_for_good() {
    let log = EventLog::create(std::path::Path::new("/dev/full")).unwrap();
    assert_eq!(log.failure(), None);
    let e = log.append(b"{}\n").unwrap_err().to_string();
    assert!(
        e.contains("/dev/full") && e.contains("No space left on device"),
        "{e}"
    );
    assert_eq!(log.failure(), Some(e.as_str()));
    assert_eq!(log.append(b"{}\n").unwrap_err(), e);
}
