//! Unit tests of `train/src/input.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::train::Interaction;
use botify_sim::train::input::*;
use std::io::Write;

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

const NEXT: &str = r#"{"message":"next","timestamp":1,"user":3,"track":4,"time":1.0,"latency":0.0,"recommendation":5,"experiments":{}}"#;

#[test]
fn reads_events_and_names_bad_lines() {
    let f = file(&format!("{NEXT}\n\n{NEXT}\n"));
    let log = read_log(f.path(), Some(5)).unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(
        log[0],
        Interaction {
            user: 3,
            track: 4,
            time: 1.0
        }
    );
    let err = read_log(f.path(), Some(4)).unwrap_err().to_string();
    assert!(err.contains(":1: track 4 is not in the catalogue"), "{err}");
    let f = file(&format!("{NEXT}\n{{\"message\": \"next\"\n"));
    let err = read_log(f.path(), None).unwrap_err().to_string();
    assert!(err.contains(":2: not an event"), "{err}");
}

#[test]
fn reads_tracks_and_checks_ids() {
    let f = file(
        "{\"track\":0,\"artist\":\"a\",\"title\":\"x\"}\n{\"track\":1,\"artist\":\"b\",\"title\":\"y\"}\n{\"track\":2,\"artist\":\"a\",\"title\":\"z\"}\n",
    );
    assert_eq!(read_tracks(f.path()).unwrap(), vec![0, 1, 0]);
    let f = file("{\"track\":0,\"artist\":\"a\"}\n{\"track\":2,\"artist\":\"b\"}\n");
    let err = read_tracks(f.path()).unwrap_err().to_string();
    assert!(err.contains(":2: expected track id 1"), "{err}");
}
