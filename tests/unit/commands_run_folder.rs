//! Unit tests of `src/commands/run_folder.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::commands::run_folder::*;

#[test]
fn a_second_run_into_the_same_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = RunFolder::begin(dir.path()).unwrap();
    let second = RunFolder::begin(dir.path()).err().unwrap().to_string();
    assert!(
        second.contains(&format!("pid {}", std::process::id())),
        "{second}"
    );
    drop(first);
    assert!(RunFolder::begin(dir.path()).is_ok(), "the lock is released");
}

#[test]
fn commit_replaces_the_previous_run_and_drops_its_other_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("events.jsonl"), "old\n").unwrap();
    std::fs::write(dir.path().join("report.md"), "old").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "the user's").unwrap();
    std::fs::write(
        dir.path().join(RUN_JSON),
        r#"{"outputs": ["events.jsonl", "report.md", "run.json", "../escape"]}"#,
    )
    .unwrap();
    let folder = RunFolder::begin(dir.path()).unwrap();
    std::fs::write(folder.staged("events.jsonl"), "new\n").unwrap();
    std::fs::write(folder.staged(RUN_JSON), "{}").unwrap();
    folder.commit().unwrap();
    let names = file_names(dir.path()).unwrap();
    let expected = [LOCK, "events.jsonl", "notes.txt", RUN_JSON];
    assert_eq!(names, expected.iter().map(|s| s.to_string()).collect());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap(),
        "new\n"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        4,
        "no folder left"
    );
}

#[test]
fn a_dropped_run_leaves_the_previous_one_and_a_dead_runs_folder_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("events.jsonl"), "old\n").unwrap();
    let dead = dir.path().join(".run-999999.tmp");
    std::fs::create_dir(&dead).unwrap();
    let folder = RunFolder::begin(dir.path()).unwrap();
    assert!(!dead.exists());
    std::fs::write(folder.staged("events.jsonl"), "half").unwrap();
    drop(folder);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap(),
        "old\n"
    );
    assert_eq!(
        file_names(dir.path()).unwrap().len(),
        2,
        "events.jsonl and the lock"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}
