//! A newcomer's first hour: the binary works from an empty folder (built-in experiments,
//! the user's cache directory, `sim init`), leaves the folder clean but for `runs/`, and
//! follows terminal conventions (colour, --json, --quiet, a closed pipe, completions).

use crate::common::*;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `sim` in `dir` with exactly these cache-related variables (none of the caller's).
fn sim_with_env(args: &[&str], dir: &Path, env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sim"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("BOTIFY_CACHE_DIR")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("NO_COLOR");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the sim binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A built-in whose recipe names `seminar.yml` finds the built-in seminar, not the broken
/// files in the working folder; the same experiment given as a path reads them. The
/// artifact lands in `$XDG_CACHE_HOME/botify-sim`, and `sim cache` lists and frees it.
#[test]
fn built_ins_resolve_among_themselves_and_cache_in_the_users_cache_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    let xdg = tmp.path().join("xdg");
    std::fs::create_dir_all(work.join("experiments")).unwrap();
    let config = small_world_config(tmp.path());
    for broken in [
        work.join("seminar.yml"),
        work.join("experiments/seminar.yml"),
    ] {
        std::fs::write(broken, "name: [not an experiment\n").unwrap();
    }
    let env = [("XDG_CACHE_HOME", xdg.as_path())];
    let config_arg = config.to_str().unwrap();
    let run = [
        "run",
        "--experiment",
        "dssm_baseline",
        "--config",
        config_arg,
        "--episodes",
        "100",
    ];
    let out = sim_with_env(&run, &work, &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(names_in(&work), ["experiments", "runs", "seminar.yml"]);
    assert_eq!(names_in(&work.join("runs")), ["dssm_baseline"]);
    let cache = xdg.join("botify-sim");
    let keys: Vec<String> = names_in(&cache)
        .into_iter()
        .filter(|n| n.len() == 32)
        .collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(cache.join(&keys[0]).join("recs.jsonl").is_file());

    // The same file on disk: its `seminar.yml` is the broken one next to it.
    let builtin = std::fs::read(root().join("experiments/dssm_baseline.yml")).unwrap();
    std::fs::write(work.join("dssm_baseline.yml"), builtin).unwrap();
    let mut from_disk = run;
    from_disk[2] = "./dssm_baseline.yml";
    let out = sim_with_env(&from_disk, &work, &env);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("seminar.yml"), "{}", stderr(&out));

    let list = sim_with_env(&["cache", "list"], &work, &env);
    assert!(list.status.success(), "{}", stderr(&list));
    let listed = stdout(&list);
    assert!(listed.starts_with(&keys[0]), "{listed}");
    assert!(
        listed.contains("dssm top-100 on seminar.yml x20000"),
        "{listed}"
    );

    // `clean` leaves an artifact being built (its lock held) alone...
    let lock = std::fs::File::open(cache.join(format!("{}.lock", keys[0]))).unwrap();
    lock.lock().unwrap();
    let clean = sim_with_env(&["cache", "clean"], &work, &env);
    assert!(clean.status.success(), "{}", stderr(&clean));
    assert!(stderr(&clean).contains("being built"), "{}", stderr(&clean));
    assert!(cache.join(&keys[0]).join("recs.jsonl").is_file());
    lock.unlock().unwrap();

    // ...then frees it and its lock, and leaves what the cache did not make.
    std::fs::write(cache.join("notes.txt"), "mine").unwrap();
    let clean = sim_with_env(&["cache", "clean"], &work, &env);
    assert!(clean.status.success(), "{}", stderr(&clean));
    assert!(
        stdout(&clean).starts_with("removed 2 entries"),
        "{}",
        stdout(&clean)
    );
    assert!(stderr(&clean).contains("notes.txt"), "{}", stderr(&clean));
    assert_eq!(names_in(&cache), ["notes.txt"]);

    // --cache-dir wins over BOTIFY_CACHE_DIR, which wins over XDG_CACHE_HOME.
    let flag = tmp.path().join("flag");
    let from_env = tmp.path().join("env");
    let both = [
        ("XDG_CACHE_HOME", xdg.as_path()),
        ("BOTIFY_CACHE_DIR", from_env.as_path()),
    ];
    let mut seminar = run.to_vec();
    seminar[2] = "seminar";
    let mut with_flag = seminar.clone();
    with_flag.extend(["--cache-dir", flag.to_str().unwrap()]);
    assert!(sim_with_env(&with_flag, &work, &both).status.success());
    assert!(flag.is_dir() && !from_env.exists());
    assert!(sim_with_env(&seminar, &work, &both).status.success());
    assert!(from_env.is_dir());
    assert_eq!(names_in(&cache), ["notes.txt"]);
}

#[test]
fn an_unknown_experiment_name_lists_the_built_ins() {
    let tmp = tempfile::tempdir().unwrap();
    let out = sim(&["run", "--experiment", "hw3"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("\"hw3\"")
            && ["ceiling", "dssm_baseline", "hw2", "seminar"]
                .iter()
                .all(|name| err.contains(name)),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let listed = sim(&["experiments"], tmp.path());
    assert!(listed.status.success());
    for name in ["ceiling", "dssm_baseline", "hw2", "seminar"] {
        assert!(
            stdout(&listed).contains(&format!("{name} ")),
            "{}",
            stdout(&listed)
        );
    }
}

/// run.json names the tool (version, the commit it was built from) and the experiment's
/// content hash: the same for the built-in and an identical file.
#[test]
fn run_json_records_the_tool_and_the_experiment_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let config = small_world_config(tmp.path());
    let text = std::fs::read_to_string(root().join("experiments/seminar.yml")).unwrap();
    std::fs::write(tmp.path().join("copy.yml"), &text).unwrap();
    let hash = format!(
        "{:032x}",
        murmur3::murmur3_x64_128(&mut text.as_bytes(), 0).unwrap()
    );
    // The checkout's HEAD: the tests are built from the commit the binary is.
    let git = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root())
        .output()
        .expect("git runs (the tests need a git checkout)");
    assert!(git.status.success(), "built from a git checkout");
    let head = String::from_utf8(git.stdout).unwrap().trim().to_string();
    for (experiment, folder) in [("seminar", "seminar"), ("copy.yml", "c")] {
        let out_dir = tmp.path().join(folder);
        let args = [
            "run",
            "--experiment",
            experiment,
            "--config",
            config.to_str().unwrap(),
            "--episodes",
            "50",
            "--out",
            out_dir.to_str().unwrap(),
        ];
        let out = sim(&args, tmp.path());
        assert!(out.status.success(), "{}", stderr(&out));
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out_dir.join("run.json")).unwrap()).unwrap();
        assert_eq!(record["experiment_hash"], hash.as_str());
        assert_eq!(record["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(record["commit"], head.as_str());
    }
    let version = sim(&["--version"], tmp.path());
    assert_eq!(
        stdout(&version).trim(),
        format!("sim {} (commit {head})", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn init_writes_editable_copies_and_keeps_edits() {
    let tmp = tempfile::tempdir().unwrap();
    let out = sim(&["init", "proj"], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let proj = tmp.path().join("proj");
    assert_eq!(
        std::fs::read(proj.join("config/env.yml")).unwrap(),
        std::fs::read(root().join("config/env.yml")).unwrap()
    );
    for name in ["ceiling", "dssm_baseline", "hw2", "seminar"] {
        let file = format!("experiments/{name}.yml");
        assert_eq!(
            std::fs::read(proj.join(&file)).unwrap(),
            std::fs::read(root().join(&file)).unwrap(),
            "{file}"
        );
    }
    let edited = "name: mine\narms:\n  C: {kind: random}\n  T1: {kind: sticky_artist}\n";
    std::fs::write(proj.join("experiments/seminar.yml"), edited).unwrap();
    let again = sim(&["init", "proj"], tmp.path());
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stderr(&again).contains("kept"), "{}", stderr(&again));
    assert_eq!(
        std::fs::read_to_string(proj.join("experiments/seminar.yml")).unwrap(),
        edited
    );
    // The edited copy runs from the project folder, with the project's config.
    std::fs::write(
        proj.join("config/env.yml"),
        "world:\n  synthetic: {tracks: 3000, artists: 700, users: 400, seed: 7}\n",
    )
    .unwrap();
    let args = [
        "run",
        "--experiment",
        "experiments/seminar.yml",
        "--episodes",
        "50",
    ];
    let run = sim(&args, &proj);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(proj.join("runs/mine/events.jsonl").is_file());

    let forced = sim(&["init", "proj", "--force"], tmp.path());
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert_eq!(
        std::fs::read(proj.join("experiments/seminar.yml")).unwrap(),
        std::fs::read(root().join("experiments/seminar.yml")).unwrap()
    );
}

fn seminar_run(dir: &Path, extra: &[&str]) -> Vec<String> {
    let config = small_world_config(dir);
    let mut args: Vec<String> = [
        "run",
        "--experiment",
        "seminar",
        "--episodes",
        "300",
        "--config",
        config.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

#[test]
fn color_follows_the_flag_and_no_color() {
    let tmp = tempfile::tempdir().unwrap();
    let escape = |choice: &str, no_color: bool| {
        let args = seminar_run(tmp.path(), &["--color", choice]);
        let mut command = Command::new(env!("CARGO_BIN_EXE_sim"));
        command.args(&args).current_dir(tmp.path());
        if no_color {
            command.env("NO_COLOR", "1");
        } else {
            command.env_remove("NO_COLOR");
        }
        let out = command.output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).contains('\x1b')
    };
    assert!(escape("always", true), "--color always wins over NO_COLOR");
    assert!(!escape("never", false));
    assert!(!escape("auto", false), "a pipe is not a terminal");
}

/// Every command takes `--color` (a tester's `sim bench --color never` must not be a usage
/// error), before or after its name; the A/B table obeys it wherever it is given.
#[test]
fn every_command_takes_color() {
    let tmp = tempfile::tempdir().unwrap();
    let config = small_world_config(tmp.path());
    let config = config.to_str().unwrap();
    let cache = tmp.path().join("cache");
    let cache = cache.to_str().unwrap();
    let commands: [&[&str]; 6] = [
        &["experiments", "--color", "never"],
        &["cache", "list", "--cache-dir", cache, "--color", "always"],
        &["--color", "never", "world", "info", "--config", config],
        &["completions", "bash", "--color", "auto"],
        &[
            "bench",
            "--config",
            config,
            "--episodes",
            "50",
            "--repeats",
            "1",
            "--color",
            "never",
        ],
        &["init", "proj", "--color", "never"],
    ];
    for args in commands {
        let out = sim(args, tmp.path());
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert!(!stdout(&out).contains('\x1b'), "{args:?}");
    }
    let run = seminar_run(tmp.path(), &["--color", "never"]);
    let run: Vec<&str> = run.iter().map(String::as_str).collect();
    assert!(sim(&run, tmp.path()).status.success());
    let log = "runs/seminar/events.jsonl";
    let coloured = |args: &[&str]| {
        let out = sim(args, tmp.path());
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out).contains('\x1b')
    };
    assert!(coloured(&[
        "--color",
        "always",
        "report",
        log,
        "--no-files"
    ]));
    assert!(coloured(&[
        "report",
        log,
        "--no-files",
        "--color",
        "always"
    ]));
    assert!(!coloured(&[
        "--color",
        "never",
        "report",
        log,
        "--no-files"
    ]));
}

/// `--cache-dir` of `sim cache` goes before or after `list`/`clean`, as a user who just ran
/// `sim run --cache-dir DIR` types it.
#[test]
fn cache_takes_its_folder_after_the_subcommand() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("mine");
    std::fs::create_dir_all(cache.join("neighbours")).unwrap();
    std::fs::write(
        cache.join("neighbours/0123456789abcdef0123456789abcdef.bin"),
        b"BSIMNBR\n and the rest",
    )
    .unwrap();
    let cache = cache.to_str().unwrap();
    for args in [
        ["cache", "list", "--cache-dir", cache],
        ["cache", "--cache-dir", cache, "list"],
    ] {
        let out = sim(&args, tmp.path());
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).starts_with("neighbours "), "{}", stdout(&out));
    }
    let out = sim(&["cache", "clean", "--cache-dir", cache], tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!tmp.path().join("mine/neighbours").exists());
}

/// `--json -q`: one JSON document on stdout, nothing on stderr; its files exist.
#[test]
fn run_json_summary_and_quiet() {
    let tmp = tempfile::tempdir().unwrap();
    let args = seminar_run(tmp.path(), &["--json", "-q"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = sim(&args, tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["experiment"]["name"], "seminar");
    assert_eq!(summary["arms"].as_array().unwrap().len(), 3);
    assert_eq!(summary["completed_episodes"], 300);
    let logs = summary["files"]["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 1, "one day, one log");
    let named = [
        &logs[0],
        &summary["files"]["run"],
        &summary["files"]["report"],
    ];
    for file in named {
        let path = tmp.path().join(file.as_str().unwrap());
        assert!(path.is_file(), "{file}: {}", path.display());
    }
    assert!(tmp.path().join("runs/seminar/ab.csv").is_file());
    assert!(!tmp.path().join("reports").exists());
}

/// `-q` silences progress, never an error: a quiet run that fails says why on stderr.
#[test]
fn quiet_still_prints_the_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("bad.yml"), "world: [").unwrap();
    let out = sim(
        &["run", "-q", "--config", "bad.yml", "--episodes", "5"],
        tmp.path(),
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.starts_with("Error: ") && err.contains("bad.yml"),
        "{err}"
    );
}

/// A reader that leaves (`sim run | head -1`) does not make the run panic or lose files.
#[test]
fn a_closed_stdout_does_not_stop_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let args = seminar_run(tmp.path(), &[]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(&args)
        .current_dir(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert!(tmp.path().join("runs/seminar/report.md").is_file());
    assert!(tmp.path().join("runs/seminar/run.json").is_file());
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let tmp = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = sim(&["completions", shell], tmp.path());
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        assert!(
            script.contains("experiments") && script.contains("cache-dir"),
            "{shell}"
        );
    }
    let out = sim(&["completions", "tcsh"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn world_info_prints_the_score_scales() {
    let tmp = tempfile::tempdir().unwrap();
    let config = small_world_config(tmp.path());
    let out = sim(
        &["world", "info", "--config", config.to_str().unwrap()],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let mean_after = |label: &str| -> f64 {
        let rest = &text[text
            .find(label)
            .unwrap_or_else(|| panic!("{label}: {text}"))
            + label.len()..];
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    // Same-artist pairs score far above random pairs (config: about 10 against 0.2).
    let same = mean_after("same artist ");
    let random = mean_after("different artists ");
    assert!(same > 5.0 && random.abs() < 2.0, "{text}");
    // U(0, 10) over 400 users: 5 with a standard error of 0.14.
    let bias = mean_after("consume_bias ");
    assert!((bias - 5.0).abs() < 0.6, "{text}");
    // Says what `a ± b` is, one measure a line, every line fits a terminal.
    assert_eq!(text.matches("mean ± sd [min, max]").count(), 2, "{text}");
    assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
}

#[test]
fn bench_and_bench_http_print_json() {
    let tmp = tempfile::tempdir().unwrap();
    let config = small_world_config(tmp.path());
    let config = config.to_str().unwrap();
    let bench = [
        "bench",
        "--config",
        config,
        "--episodes",
        "100",
        "--repeats",
        "1",
        "--json",
    ];
    let out = sim(&bench, tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["runs"].as_array().unwrap().len(), 2);
    assert!(record["best_steps_per_second"]["2"].as_f64().unwrap() > 0.0);

    let end_to_end = [&bench[..], &["--end-to-end"]].concat();
    let out = sim(&end_to_end, tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = record["end_to_end"].as_array().unwrap();
    let caches: Vec<&str> = runs.iter().map(|r| r["cache"].as_str().unwrap()).collect();
    assert_eq!(caches, ["cold", "warm"]);
    for run in runs {
        let (whole, simulation, report) = (
            run["seconds"].as_f64().unwrap(),
            run["simulation_seconds"].as_f64().unwrap(),
            run["report_seconds"].as_f64().unwrap(),
        );
        assert!(
            simulation > 0.0 && report > 0.0 && simulation + report < whole,
            "{run}"
        );
    }

    let http = [
        "bench-http",
        "--config",
        config,
        "--episodes",
        "50",
        "--seconds",
        "0.2",
        "--connections",
        "1",
        "--workers",
        "1,3",
        "--json",
    ];
    let out = sim(&http, tmp.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let memory = &record["setups"][0];
    let runs = memory["measured"]["remote_runs"].as_array().unwrap();
    let workers: Vec<u64> = runs
        .iter()
        .map(|r| r["workers"].as_u64().unwrap())
        .collect();
    assert_eq!(workers, [1, 3], "one run per --workers count");
    assert!(memory["measured"]["load"]["requests"].as_u64().unwrap() > 0);
    assert!(memory["servers"][0]["requests"].as_u64().unwrap() > 0);
}

/// `sim cache clean` removes only what it can prove the cache made (an artifact's own
/// manifest, an empty build lock, a build's own files, cache files with their magic) and
/// names everything it left, with why.
#[test]
fn cache_clean_removes_only_what_it_can_prove_it_made() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let key = |c: char| c.to_string().repeat(32);
    let put = |path: &str, bytes: &[u8]| {
        let path = cache.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    // Ours: an artifact with its manifest, an empty lock, a dead build's own files, a
    // world cache file.
    put(&format!("{}/recs.jsonl", key('a')), b"{}\n");
    put(
        &format!("{}/manifest.json", key('a')),
        br#"{"recs.jsonl": {"bytes": 3, "murmur3": "00"}}"#,
    );
    put(&format!("{}.lock", key('a')), b"");
    put(
        &format!("{}.tmp-42/logs/0-seminar.jsonl", key('b')),
        b"{}\n",
    );
    put(&format!("worlds/{}.bin", key('c')), b"BSIMWLD\n...");
    // Not provably ours: a course world in a folder named like a key, a lock with text,
    // a build folder with a file no build writes, a user's files in worlds/ and
    // neighbours/.
    put(&format!("{}/tracks.json", key('d')), b"{\"track\": 0}\n");
    put(&format!("{}.lock", key('e')), b"my notes");
    put(&format!("{}.tmp-7/thesis.tex", key('f')), b"chapter 1");
    put("worlds/course.bin", b"mine");
    put("neighbours/mine.txt", b"mine");
    let out = sim(
        &["cache", "clean", "--cache-dir", cache.to_str().unwrap()],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with("removed 4 entries"), "{said}");
    let err = stderr(&out);
    for left in [
        format!("{} (no manifest.json of an artifact in it)", key('d')),
        format!("{}.lock (not the empty file of a build lock)", key('e')),
        format!("{}.tmp-7 (holds files no artifact build writes)", key('f')),
        "worlds (its cache files removed; it also holds course.bin)".to_string(),
        "neighbours (holds no cache file of sim: mine.txt)".to_string(),
    ] {
        assert!(err.contains(&left), "{left:?} not in {err}");
    }
    assert!(!cache.join(key('a')).exists());
    assert!(!cache.join(format!("{}.lock", key('a'))).exists());
    assert!(!cache.join(format!("{}.tmp-42", key('b'))).exists());
    assert!(!cache.join(format!("worlds/{}.bin", key('c'))).exists());
    for kept in [
        format!("{}/tracks.json", key('d')),
        format!("{}.lock", key('e')),
        format!("{}.tmp-7/thesis.tex", key('f')),
        "worlds/course.bin".to_string(),
        "neighbours/mine.txt".to_string(),
    ] {
        assert!(cache.join(&kept).exists(), "{kept} was removed");
    }
}
