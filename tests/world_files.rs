//! Course-format world files: the export round-trips, and each kind of bad input gives a
//! one-line error naming the file and the fault, with a non-zero exit.

use crate::common::*;
use std::path::{Path, PathBuf};

const TRACKS: usize = 300;
const DIM: usize = 32;

/// Exports a small synthetic world to `dir/world` and returns a config that loads it.
fn exported_world(dir: &Path) -> PathBuf {
    std::fs::write(
        dir.join("synthetic.yml"),
        format!("world:\n  synthetic: {{tracks: {TRACKS}, artists: 90, users: 40, seed: 3}}\n"),
    )
    .unwrap();
    let out = sim(
        &["world", "export", "world", "--config", "synthetic.yml"],
        dir,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let config = dir.join("course.yml");
    std::fs::write(&config, "world:\n  source: course\n  dir: world\n").unwrap();
    config
}

/// The f32 embeddings of the exported `tracks.npy` (little-endian, C order).
fn exported_embeddings(dir: &Path) -> Vec<f32> {
    let bytes = std::fs::read(dir.join("world/tracks.npy")).unwrap();
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    bytes[10 + header_len..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn run_log(dir: &Path, config: &str, out: &str) -> Vec<String> {
    let experiment = root().join("experiments/ceiling.yml");
    let args = [
        "run",
        "--experiment",
        experiment.to_str().unwrap(),
        "--config",
        config,
        "--episodes",
        "200",
        "--seed",
        "4",
        "--out",
        out,
    ];
    let result = sim(&args, dir);
    assert!(result.status.success(), "{}", stderr(&result));
    log_without_latency(&dir.join(out).join("events.jsonl"))
}

#[test]
fn export_then_load_gives_identical_simulations() {
    let dir = tempfile::tempdir().unwrap();
    exported_world(dir.path());
    for file in ["tracks.json", "tracks.npy", "users.json", "top_tracks.json"] {
        assert!(dir.path().join("world").join(file).exists(), "{file}");
    }
    let generated = run_log(dir.path(), "synthetic.yml", "a");
    let loaded = run_log(dir.path(), "course.yml", "b");
    assert_eq!(generated, loaded);
}

#[test]
fn big_endian_float64_and_fortran_order_embeddings_load_to_the_same_world() {
    let dir = tempfile::tempdir().unwrap();
    exported_world(dir.path());
    let reference = run_log(dir.path(), "course.yml", "ref");
    let values = exported_embeddings(dir.path());
    let npy = dir.path().join("world/tracks.npy");

    let be: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
    write_npy(&npy, ">f4", false, (TRACKS, DIM), &be);
    assert_eq!(run_log(dir.path(), "course.yml", "be"), reference);

    let f8: Vec<u8> = values
        .iter()
        .flat_map(|v| (*v as f64).to_le_bytes())
        .collect();
    write_npy(&npy, "<f8", false, (TRACKS, DIM), &f8);
    assert_eq!(run_log(dir.path(), "course.yml", "f8"), reference);

    let mut fortran = Vec::new();
    for col in 0..DIM {
        for row in 0..TRACKS {
            fortran.extend_from_slice(&values[row * DIM + col].to_le_bytes());
        }
    }
    write_npy(&npy, "<f4", true, (TRACKS, DIM), &fortran);
    assert_eq!(run_log(dir.path(), "course.yml", "fortran"), reference);
}

/// Applies `corrupt` to a fresh export and checks the one-line error.
fn assert_rejected(corrupt: impl Fn(&Path), expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    exported_world(dir.path());
    corrupt(&dir.path().join("world"));
    let out = sim(&["world", "info", "--config", "course.yml"], dir.path());
    let err = stderr(&out);
    // 1, an error: a panic exits with 101.
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    for part in expected {
        assert!(err.contains(part), "{part:?} not in {err}");
    }
}

fn edit_lines(path: &Path, edit: impl Fn(usize, &str) -> Option<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<String> = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| edit(i, l))
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn track_ids_must_be_exactly_zero_to_n_minus_one() {
    assert_rejected(
        |w| {
            edit_lines(&w.join("tracks.json"), |i, l| {
                Some(if i == 5 {
                    l.replace("\"track\":5,", "\"track\":999,")
                } else {
                    l.to_string()
                })
            })
        },
        &["tracks.json", "id 5 is missing"],
    );
    assert_rejected(
        |w| {
            edit_lines(&w.join("tracks.json"), |i, l| {
                Some(if i == 5 {
                    l.replace("\"track\":5,", "\"track\":4,")
                } else {
                    l.to_string()
                })
            })
        },
        &["tracks.json", "duplicate track id 4"],
    );
}

#[test]
fn embedding_rows_must_match_the_tracks() {
    assert_rejected(
        |w| {
            write_npy(
                &w.join("tracks.npy"),
                "<f4",
                false,
                (TRACKS - 1, DIM),
                &vec![0; (TRACKS - 1) * DIM * 4],
            )
        },
        &[
            "tracks.npy",
            &format!("{} rows", TRACKS - 1),
            &format!("{TRACKS} tracks"),
        ],
    );
}

/// A shape whose byte size overflows: 300 rows of 2^62 floats is 300 * 2^64 bytes, which
/// wraps to 0, the size of an empty payload.
#[test]
fn a_shape_whose_size_overflows_is_an_error_naming_the_shape() {
    assert_rejected(
        |w| write_npy(&w.join("tracks.npy"), "<f4", false, (TRACKS, 1 << 62), &[]),
        &[
            "tracks.npy",
            &format!("shape [{TRACKS}, {}]", 1u64 << 62),
            "too large",
        ],
    );
}

#[test]
fn integer_embeddings_are_rejected_with_the_dtype() {
    assert_rejected(
        |w| {
            write_npy(
                &w.join("tracks.npy"),
                "<i4",
                false,
                (TRACKS, DIM),
                &vec![0; TRACKS * DIM * 4],
            )
        },
        &["tracks.npy", "<i4"],
    );
}

#[test]
fn non_finite_embeddings_are_rejected_with_the_row() {
    let dir = tempfile::tempdir().unwrap();
    exported_world(dir.path());
    let mut values = exported_embeddings(dir.path());
    values[7 * DIM + 3] = f32::NAN;
    let payload: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_rejected(
        |w| write_npy(&w.join("tracks.npy"), "<f4", false, (TRACKS, DIM), &payload),
        &["tracks.npy", "row 7", "NaN"],
    );
}

#[test]
fn users_must_have_interests_inside_the_catalogue() {
    assert_rejected(
        |w| {
            edit_lines(&w.join("users.json"), |i, l| {
                Some(if i == 2 {
                    let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                    v["interests"] = serde_json::json!([1, 5000]);
                    v.to_string()
                } else {
                    l.to_string()
                })
            })
        },
        &["users.json", "user 2", "interest 5000"],
    );
    assert_rejected(
        |w| {
            edit_lines(&w.join("users.json"), |i, l| {
                Some(if i == 3 {
                    let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                    v["interests"] = serde_json::json!([]);
                    v.to_string()
                } else {
                    l.to_string()
                })
            })
        },
        &["users.json", "user 3", "no interests"],
    );
}

#[test]
fn malformed_json_lines_and_missing_files_are_named() {
    assert_rejected(
        |w| {
            edit_lines(&w.join("users.json"), |i, l| {
                Some(if i == 6 {
                    "{\"user\": 6, \"interests\": [1,".to_string()
                } else {
                    l.to_string()
                })
            })
        },
        &["users.json:7:"],
    );
    assert_rejected(
        |w| std::fs::remove_file(w.join("tracks.npy")).unwrap(),
        &["tracks.npy", "cannot read"],
    );
}

#[test]
fn optional_user_keys_take_the_config_defaults() {
    let dir = tempfile::tempdir().unwrap();
    exported_world(dir.path());
    edit_lines(&dir.path().join("world/users.json"), |_, l| {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        Some(serde_json::json!({"user": v["user"], "interests": v["interests"]}).to_string())
    });
    std::fs::write(
        dir.path().join("course.yml"),
        "world:\n  source: course\n  dir: world\nuser_defaults:\n  session_budget: 1\n  consume_bias: 100.0\n",
    )
    .unwrap();
    // Bias 100: every recommendation scores time 0, so budget 1 gives exactly 1 step.
    let log = run_log(dir.path(), "course.yml", "o");
    let nexts = log.iter().filter(|l| l.contains("\"next\"")).count();
    assert_eq!(nexts, 200);
}

/// `sim world export` into the folder its course world is read from is refused, the
/// files left as they were.
#[test]
fn exporting_a_course_world_into_its_own_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    exported_world(dir.path());
    let before = std::fs::read(dir.path().join("world/tracks.npy")).unwrap();
    std::fs::remove_file(dir.path().join("world/top_tracks.json")).unwrap();
    let out = sim(
        &["world", "export", "world", "--config", "course.yml"],
        dir.path(),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("is the folder the config's world is read from"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("world/tracks.npy")).unwrap(),
        before
    );
    assert!(!dir.path().join("world/top_tracks.json").exists());
}
