//! Unit tests of `core/src/experiment/builtin.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::experiment::builtin::*;
use std::path::Path;

#[test]
fn names_are_built_ins_and_paths_are_files() {
    let seminar = locate("seminar").unwrap();
    assert_eq!(seminar, Path::new("<built-in>/seminar.yml"));
    assert!(
        contents(&seminar)
            .unwrap()
            .unwrap()
            .contains("name: seminar")
    );
    assert_eq!(locate("x/seminar").unwrap(), Path::new("x/seminar"));
    assert_eq!(locate("seminar.yml").unwrap(), Path::new("seminar.yml"));
    assert!(contents(Path::new("experiments/seminar.yml")).is_none());
    let err = locate("nope").unwrap_err().to_string();
    assert!(err.contains("\"nope\"") && err.contains("seminar"), "{err}");
}

#[test]
fn every_shipped_experiment_is_built_in_except_the_symlink() {
    let names = names();
    for name in ["ceiling", "dssm_baseline", "hw2", "seminar"] {
        assert!(names.contains(&name), "{names:?}");
    }
    assert!(!names.contains(&"default"), "{names:?}");
}
