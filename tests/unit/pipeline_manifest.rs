//! Unit tests of `src/pipeline/manifest.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::pipeline::manifest::*;
use std::path::Path;

fn artifact() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    std::fs::write(
        dir.path().join("recs.jsonl"),
        "{\"user\":0,\"tracks\":[1]}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("logs/0-a.jsonl"), "{}\n").unwrap();
    write(dir.path()).unwrap();
    dir
}

#[test]
fn a_fresh_artifact_is_valid_and_a_missing_one_absent() {
    let dir = artifact();
    assert_eq!(check(dir.path()), Check::Valid);
    assert_eq!(check(&dir.path().join("nothing")), Check::Absent);
}

#[test]
fn every_kind_of_damage_names_the_file() {
    let damaged = |harm: &dyn Fn(&Path)| {
        let dir = artifact();
        harm(dir.path());
        match check(dir.path()) {
            Check::Damaged(why) => why,
            other => panic!("{other:?}"),
        }
    };
    let cut = damaged(&|d| std::fs::write(d.join("recs.jsonl"), "{\"user\"").unwrap());
    assert!(cut.contains("recs.jsonl is 7 bytes"), "{cut}");
    let empty = damaged(&|d| std::fs::write(d.join("logs/0-a.jsonl"), "").unwrap());
    assert!(empty.contains("0-a.jsonl is 0 bytes"), "{empty}");
    // Same size, other content.
    let edited = damaged(&|d| {
        std::fs::write(d.join("recs.jsonl"), "{\"user\":0,\"tracks\":[2]}\n").unwrap()
    });
    assert!(edited.contains("recs.jsonl: content differs"), "{edited}");
    let gone = damaged(&|d| std::fs::remove_file(d.join("recs.jsonl")).unwrap());
    assert!(gone.contains("recs.jsonl"), "{gone}");
    let no_manifest = damaged(&|d| std::fs::remove_file(d.join(FILE_NAME)).unwrap());
    assert!(no_manifest.contains(FILE_NAME), "{no_manifest}");
}
