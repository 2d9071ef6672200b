//! Unit tests of `core/src/recommend/lists.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::recommend::lists::*;
use std::io::Write;

fn file_with(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

#[test]
fn reads_lists_and_reports_bad_lines_with_line_numbers() {
    let f = file_with("{\"user\": 2, \"tracks\": [1, 3]}\n\n{\"user\": 0, \"tracks\": []}\n");
    let lists = IdLists::read(f.path(), "user", "tracks", 5).unwrap();
    assert_eq!(lists.get(2), Some(&[1, 3][..]));
    assert_eq!(lists.get(0), None);
    assert_eq!(lists.get(9), None);

    let f = file_with("{\"user\": 2, \"tracks\": [1, 7]}\n");
    let err = IdLists::read(f.path(), "user", "tracks", 5).unwrap_err();
    assert!(format!("{err:#}").contains(":1: tracks holds 7"), "{err:#}");

    let f = file_with("{\"user\": 1, \"tracks\": [1]}\n{oops\n");
    let err = IdLists::read(f.path(), "user", "tracks", 5).unwrap_err();
    assert!(format!("{err:#}").contains(":2: invalid JSON"), "{err:#}");
}
