//! Nothing lost, nothing silent: `sim run --out` is replaced only by a run that ended
//! cleanly, a full disk cuts the log at an episode boundary, any `--episodes` runs and
//! stops on Ctrl-C, damaged artifacts are rebuilt, builds take a lock, and Ctrl-C stops
//! builds and training with exit 130.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn run_args<'a>(episodes: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        "--experiment",
        "ab.yml",
        "--config",
        "env.yml",
        "--episodes",
        episodes,
        "--workers",
        "1",
        "--out",
        out,
    ]
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The folders in `out`: the hidden temporary `.run-<pid>.tmp` of runs.
fn run_folders(out: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(out) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect()
}

/// Waits until a run's temporary folder in `out` holds events.
fn wait_for_staged_events(out: &Path) {
    wait_until("no events were written", || {
        run_folders(out)
            .iter()
            .any(|f| f.join("events.jsonl").metadata().is_ok_and(|m| m.len() > 0))
    });
}

/// The episode numbers of the log's lines, each episode once, in order.
fn episodes_of(log: &Path) -> Vec<u64> {
    let mut episodes: Vec<u64> = Vec::new();
    for line in std::fs::read_to_string(log).unwrap().lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        let episode = event["episode"].as_u64().unwrap();
        if episodes.last() != Some(&episode) {
            episodes.push(episode);
        }
    }
    episodes
}

#[test]
fn a_killed_run_leaves_the_previous_run_whole_and_the_next_run_cleans_up() {
    let dir = ab_project();
    let first = sim(&run_args("300", "out"), dir.path());
    assert!(first.status.success(), "{}", stderr(&first));
    let out = dir.path().join("out");
    let before: Vec<Vec<u8>> = ["events.jsonl", "run.json", "report.md"]
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect();

    // 10^9 episodes: allocated up front, this aborted before its first episode.
    let mut killed = Running::start(&run_args("1000000000", "out"), dir.path());
    killed.wait_for("world:");
    wait_for_staged_events(&out);
    killed.signal("-KILL");
    killed.finish();
    for (file, bytes) in ["events.jsonl", "run.json", "report.md"]
        .iter()
        .zip(&before)
    {
        assert_eq!(
            &std::fs::read(out.join(file)).unwrap(),
            bytes,
            "{file} changed"
        );
    }
    assert_eq!(run_folders(&out).len(), 1, "the dead run's folder is there");

    let next = sim(&run_args("200", "out"), dir.path());
    assert!(next.status.success(), "{}", stderr(&next));
    assert!(
        stderr(&next).contains("removed the unfinished run"),
        "{}",
        stderr(&next)
    );
    assert!(run_folders(&out).is_empty());
    assert_eq!(read_json(&out.join("run.json"))["completed_episodes"], 200);
    assert_eq!(episodes_of(&out.join("events.jsonl")).len(), 200);
}

#[test]
fn the_largest_episode_count_runs_until_ctrl_c() {
    let dir = ab_project();
    let max = u64::MAX.to_string();
    let mut run = Running::start(&run_args(&max, "out"), dir.path());
    run.wait_for("world:");
    let out = dir.path().join("out");
    wait_for_staged_events(&out);
    run.signal("-INT");
    let (code, err) = run.finish();
    assert_eq!(code, Some(130), "{err}");
    let record = read_json(&out.join("run.json"));
    assert_eq!(record["episodes"], u64::MAX);
    assert_eq!(record["interrupted"], true);
    let logged = episodes_of(&out.join("events.jsonl"));
    assert!(!logged.is_empty());
    assert_eq!(record["completed_episodes"], logged.len() as u64);
    assert_eq!(logged, (0..logged.len() as u64).collect::<Vec<_>>());
    assert!(
        err.contains(&format!("interrupted: {} of {max} episodes", logged.len())),
        "{err}"
    );
}

#[test]
fn a_full_disk_cuts_the_log_at_an_episode_boundary_and_says_so() {
    let dir = ab_project();
    // Two blocks of 1024 episodes (one worker) for their size.
    let whole = sim(&run_args("2048", "whole"), dir.path());
    assert!(whole.status.success(), "{}", stderr(&whole));
    let whole_log = dir.path().join("whole/events.jsonl");
    let size = std::fs::metadata(&whole_log).unwrap().len();
    // Room for the first block but not the second: files stop at 3/4 of the size.
    let blocks_of_512_bytes = size * 3 / 4 / 512;
    let command = format!("ulimit -f {blocks_of_512_bytes}; trap '' XFSZ; exec \"$0\" \"$@\"",);
    let mut args = vec!["-c", &command, env!("CARGO_BIN_EXE_sim")];
    args.extend(run_args("10000", "full"));
    let full = Command::new("sh")
        .args(&args)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let err = stderr(&full);
    assert_eq!(full.status.code(), Some(1), "{err}");
    assert!(err.contains("File too large"), "{err}");
    assert!(
        err.contains("cut back to the 1024 episodes written whole"),
        "{err}"
    );
    assert!(err.contains("run.json records them"), "{err}");
    assert_eq!(err.matches("Error:").count(), 1, "one line of error: {err}");
    let log = dir.path().join("full/events.jsonl");
    let record = read_json(&dir.path().join("full/run.json"));
    assert_eq!(record["completed_episodes"], 1024);
    assert!(record["error"].as_str().unwrap().contains("File too large"));
    // The cut log is the first block of the uncut one, line for line.
    let cut = log_without_latency(&log);
    let uncut = log_without_latency(&whole_log);
    assert_eq!(cut[..], uncut[..cut.len()]);
    assert_eq!(episodes_of(&log), (0..1024).collect::<Vec<_>>());
    assert!(std::fs::read(&log).unwrap().ends_with(b"\n"));
}

#[test]
fn a_second_run_into_a_busy_folder_is_refused() {
    let dir = ab_project();
    let mut first = Running::start(&run_args("1000000000", "out"), dir.path());
    first.wait_for("world:");
    let lock = dir.path().join("out/.sim-run.lock");
    wait_until("the lock names its owner", || {
        std::fs::read_to_string(&lock).is_ok_and(|s| !s.is_empty())
    });
    let second = sim(&run_args("10", "out"), dir.path());
    first.signal("-INT");
    let (code, _) = first.finish();
    assert_eq!(code, Some(130));
    let err = stderr(&second);
    assert_eq!(second.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("another `sim run` (pid {})", locked_by(&lock))),
        "{err}"
    );
}

/// The pid the lock file names.
fn locked_by(lock: &Path) -> String {
    std::fs::read_to_string(lock).unwrap().trim().to_string()
}

/// A seminar experiment and one whose control is trained on `episodes` of its logs.
fn recipe_project(episodes: &str) -> tempfile::TempDir {
    let dir = ab_project();
    std::fs::write(
        dir.path().join("trained.yml"),
        format!(
            "name: trained\narms:\n  C:\n    kind: indexed\n    source:\n      train: dssm\n      logs_from:\n        - {{experiment: ab.yml, episodes: {episodes}, seed: 1}}\n      top_k: 20\n      seed: 1\n      dim: 16\n      epochs: 3\n  T1: {{kind: random}}\n"
        ),
    )
    .unwrap();
    dir
}

fn run_trained(dir: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let out = sim(&trained_run_args(extra), dir);
    (out.status.code(), stderr(&out))
}

/// The artifact folders of `cache/` (lock files and the neighbour cache aside).
fn artifacts(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir.join("cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.ends_with("neighbours") && !p.ends_with("worlds"))
        .collect()
}

#[test]
fn a_damaged_artifact_is_rebuilt_with_a_warning_naming_the_file() {
    let dir = recipe_project("600");
    let (code, err) = run_trained(dir.path(), &[]);
    assert_eq!(code, Some(0), "{err}");
    let [artifact] = &artifacts(dir.path())[..] else {
        panic!("one artifact expected")
    };
    let recs = artifact.join("recs.jsonl");
    let good = std::fs::read_to_string(&recs).unwrap();
    let results = log_without_latency(&dir.path().join("out/events.jsonl"));

    let cut: String = good.lines().take(100).map(|l| format!("{l}\n")).collect();
    for damage in [cut, String::new()] {
        std::fs::write(&recs, damage).unwrap();
        let (code, err) = run_trained(dir.path(), &[]);
        assert_eq!(code, Some(0), "{err}");
        let warning: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
        assert_eq!(warning.len(), 1, "{err}");
        assert!(
            warning[0].contains("recs.jsonl is") && warning[0].contains("rebuilding"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&recs).unwrap(), good);
        let rerun = log_without_latency(&dir.path().join("out/events.jsonl"));
        assert!(rerun == results, "the same run on the rebuilt artifact");
    }
    let (_, err) = run_trained(dir.path(), &[]);
    assert!(err.contains("cached") && !err.contains("warning"), "{err}");
}

#[test]
fn a_second_build_of_an_artifact_waits_for_the_first_and_reuses_it() {
    let dir = recipe_project("300");
    let (code, err) = run_trained(dir.path(), &[]);
    assert_eq!(code, Some(0), "{err}");
    let [artifact] = &artifacts(dir.path())[..] else {
        panic!("one artifact expected")
    };
    // The test plays the first builder: it holds the artifact's lock.
    let lock = std::fs::File::open(artifact.with_extension("lock")).unwrap();
    lock.lock().unwrap();
    let mut args = vec!["run", "--experiment", "trained.yml", "--config", "env.yml"];
    args.extend(["--episodes", "20", "--out", "out2", "--rebuild"]);
    let mut second = Running::start(&args, dir.path());
    second.wait_for("another process is building it; waiting");
    lock.unlock().unwrap();
    let (code, err) = second.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("cached"), "{err}");
    assert!(!err.contains("building in"), "built again: {err}");
}

#[test]
fn ctrl_c_stops_an_artifact_build_and_leaves_no_temporary_folder() {
    let dir = recipe_project("1000000000");
    let args = [
        "run",
        "--experiment",
        "trained.yml",
        "--config",
        "env.yml",
        "--out",
        "out",
    ];
    let mut build = Running::start(&args, dir.path());
    build.wait_for("simulating");
    let cache = dir.path().join("cache");
    wait_until("the build wrote no log", || {
        artifacts(dir.path()).iter().any(|a| {
            a.join("logs")
                .read_dir()
                .is_ok_and(|mut d| d.next().is_some())
        })
    });
    build.signal("-INT");
    let (code, err) = build.finish();
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("interrupted by Ctrl-C"), "{err}");
    assert!(
        artifacts(dir.path()).is_empty(),
        "{:?}",
        std::fs::read_dir(&cache)
    );
    assert!(!dir.path().join("out/events.jsonl").exists());
}

#[test]
fn a_dead_builds_temporary_folder_is_removed() {
    let dir = recipe_project("300");
    let dead = dir.path().join("cache/0123abcd.tmp-999999");
    std::fs::create_dir_all(dead.join("logs")).unwrap();
    let (code, err) = run_trained(dir.path(), &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!dead.exists());
    assert!(err.contains("removed the unfinished build"), "{err}");
}

#[test]
fn ctrl_c_stops_training_without_writing() {
    let dir = ab_project();
    let run = sim(&run_args("300", "out"), dir.path());
    assert!(run.status.success(), "{}", stderr(&run));
    let args = [
        "train",
        "dssm",
        "--logs",
        "out/events.jsonl",
        "--out",
        "recs.jsonl",
        "--epochs",
        "1000000",
        "--patience",
        "1000000",
    ];
    let mut train = Running::start(&args, dir.path());
    train.wait_for("no --tracks given");
    train.signal("-INT");
    let (code, err) = train.finish();
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("interrupted by Ctrl-C"), "{err}");
    let written: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("recs"))
        .collect();
    assert!(written.is_empty(), "{written:?}");
}

/// Ctrl-C while a run computes its neighbour sets (an empty cache, a world whose search
/// is hundreds of GFLOP): exit 130 long before the search could have finished, no
/// neighbour cache file (nor its temporary), no run folder.
#[test]
fn ctrl_c_stops_the_neighbour_search_and_caches_nothing() {
    let dir = ab_project();
    std::fs::write(
        dir.path().join("env.yml"),
        "world:\n  synthetic: {tracks: 60000, artists: 9000, users: 30000, interests_per_user: 2, dim: 64, seed: 3}\n",
    )
    .unwrap();
    let mut run = Running::start(&run_args("1000", "out"), dir.path());
    run.wait_for("neighbours: searching");
    run.signal("-INT");
    let signalled = Instant::now();
    let (code, err) = run.finish();
    // At most a few blocks of 64 queries (0.5 GFLOP each) after the signal; the whole
    // search (tens of thousands of interests x 60,000 tracks x 64 dims) is hundreds of
    // GFLOP, and "computed in" below would say it finished.
    let bound = Duration::from_secs(30);
    assert!(
        signalled.elapsed() < bound,
        "{:?} after Ctrl-C: {err}",
        signalled.elapsed()
    );
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("the neighbour search stopped"), "{err}");
    assert!(!err.contains("computed in"), "{err}");
    // The world, generated whole before the search began, stays cached.
    let cached: Vec<_> = std::fs::read_dir(dir.path().join("cache"))
        .into_iter()
        .flatten()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.ends_with("worlds"))
        .collect();
    assert!(cached.is_empty(), "{cached:?}");
    assert!(!dir.path().join("out").exists());
}

/// The generated world is cached: the next run reads it; a damaged file is generated
/// again, with one warning, and rewritten as it was; `--rebuild` generates it again. The
/// log is the same every time.
#[test]
fn the_generated_world_is_cached_checked_and_rebuilt() {
    let dir = ab_project();
    let run = |extra: &[&str]| {
        let mut args = run_args("300", "out");
        args.extend(extra);
        let out = sim(&args, dir.path());
        assert!(out.status.success(), "{}", stderr(&out));
        (
            stderr(&out),
            log_without_latency(&dir.path().join("out/events.jsonl")),
        )
    };
    let (err, log) = run(&[]);
    assert!(err.contains("generated and cached"), "{err}");
    let files: Vec<PathBuf> = std::fs::read_dir(dir.path().join("cache/worlds"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let good = std::fs::read(&files[0]).unwrap();

    let (err, again) = run(&[]);
    assert!(err.contains("read from the cache"), "{err}");
    assert!(!err.contains("warning"), "{err}");
    assert_eq!(again, log);

    let mut bad = good.clone();
    let middle = bad.len() / 2;
    bad[middle] ^= 0x10;
    std::fs::write(&files[0], bad).unwrap();
    let (err, again) = run(&[]);
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].contains("world cache") && warnings[0].contains("content hash mismatch"),
        "{err}"
    );
    assert!(err.contains("generated and cached"), "{err}");
    assert_eq!(again, log);
    assert_eq!(std::fs::read(&files[0]).unwrap(), good);

    let (err, again) = run(&["--rebuild"]);
    assert!(err.contains("generated and cached"), "{err}");
    assert_eq!(again, log);
}

/// Runs `sim ARGS` in `dir` unable to write `read_only` (a folder of `dir`): as the user
/// nobody when the tests run as root (root writes anywhere), else with the folder's
/// write bits removed. The run's `out` folder is writable.
fn sim_with_read_only(dir: &Path, read_only: &Path, args: &[&str]) -> std::process::Output {
    use std::os::unix::fs::PermissionsExt;
    let bin = env!("CARGO_BIN_EXE_sim");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mut command = if root {
        // nobody must reach `dir`, and write where the run writes.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir_all(dir.join("out")).unwrap();
        std::fs::set_permissions(dir.join("out"), std::fs::Permissions::from_mode(0o777)).unwrap();
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            bin,
        ]);
        c
    } else {
        let status = Command::new("chmod")
            .args(["-R", "a-w"])
            .arg(read_only)
            .status()
            .unwrap();
        assert!(status.success());
        Command::new(bin)
    };
    let out = command
        .args(args)
        .current_dir(dir)
        .env("BOTIFY_CACHE_DIR", dir.join("cache"))
        .output()
        .expect("sim runs");
    if !root {
        let _ = Command::new("chmod")
            .args(["-R", "u+w"])
            .arg(read_only)
            .status();
    }
    out
}

/// A prepared cache that cannot be written (a pod's read-only volume) serves its
/// artifacts; an artifact missing from it is an error naming the cache.
#[test]
fn a_read_only_prepared_cache_is_usable() {
    let dir = recipe_project("300");
    let prepare = sim(
        &[
            "prepare",
            "--experiment",
            "trained.yml",
            "--config",
            "env.yml",
        ],
        dir.path(),
    );
    assert!(prepare.status.success(), "{}", stderr(&prepare));
    let cache = dir.path().join("cache");
    let out = sim_with_read_only(dir.path(), &cache, &trained_run_args(&[]));
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("cached"), "{err}");
    assert!(!err.contains("warning"), "{err}");

    // An experiment whose artifact was never prepared.
    std::fs::write(
        dir.path().join("trained.yml"),
        std::fs::read_to_string(dir.path().join("trained.yml"))
            .unwrap()
            .replace("seed: 1\n      dim", "seed: 2\n      dim"),
    )
    .unwrap();
    let out = sim_with_read_only(dir.path(), &cache, &trained_run_args(&[]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("is not in the cache") && err.contains("sim prepare"),
        "{err}"
    );
}

/// A cache that cannot be written costs a run that builds nothing a warning, never the
/// run; the world it could not save is "generated (not cached)", not "cached".
#[test]
fn an_unwritable_cache_is_a_warning_when_nothing_needs_building() {
    let dir = ab_project();
    // A cache folder that cannot even be made: its parent is read-only.
    let parent = dir.path().join("read-only");
    std::fs::create_dir_all(&parent).unwrap();
    let mut args = run_args("100", "out");
    args.extend(["--cache-dir", "read-only/cache"]);
    let out = sim_with_read_only(dir.path(), &parent, &args);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("warning: world cache not saved"), "{err}");
    assert!(err.contains("generated (not cached)"), "{err}");
    assert!(!err.contains("generated and cached"), "{err}");
    assert_eq!(
        read_json(&dir.path().join("out/run.json"))["completed_episodes"],
        100
    );
}

/// A run whose `--out` holds one of its inputs under a name the run writes is refused
/// before any work, the input left as it was.
#[test]
fn a_run_never_writes_over_a_file_it_reads() {
    let dir = ab_project();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let experiment = std::fs::read(dir.path().join("ab.yml")).unwrap();
    std::fs::write(dir.path().join("out/ab.json"), &experiment).unwrap();
    let args = [
        "run",
        "--experiment",
        "out/ab.json",
        "--config",
        "env.yml",
        "--episodes",
        "20",
        "--out",
        "out",
    ];
    let out = sim(&args, dir.path());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the run would write over out/ab.json, which it reads"),
        "{err}"
    );
    assert!(!err.contains("world:"), "worked first: {err}");
    assert_eq!(
        std::fs::read(dir.path().join("out/ab.json")).unwrap(),
        experiment
    );
}
