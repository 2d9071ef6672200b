//! The `--between-days` command: run with `sh -c` in a process group of its own, its
//! output streamed to stderr as it comes (only a tail is kept, for the error), a signal
//! to `sim` passed on to the whole group, and `--between-days-timeout` bounding it.

use crate::interrupt;
use anyhow::Context;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Lines of a failing command's output shown in the error.
const OUTPUT_TAIL_LINES: usize = 20;
/// Bytes of output kept for that tail: the memory held, whatever the command prints.
const OUTPUT_TAIL_BYTES: usize = 16 << 10;
/// How long a command may take to end after it was passed a signal or timed out, before
/// it is killed.
pub const BETWEEN_DAYS_GRACE: Duration = Duration::from_secs(5);
/// How long the output is still read after the command ended (a process it left behind
/// may hold the pipe open).
const DRAIN: Duration = Duration::from_secs(1);

/// What ended the wait for the command.
enum Event {
    Exited(std::io::Result<ExitStatus>),
    Signal(i32),
}

/// Why the command was stopped.
#[derive(Clone, Copy)]
enum Stopped {
    Signal(i32),
    Timeout(Duration),
}

/// Runs `command` with `sh -c` after `day`. A failure names the command, the day, the
/// exit status and the end of its output; a signal to `sim` stops it and gives
/// [`interrupt::Interrupted`]; after `timeout` it is sent SIGTERM (SIGKILL after
/// [`BETWEEN_DAYS_GRACE`]) and the run fails, naming the timeout.
pub fn between_days(
    command: &str,
    day: u32,
    log: &Path,
    out_dir: &Path,
    timeout: Option<Duration>,
) -> anyhow::Result<()> {
    if interrupt::requested() {
        return Err(interrupt::Interrupted.into());
    }
    crate::note!("between days {day} and {}: {command}", day + 1);
    // Absolute, so the command may change directory.
    let absolute = |path: &Path| std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let cannot_start = || format!("--between-days: cannot start `sh -c {command:?}`");
    // One pipe for both streams: the tail keeps their order.
    let (output, writer) = std::io::pipe().with_context(cannot_start)?;
    let child = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("BOTIFY_DAY", day.to_string())
        .env("BOTIFY_LOG", absolute(log))
        .env("BOTIFY_OUT", absolute(out_dir))
        .stdin(Stdio::null())
        .stdout(writer.try_clone().with_context(cannot_start)?)
        .stderr(writer)
        // Its own group: a terminal's Ctrl-C reaches `sim` alone, which passes it on once
        // to the command and everything it started.
        .process_group(0)
        .spawn()
        .with_context(cannot_start)?;
    let group = child.id() as i32;

    let tail = Arc::new(Mutex::new(Vec::new()));
    let (drained_tx, drained) = mpsc::channel();
    let streamed = Arc::clone(&tail);
    std::thread::spawn(move || {
        stream_output(output, &streamed);
        let _ = drained_tx.send(());
    });
    let (events_tx, events) = mpsc::channel();
    let exited = events_tx.clone();
    let mut child = child;
    std::thread::spawn(move || {
        let _ = exited.send(Event::Exited(child.wait()));
    });
    interrupt::on_signal(move |signal| events_tx.send(Event::Signal(signal)).is_ok());

    let mut deadline = timeout.map(|t| Instant::now() + t);
    let mut stopped: Option<Stopped> = None;
    let status = loop {
        let event = match deadline {
            Some(at) => events.recv_timeout(at.saturating_duration_since(Instant::now())),
            None => events.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match event {
            Ok(Event::Exited(status)) => {
                break status.with_context(|| {
                    format!("--between-days: cannot wait for `sh -c {command:?}`")
                })?;
            }
            Ok(Event::Signal(signal)) => {
                signal_group(group, signal);
                if stopped.is_none() {
                    stopped = Some(Stopped::Signal(signal));
                    deadline = Some(Instant::now() + BETWEEN_DAYS_GRACE);
                }
            }
            Err(RecvTimeoutError::Timeout) => match (stopped, timeout) {
                (None, Some(limit)) => {
                    signal_group(group, libc::SIGTERM);
                    stopped = Some(Stopped::Timeout(limit));
                    deadline = Some(Instant::now() + BETWEEN_DAYS_GRACE);
                }
                _ => {
                    signal_group(group, libc::SIGKILL);
                    deadline = None;
                }
            },
            Err(RecvTimeoutError::Disconnected) => {
                anyhow::bail!("--between-days: lost track of `sh -c {command:?}`")
            }
        }
    };
    let _ = drained.recv_timeout(DRAIN);
    let tail = tail_lines(
        &tail
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let output = if tail.is_empty() {
        "(none)".to_string()
    } else {
        tail
    };
    match stopped {
        Some(Stopped::Signal(signal)) => {
            Err(anyhow::Error::new(interrupt::Interrupted).context(format!(
                "--between-days command {command:?} after day {day} was passed {} and stopped",
                signal_name(signal)
            )))
        }
        Some(Stopped::Timeout(limit)) => anyhow::bail!(
            "--between-days command {command:?} was still running after day {day} at --between-days-timeout {} s and was stopped; its output ended with:\n{output}\nthe run stopped; the logs of days 1..{day} are kept in {}",
            limit.as_secs_f64(),
            out_dir.display()
        ),
        None if status.success() => Ok(()),
        None => {
            let status = match status.code() {
                Some(code) => format!("exit status {code}"),
                None => format!("{status}"),
            };
            anyhow::bail!(
                "--between-days command {command:?} failed after day {day} with {status}; its output ended with:\n{output}\nthe run stopped; the logs of days 1..{day} are kept in {}",
                out_dir.display()
            )
        }
    }
}

fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGHUP => "SIGHUP".into(),
        other => format!("signal {other}"),
    }
}

/// Sends `signal` to every process of the group `group`.
fn signal_group(group: i32, signal: i32) {
    // SAFETY: kill(2) has no memory effects; a group that is gone gives ESRCH.
    unsafe {
        libc::kill(-group, signal);
    }
}

/// Copies `output` to stderr as it comes, keeping its last bytes in `tail`.
fn stream_output(mut output: impl Read, tail: &Mutex<Vec<u8>>) {
    let mut buffer = vec![0u8; 8 << 10];
    loop {
        let n = match output.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // A closed stderr does not stop the command: its output is dropped.
        let _ = std::io::stderr().write_all(&buffer[..n]);
        let mut kept = tail
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.extend_from_slice(&buffer[..n]);
        if kept.len() > 2 * OUTPUT_TAIL_BYTES {
            let cut = kept.len() - OUTPUT_TAIL_BYTES;
            kept.drain(..cut);
        }
    }
}

/// The last [`OUTPUT_TAIL_LINES`] lines of the last [`OUTPUT_TAIL_BYTES`] of `output`.
fn tail_lines(output: &[u8]) -> String {
    let kept = &output[output.len().saturating_sub(OUTPUT_TAIL_BYTES)..];
    let text = String::from_utf8_lossy(kept);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(OUTPUT_TAIL_LINES)..].join("\n")
}
