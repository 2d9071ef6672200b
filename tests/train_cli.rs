//! `sim train dssm` end to end: files in, files out, errors naming the file and line.

use crate::common::Finish;
use botify_sim::train::synthetic::{SyntheticConfig, SyntheticLog};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

fn write_log(dir: &Path) -> (PathBuf, PathBuf, SyntheticLog) {
    let log = SyntheticLog::generate(&SyntheticConfig {
        users: 200,
        tracks: 1_000,
        artists: 200,
        genres: 10,
        favourite_artists: 4,
        events: 10_000,
        session_length: 20,
        seed: 4,
    });
    let events = dir.join("events.jsonl");
    let mut f = std::fs::File::create(&events).unwrap();
    for e in log.events() {
        writeln!(f, "{}", serde_json::to_string(&e).unwrap()).unwrap();
    }
    let tracks = dir.join("tracks.json");
    let mut f = std::fs::File::create(&tracks).unwrap();
    for (t, a) in log.artist_of.iter().enumerate() {
        writeln!(f, r#"{{"track": {t}, "artist": "a{a}", "title": "t{t}"}}"#).unwrap();
    }
    (events, tracks, log)
}

fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sim"))
}

/// On a terminal (a pty made by `script`) training shows its epochs on stderr; with `-q`
/// nothing at all.
#[test]
fn quiet_training_shows_nothing_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let (events, tracks, _) = write_log(dir.path());
    let screen = |quiet: &str| {
        let command = format!(
            "'{}' {quiet} train dssm --logs '{}' --tracks '{}' --out '{}' --dim 8 --epochs 2 >/dev/null",
            env!("CARGO_BIN_EXE_sim"),
            events.display(),
            tracks.display(),
            dir.path().join("recs.jsonl").display(),
        );
        let out = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .output()
            .expect("script (util-linux) runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown = screen("");
    assert!(
        shown.contains("epoch   1") && shown.contains("trained on"),
        "{shown}"
    );
    let quiet = screen("-q");
    assert!(quiet.trim().is_empty(), "{quiet}");
}

#[test]
fn writes_recommendations_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (events, tracks, _) = write_log(dir.path());
    let out = dir.path().join("recs.jsonl");
    let run = |threads: &str, out: &Path| {
        sim()
            .args(["train", "dssm", "--logs"])
            .arg(&events)
            .arg("--tracks")
            .arg(&tracks)
            .arg("--out")
            .arg(out)
            .args([
                "--top-k", "7", "--dim", "16", "--epochs", "3", "--seed", "5",
            ])
            .args(["--init", "identity:3", "--threads", threads])
            .success()
    };
    let output = run("1", &out);
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(stderr.contains("trained on 10000 plays"), "{stderr}");
    assert!(
        !stderr.contains("epoch   1"),
        "no progress when piped: {stderr}"
    );

    let text = std::fs::read_to_string(&out).unwrap();
    let mut users = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let tracks = v["tracks"].as_array().unwrap();
        assert_eq!(tracks.len(), 7, "{line}");
        assert!(tracks.iter().all(|t| t.as_u64().unwrap() < 1_000));
        users.push(v["user"].as_u64().unwrap());
    }
    assert!(
        users.windows(2).all(|w| w[0] < w[1]),
        "users in increasing order"
    );
    assert!(users.len() > 150, "{}", users.len());

    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("recs.summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["interactions"], 10_000);
    assert_eq!(summary["users"], users.len());
    assert_eq!(summary["epochs"].as_array().unwrap().len(), 3);
    assert_eq!(summary["params"]["init"]["kind"], "identity");
    assert!(summary["total_seconds"].as_f64().unwrap() > 0.0);

    let out2 = dir.path().join("recs2.jsonl");
    run("2", &out2);
    assert_eq!(
        text,
        std::fs::read_to_string(&out2).unwrap(),
        "1 vs 2 threads"
    );
}

#[test]
fn without_a_catalogue_every_track_is_its_own_artist() {
    let dir = tempfile::tempdir().unwrap();
    let (events, _, _) = write_log(dir.path());
    let summary = dir.path().join("s.json");
    let out = sim()
        .args(["train", "dssm", "--epochs", "1", "--dim", "8", "--logs"])
        .arg(&events)
        .arg("--out")
        .arg(dir.path().join("r.jsonl"))
        .arg("--summary")
        .arg(&summary)
        .success()
        .stderr;
    let err = String::from_utf8_lossy(&out);
    assert!(err.contains("no --tracks given"), "{err}");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(s["artists"], s["tracks"]);
}

fn fails_with(dir: &Path, log_text: &str, tracks: Option<&str>, expect: &str) {
    let log = dir.join("bad.jsonl");
    std::fs::write(&log, log_text).unwrap();
    let mut cmd = sim();
    cmd.args(["train", "dssm", "--logs"])
        .arg(&log)
        .arg("--out")
        .arg(dir.join("r.jsonl"));
    if let Some(t) = tracks {
        let p = dir.join("tracks.json");
        std::fs::write(&p, t).unwrap();
        cmd.arg("--tracks").arg(p);
    }
    let out = cmd.failure().stderr;
    let err = String::from_utf8_lossy(&out);
    assert!(err.lines().any(|l| l.starts_with("Error: ")), "{err}");
    assert!(err.contains(expect), "expected `{expect}` in: {err}");
}

const EV: &str = r#"{"message":"next","timestamp":1,"user":3,"track":TRACK,"time":TIME,"latency":0.0,"recommendation":1,"experiments":{}}"#;

fn ev(track: u32, time: f32) -> String {
    EV.replace("TRACK", &track.to_string())
        .replace("TIME", &time.to_string())
        + "\n"
}

#[test]
fn bad_input_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fails_with(d, "", None, "bad.jsonl: the log has no events");
    fails_with(
        d,
        &(ev(1, 0.9) + "{\"message\": \"next\", \"user\": 3}\n"),
        None,
        "bad.jsonl:2: not an event (missing field `track`",
    );
    fails_with(
        d,
        &(ev(1, 0.5) + &ev(2, 0.3)),
        None,
        "the log has 2 events but no positive (time > 0.8)",
    );
    fails_with(
        d,
        &(ev(1, 0.9) + &ev(2, 0.9) + &ev(5, 0.9)),
        Some(
            "{\"track\": 0, \"artist\": \"a\"}\n{\"track\": 1, \"artist\": \"a\"}\n{\"track\": 2, \"artist\": \"b\"}\n",
        ),
        "bad.jsonl:3: track 5 is not in the catalogue (3 tracks, ids 0..3)",
    );
    fails_with(
        d,
        &ev(1, 0.9),
        Some("{\"track\": 1, \"artist\": \"a\"}\n"),
        "tracks.json:1: expected track id 0",
    );
    let out = sim()
        .args([
            "train",
            "dssm",
            "--logs",
            "/nonexistent/log.jsonl",
            "--out",
            "x",
        ])
        .failure()
        .stderr;
    let err = String::from_utf8_lossy(&out);
    assert!(err.contains("cannot read /nonexistent/log.jsonl"), "{err}");
}

/// Runs `sim train ARGS` in `dir`; its exit code and stderr.
fn train_in(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = sim()
        .arg("train")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An output equal to an input (directly, through a symbolic link, or as a hard link) is
/// refused before any work, and the input is left as it was; so is `--summary` equal to
/// `--out`.
#[test]
fn no_trainer_writes_over_its_inputs() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path());
    let before = std::fs::read(dir.path().join("events.jsonl")).unwrap();
    std::os::unix::fs::symlink("events.jsonl", dir.path().join("link.jsonl")).unwrap();
    std::fs::hard_link(dir.path().join("tracks.json"), dir.path().join("hard.json")).unwrap();
    let io = ["--logs", "events.jsonl", "--tracks", "tracks.json"];
    for trainer in ["dssm", "mf", "i2i"] {
        for (out, is) in [
            ("events.jsonl", "--logs events.jsonl"),
            ("link.jsonl", "--logs events.jsonl"),
            ("hard.json", "--tracks tracks.json"),
        ] {
            let mut args = vec![trainer];
            args.extend(io);
            args.extend(["--out", out]);
            let (code, err) = train_in(dir.path(), &args);
            assert_eq!(code, Some(1), "{trainer} --out {out}: {err}");
            assert!(err.contains(&format!("--out {out} is {is}")), "{err}");
            assert!(err.contains("would overwrite an input"), "{err}");
        }
    }
    let mut args = vec!["dssm"];
    args.extend(io);
    args.extend(["--out", "recs.jsonl", "--summary", "recs.jsonl"]);
    let (code, err) = train_in(dir.path(), &args);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("--out recs.jsonl and --summary recs.jsonl are the same file"),
        "{err}"
    );
    let mut args = vec!["dssm"];
    args.extend(io);
    args.extend(["--out", "recs.jsonl", "--summary", "link.jsonl"]);
    let (code, err) = train_in(dir.path(), &args);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("--summary link.jsonl is --logs events.jsonl"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("events.jsonl")).unwrap(),
        before
    );
    assert!(!dir.path().join("recs.jsonl").exists());
}

/// Every trainer checks its flags and `--out` before it reads a log: the log here does
/// not exist, and the error names the flag at fault, alone.
#[test]
fn every_trainer_checks_flags_and_out_before_reading_logs() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 8] = [
        (
            &["mf", "--out", "no/such/dir/recs.jsonl"],
            "--out no/such/dir/recs.jsonl: the folder no/such/dir does not exist",
        ),
        (
            &["i2i", "--out", "no/such/dir/lists.jsonl"],
            "--out no/such/dir/lists.jsonl: the folder no/such/dir does not exist",
        ),
        (
            &["dssm", "--out", "no/such/dir/recs.jsonl"],
            "--out no/such/dir/recs.jsonl: the folder no/such/dir does not exist",
        ),
        (
            &["mf", "--out", "r.jsonl", "--dim", "0"],
            "--dim must be at least 1, got 0",
        ),
        (
            &["mf", "--out", "r.jsonl", "--iterations", "0"],
            "--iterations must be at least 1, got 0",
        ),
        (
            &["mf", "--out", "r.jsonl", "--reg", "0"],
            "--reg must be a finite number > 0, got 0",
        ),
        (
            &["mf", "--out", "r.jsonl", "--top-k", "0"],
            "--top-k must be at least 1, got 0",
        ),
        (
            &["i2i", "--out", "r.jsonl", "--min-time", "2"],
            "--min-time must be in [0, 1], got 2",
        ),
    ];
    for (args, expected) in cases {
        let mut args = args.to_vec();
        args.extend(["--logs", "missing.jsonl"]);
        let (code, err) = train_in(dir.path(), &args);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("missing.jsonl"), "read the log first: {err}");
        // One culprit: `--dim 0` names no other key.
        assert_eq!(
            err.matches("--").count(),
            expected.matches("--").count(),
            "{err}"
        );
    }
}

/// A training whose result is no model fails, naming the parameter to change, and
/// writes nothing.
#[test]
fn a_degenerate_training_fails_naming_the_parameter() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path());
    let io = [
        "--logs",
        "events.jsonl",
        "--tracks",
        "tracks.json",
        "--out",
        "recs.jsonl",
    ];
    let cases: [(&[&str], &str); 3] = [
        (&["mf", "--reg", "1e308"], "--reg 1e308 is too large"),
        (
            &["dssm", "--lr", "1e30", "--epochs", "2", "--dim", "8"],
            "lower --lr 1e30",
        ),
        (
            &[
                "dssm",
                "--weight-decay",
                "1e30",
                "--epochs",
                "2",
                "--dim",
                "8",
            ],
            "lower --weight-decay 1e30",
        ),
    ];
    for (flags, expected) in cases {
        let mut args = flags.to_vec();
        args.extend(io);
        let (code, err) = train_in(dir.path(), &args);
        assert_eq!(code, Some(1), "{flags:?}: {err}");
        assert!(err.contains(expected), "{flags:?}: {err}");
        assert!(
            !dir.path().join("recs.jsonl").exists(),
            "{flags:?} wrote its lists"
        );
    }
}
