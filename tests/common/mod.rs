//! Helpers shared by the integration tests: run the binary, write small worlds.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `sim` in `dir`, its artifact cache in `dir/cache` unless `--cache-dir` says
/// otherwise (never the user's own cache).
pub fn sim(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .current_dir(dir)
        .env("BOTIFY_CACHE_DIR", dir.join("cache"))
        .output()
        .expect("the sim binary runs")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The project's root, for `experiments/` and test data.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A config for a small synthetic world, so tests run in milliseconds.
pub fn small_world_config(dir: &Path) -> PathBuf {
    let path = dir.join("env.yml");
    std::fs::write(
        &path,
        "world:\n  synthetic: {tracks: 3000, artists: 700, users: 400, seed: 7}\n",
    )
    .unwrap();
    path
}

/// A folder with the small world (`env.yml`) and a two-arm experiment (`ab.yml`).
pub fn ab_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    small_world_config(dir.path());
    std::fs::write(
        dir.path().join("ab.yml"),
        "name: ab\narms:\n  C: {kind: random}\n  T1: {kind: sticky_artist}\n",
    )
    .unwrap();
    dir
}

/// Writes the small world's `env.yml` into `dir` and returns the start of a `sim` call
/// on it with the built-in `ceiling` experiment (run in `dir`): `command --experiment
/// ceiling --config env.yml`.
pub fn ceiling_on_small_world<'a>(dir: &Path, command: &'a str) -> Vec<&'a str> {
    small_world_config(dir);
    vec![command, "--experiment", "ceiling", "--config", "env.yml"]
}

/// A tiny world (`env.yml`) and a two-arm `seminar.yml` whose logs recipes train from.
pub fn tiny_world_and_seminar(dir: &Path) {
    std::fs::write(
        dir.join("env.yml"),
        "world:\n  synthetic: {tracks: 2000, artists: 500, users: 300, seed: 5}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("seminar.yml"),
        "name: seminar\narms:\n  C: {kind: random}\n  T1: {kind: sticky_artist}\n",
    )
    .unwrap();
}

/// `sim run` of `trained.yml` (an experiment with a recipe) on `env.yml`, 50 episodes
/// into `out`, plus `extra`.
pub fn trained_run_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "--experiment",
        "trained.yml",
        "--config",
        "env.yml",
        "--episodes",
        "50",
        "--out",
        "out",
    ];
    args.extend(extra);
    args
}

/// The log's lines without the `latency` field (the one field that may differ between runs).
pub fn log_without_latency(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
            v.as_object_mut().unwrap().remove("latency");
            v.to_string()
        })
        .collect()
}

/// A `.npy` file with the given dtype descr, order and raw little/big-endian payload.
pub fn write_npy(path: &Path, descr: &str, fortran: bool, shape: (usize, usize), payload: &[u8]) {
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': ({}, {}), }}",
        if fortran { "True" } else { "False" },
        shape.0,
        shape.1
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(payload);
    std::fs::write(path, bytes).unwrap();
}

/// How a command must end, checked on std's `Command`: all the tests need of `assert_cmd`,
/// whose dependencies (`bstr`, `regex-automata`, `predicates`...) cost every clean
/// `cargo test` build.
pub trait Finish {
    /// Runs the command to its end; panics, showing its stderr, unless it exited with 0.
    fn success(&mut self) -> Output;
    /// Runs the command to its end; panics unless it exited with a non-zero code (a
    /// process killed by a signal has none).
    fn failure(&mut self) -> Output;
}

impl Finish for Command {
    fn success(&mut self) -> Output {
        let out = self.output().expect("the command runs");
        assert!(
            out.status.success(),
            "{self:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn failure(&mut self) -> Output {
        let out = self.output().expect("the command runs");
        assert!(
            out.status.code().is_some_and(|code| code != 0),
            "{self:?} should have exited with an error code ({}); stdout: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        );
        out
    }
}

#[test]
#[should_panic(expected = "failed")]
fn success_rejects_a_command_that_fails() {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .arg("--no-such-flag")
        .success();
}

#[test]
#[should_panic(expected = "should have exited with an error code")]
fn failure_rejects_a_command_that_succeeds() {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .arg("--version")
        .failure();
}

/// Generous: the machine is shared and slow; only a hang reaches it.
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(300);

/// What a [`Running`] process reports: a piece of its stderr, or its exit.
enum Report {
    Stderr(Vec<u8>),
    Exited(std::process::ExitStatus),
}

/// A `sim` process started in `dir` (its cache in `dir/cache`) whose stderr and exit are
/// reported on a channel as they happen, so a test waits for an event, not for a time.
pub struct Running {
    pid: u32,
    reports: std::sync::mpsc::Receiver<Report>,
    /// Its stderr so far (prompts have no line end, so this is bytes, not lines).
    pub stderr: String,
    status: Option<std::process::ExitStatus>,
    /// Its standard input, when it was started with one.
    pub stdin: Option<std::process::ChildStdin>,
}

impl Running {
    pub fn start(args: &[&str], dir: &Path) -> Running {
        Running::spawn(args, dir, false)
    }

    /// With a pipe on standard input, kept open until [`Running::stdin`] is dropped.
    pub fn start_with_stdin(args: &[&str], dir: &Path) -> Running {
        Running::spawn(args, dir, true)
    }

    fn spawn(args: &[&str], dir: &Path, stdin: bool) -> Running {
        use std::io::Read;
        use std::process::Stdio;
        let mut child = Command::new(env!("CARGO_BIN_EXE_sim"))
            .args(args)
            .current_dir(dir)
            .env("BOTIFY_CACHE_DIR", dir.join("cache"))
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the sim binary runs");
        let mut stderr = child.stderr.take().expect("piped");
        let stdin = child.stdin.take();
        let (tx, reports) = std::sync::mpsc::channel();
        let pieces = tx.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut buffer) {
                if pieces.send(Report::Stderr(buffer[..n].to_vec())).is_err() {
                    return;
                }
            }
        });
        let pid = child.id();
        std::thread::spawn(move || {
            if let Ok(status) = child.wait() {
                let _ = tx.send(Report::Exited(status));
            }
        });
        Running {
            pid,
            reports,
            stderr: String::new(),
            status: None,
            stdin,
        }
    }

    /// Takes the next report, or panics after `PATIENCE` (killing the process).
    fn next_report(&mut self, waiting_for: &str) {
        match self.reports.recv_timeout(PATIENCE) {
            Ok(Report::Stderr(bytes)) => self.stderr.push_str(&String::from_utf8_lossy(&bytes)),
            Ok(Report::Exited(status)) => self.status = Some(status),
            Err(_) => {
                self.signal("-KILL");
                panic!("no {waiting_for} within {PATIENCE:?}: {}", self.stderr);
            }
        }
    }

    /// Waits until its stderr so far contains `needle`; panics if the process ends
    /// without writing it.
    pub fn wait_for(&mut self, needle: &str) {
        self.wait_for_count(needle, 1);
    }

    /// Waits until its stderr so far contains `needle` `count` times.
    pub fn wait_for_count(&mut self, needle: &str, count: usize) {
        while self.stderr.matches(needle).count() < count {
            if let Some(status) = self.status {
                // The rest of stderr may still be on its way.
                while let Ok(Report::Stderr(bytes)) =
                    self.reports.recv_timeout(std::time::Duration::from_secs(5))
                {
                    self.stderr.push_str(&String::from_utf8_lossy(&bytes));
                }
                assert!(
                    self.stderr.matches(needle).count() >= count,
                    "exited ({status}) before {needle:?} (x{count}): {}",
                    self.stderr
                );
                return;
            }
            self.next_report(needle);
        }
    }

    /// Sends `signal` (as `kill` spells it: `-INT`, `-TERM`, `-KILL`).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} {}", self.pid);
    }

    /// Sends `signal` (`libc::SIGINT`...) twice in a row, nothing between the two. The
    /// first must reach the process; the second may find it gone (it ended, as the first
    /// asked).
    pub fn signal_twice(&self, signal: i32) {
        let pid = self.pid as i32;
        // SAFETY: kill(2) has no memory effects.
        let (first, second) = unsafe { (libc::kill(pid, signal), libc::kill(pid, signal)) };
        assert_eq!(first, 0, "kill {signal} {pid}");
        let gone = std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        assert!(second == 0 || gone, "kill {signal} {pid} again");
    }

    /// Waits for the exit; its code (none if killed by a signal) and the whole stderr.
    pub fn finish(mut self) -> (Option<i32>, String) {
        self.stdin = None;
        while self.status.is_none() {
            self.next_report("exit");
        }
        while let Ok(Report::Stderr(bytes)) =
            self.reports.recv_timeout(std::time::Duration::from_secs(5))
        {
            self.stderr.push_str(&String::from_utf8_lossy(&bytes));
        }
        (self.status.and_then(|s| s.code()), self.stderr)
    }
}

/// Waits until `ready` holds, looking again each time the file system may have changed
/// (every 20 ms), or panics after `PATIENCE` saying `what` never happened.
pub fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while !ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within {PATIENCE:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
