//! `sim run --console`: a person types each track, through a pipe (a scripted lesson) or
//! on a terminal (driven in tmux as a person would); `q` or the end of the input ends the
//! run cleanly with a valid log and run.json. And `--days ask` on a terminal.

use crate::common::*;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Runs `sim run --console` on a small world with `input` piped in.
fn console_run(dir: &Path, out: &str, input: &str) -> std::process::Output {
    let config = small_world_config(dir);
    let mut child = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["run", "--console", "--config"])
        .arg(&config)
        .args(["--seed", "3", "--out", out, "--cache-dir", "cache"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_piped_lesson_plays_the_tracks_it_names_and_q_ends_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    // Bad input first (each answered with its reason), then distinct ids, then q.
    let mut input = String::from("no such song anywhere\n99999\n\n");
    for id in 100..160 {
        input.push_str(&format!("{id}\n"));
    }
    input.push_str("q\nthis line is never read\n");
    let out = console_run(dir.path(), "o", &input);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    for reason in [
        "no title or artist contains \"no such song anywhere\"",
        "no track 99999: ids are 0..2999",
        "empty input",
        "listened",
        "session total",
        "the session ends",
        "ended at the console",
    ] {
        assert!(err.contains(reason), "{reason:?} missing from\n{err}");
    }
    let events = lines(&dir.path().join("o/events.jsonl"));
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("o/run.json")).unwrap())
            .unwrap();
    assert_eq!(record["ended_at_console"], true);
    assert_eq!(record["experiment"]["name"], "console");
    let finished = record["completed_episodes"].as_u64().unwrap();
    assert!(finished >= 1, "{err}");
    let lasts = events.iter().filter(|e| e["message"] == "last").count() as u64;
    assert_eq!(lasts, finished, "every logged session is whole");
    // Every recommendation is one of the typed ids, each typed once.
    let mut recs: Vec<u64> = events
        .iter()
        .filter_map(|e| e["recommendation"].as_u64())
        .collect();
    assert!(recs.iter().all(|r| (100..160).contains(r)), "{recs:?}");
    let n = recs.len();
    recs.sort();
    recs.dedup();
    assert_eq!(recs.len(), n);
}

#[test]
fn the_end_of_the_input_ends_the_run_like_q() {
    let dir = tempfile::tempdir().unwrap();
    let out = console_run(dir.path(), "o", "7\n8\n");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join("o/run.json").exists());
    // The unfinished session is dropped: the log holds only whole sessions (maybe none).
    for e in lines(&dir.path().join("o/events.jsonl")) {
        assert!(e["session"].is_u64());
    }
}

/// A tmux server of our own (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(dir: &Path, command: &str) -> Tmux {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let socket = format!(
            "botify-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let tmux = Tmux { socket };
        let status = tmux
            .cmd(&[
                "new-session",
                "-d",
                "-s",
                "t",
                "-x",
                "220",
                "-y",
                "60",
                command,
            ])
            .current_dir(dir)
            .env("TERM", "xterm")
            .status()
            .expect("tmux runs");
        assert!(status.success(), "tmux new-session failed");
        tmux
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]).args(args);
        c
    }

    fn screen(&self) -> String {
        let out = self
            .cmd(&["capture-pane", "-p", "-J", "-S", "-200", "-t", "t"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits (at most 60 s) until the screen shows `text` `count` times.
    fn wait_for(&self, text: &str, count: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let screen = self.screen();
            if screen.matches(text).count() >= count {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "{text:?} (x{count}) never showed; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Ctrl-C twice, as a person presses it, nothing between the two.
    fn ctrl_c_twice(&self) {
        let status = self
            .cmd(&["send-keys", "-t", "t", "C-c", "C-c"])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn type_line(&self, text: &str) {
        let status = self
            .cmd(&["send-keys", "-t", "t", "-l", text])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(
            self.cmd(&["send-keys", "-t", "t", "Enter"])
                .status()
                .unwrap()
                .success()
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]).status();
    }
}

fn have_tmux() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn sim_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sim"))
}

#[test]
fn a_person_plays_at_the_console_in_tmux() {
    assert!(have_tmux(), "tmux is needed (CI installs it)");
    let dir = tempfile::tempdir().unwrap();
    let config = small_world_config(dir.path());
    let command = format!(
        "{} run --console --config {} --seed 3 --out o --cache-dir cache; echo EXIT=$?; sleep 600",
        sim_path().display(),
        config.display()
    );
    let tmux = Tmux::start(dir.path(), &command);
    let prompt = "(an id, or part of a title or artist; q quits)>";
    let screen = tmux.wait_for(prompt, 1);
    assert!(screen.contains("a new session starts with"), "{screen}");
    tmux.type_line("123");
    tmux.wait_for("step 1: 123 ", 1);
    // A title search lists numbered tracks to pick from (or takes the only match).
    tmux.type_line("e");
    let screen = tmux.wait_for("pick 1-10", 1);
    assert!(
        screen.contains("  1. ") && screen.contains("  10. "),
        "{screen}"
    );
    tmux.type_line("1");
    tmux.wait_for("step 2: ", 1);
    tmux.type_line("q");
    let screen = tmux.wait_for("EXIT=", 1);
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(dir.path().join("o/run.json").exists());
}

/// `sim run --days ask` of 30 episodes a day on the small world, in tmux, in `dir`.
fn days_ask_in_tmux(dir: &Path) -> Tmux {
    let config = small_world_config(dir);
    let experiment = root().join("experiments/ceiling.yml");
    let command = format!(
        "{} run --experiment {} --config {} --episodes 30 --days ask --out o --cache-dir cache; echo EXIT=$?; sleep 600",
        sim_path().display(),
        experiment.display(),
        config.display()
    );
    Tmux::start(dir, &command)
}

#[test]
fn days_ask_asks_after_each_day_in_tmux() {
    assert!(have_tmux(), "tmux is needed (CI installs it)");
    let dir = tempfile::tempdir().unwrap();
    let tmux = days_ask_in_tmux(dir.path());
    tmux.wait_for("End of day 1. Would you like to start a new day? (y/n)", 1);
    tmux.type_line("maybe");
    tmux.wait_for("please answer y or n", 1);
    tmux.type_line("y");
    tmux.wait_for("End of day 2. Would you like to start a new day? (y/n)", 1);
    tmux.type_line("n");
    let screen = tmux.wait_for("EXIT=", 1);
    assert!(screen.contains("EXIT=0"), "{screen}");
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("o/run.json")).unwrap())
            .unwrap();
    assert_eq!(record["days"].as_array().unwrap().len(), 2);
    assert_eq!(record["days_asked"], "ask");
}

/// Ctrl-C twice at the `--days ask` prompt ends the run at once as one Ctrl-C does: day
/// 1's log in place, `run.json` with `interrupted: true`, exit 130.
#[test]
fn ctrl_c_twice_at_the_days_ask_prompt_keeps_the_finished_day() {
    assert!(have_tmux(), "tmux is needed (CI installs it)");
    let dir = tempfile::tempdir().unwrap();
    let tmux = days_ask_in_tmux(dir.path());
    tmux.wait_for("End of day 1. Would you like to start a new day? (y/n)", 1);
    tmux.ctrl_c_twice();
    let screen = tmux.wait_for("EXIT=", 1);
    assert!(screen.contains("EXIT=130"), "{screen}");
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("o/run.json")).unwrap())
            .unwrap();
    assert_eq!(record["interrupted"], true, "{record}");
    assert_eq!(record["days"].as_array().unwrap().len(), 1);
    assert_eq!(record["completed_episodes"], 30);
    assert!(dir.path().join("o/events-day1.jsonl").exists());
}
