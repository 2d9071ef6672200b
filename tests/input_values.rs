//! Impossible values typed by a user are refused before any work, naming the flag or key.

use crate::common::*;

#[test]
fn train_refuses_impossible_flags_and_unwritable_outputs_before_reading_logs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("adir")).unwrap();
    // The logs do not exist: every check below must come first.
    let base = ["train", "dssm", "--logs", "missing.jsonl"];
    let cases: [(&[&str], &str); 9] = [
        (
            &["--out", "nodir/recs.jsonl"],
            "--out nodir/recs.jsonl: the folder nodir does not exist",
        ),
        (
            &["--out", "adir"],
            "--out adir: is a directory; give a file name",
        ),
        (
            &["--out", "r.jsonl", "--summary", "nodir/s.json"],
            "--summary nodir/s.json: the folder nodir does not exist",
        ),
        (
            &["--out", "r.jsonl", "--top-k", "0"],
            "--top-k must be at least 1, got 0",
        ),
        (
            &["--out", "r.jsonl", "--dim", "0"],
            "--dim must be at least 1, got 0",
        ),
        (
            &["--out", "r.jsonl", "--epochs", "0"],
            "--epochs must be at least 1, got 0",
        ),
        (
            &["--out", "r.jsonl", "--batch-size", "0"],
            "--batch-size must be at least 1, got 0",
        ),
        (
            &["--out", "r.jsonl", "--validation-fraction", "1"],
            "--validation-fraction must be in [0, 1), got 1",
        ),
        (
            &["--out", "r.jsonl", "--lr", "NaN"],
            "--lr must be a finite number >= 0, got NaN",
        ),
    ];
    for (args, expected) in cases {
        let mut all = base.to_vec();
        all.extend_from_slice(args);
        let out = sim(&all, dir.path());
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
    }
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(leftovers, 1, "the write check leaves no file behind");
}

#[test]
fn users_json_budgets_and_neighbours_below_one_are_refused_naming_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let export = sim(&["world", "export", "world", "--config", "env.yml"], {
        small_world_config(dir.path());
        dir.path()
    });
    assert!(export.status.success(), "{}", stderr(&export));
    let users = std::fs::read_to_string(dir.path().join("world/users.json")).unwrap();
    std::fs::write(
        dir.path().join("course.yml"),
        "world:\n  source: course\n  dir: world\n",
    )
    .unwrap();
    for (key, value, expected) in [
        (
            "session_budget",
            "0",
            "world/users.json: user 3: session_budget must be at least 1, got 0",
        ),
        (
            "interest_neighbours",
            "0",
            "world/users.json: user 3: interest_neighbours must be at least 1, got 0",
        ),
    ] {
        let edited: String = users
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                if v["user"] == 3 {
                    v[key] = serde_json::from_str(value).unwrap();
                }
                v.to_string() + "\n"
            })
            .collect();
        std::fs::write(dir.path().join("world/users.json"), edited).unwrap();
        let out = sim(&["world", "info", "--config", "course.yml"], dir.path());
        assert_eq!(out.status.code(), Some(1), "{key}");
        assert!(stderr(&out).contains(expected), "{key}: {}", stderr(&out));
    }
}
