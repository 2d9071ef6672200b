//! Helpers of the HTTP tests: start `sim serve` on a free loopback port, talk raw HTTP.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A running `sim serve`; killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub addr: String,
    pub log: PathBuf,
}

impl Server {
    /// Starts `sim serve --port 0` in `dir` and waits (at most 30 s) for its address.
    pub fn start(dir: &Path, experiment: &Path, config: &Path, log: &str) -> Server {
        Server::start_with(dir, experiment, config, log, &[])
    }

    /// As [`Server::start`], with `extra` flags.
    pub fn start_with(
        dir: &Path,
        experiment: &Path,
        config: &Path,
        log: &str,
        extra: &[&str],
    ) -> Server {
        let mut command = serve_command(dir, experiment, config, log, extra);
        command.stderr(Stdio::null());
        Server::spawn(command, dir.join(log))
    }

    /// Spawns `command` (a [`serve_command`], perhaps changed) and waits (at most 30 s) for
    /// the address it prints.
    pub fn spawn(mut command: Command, log: PathBuf) -> Server {
        let mut child = command.spawn().expect("sim serve starts");
        let url = listening_url(&mut child);
        let addr = url.trim_start_matches("http://").to_string();
        Server {
            child,
            url,
            addr,
            log,
        }
    }

    pub fn signal(&self, name: &str) {
        signal(self.child.id(), name);
    }

    /// SIGTERM, then the exit status (at most 20 s).
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal("TERM");
        wait_for(&mut self.child, Duration::from_secs(20)).expect("sim serve stops on SIGTERM")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `sim serve --port 0` in `dir` with `extra` flags, its stdout and stderr piped.
pub fn serve_command(
    dir: &Path,
    experiment: &Path,
    config: &Path,
    log: &str,
    extra: &[&str],
) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sim"));
    command
        .args([
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--workers",
            "2",
        ])
        .arg("--experiment")
        .arg(experiment)
        .arg("--config")
        .arg(config)
        .arg("--log")
        .arg(log)
        .args(extra)
        .current_dir(dir)
        // Never the user's own cache (as `crate::common::sim`).
        .env("BOTIFY_CACHE_DIR", dir.join("cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// The url a starting `sim serve` prints on its stdout (waited for at most 30 s).
pub fn listening_url(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("sim serve prints its address within 30 s");
    line.trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string()
}

/// What a child wrote on its stderr, once it has ended.
pub fn stderr_of(child: &mut Child) -> String {
    let mut err = String::new();
    if let Some(stderr) = child.stderr.as_mut() {
        let _ = stderr.read_to_string(&mut err);
    }
    err
}

/// Sends signal `name` (TERM, KILL, INT) to `pid` with the shell's `kill`.
pub fn signal(pid: u32, name: &str) {
    let ok = Command::new("sh")
        .args(["-c", &format!("kill -{name} {pid}")])
        .status()
        .expect("sh runs")
        .success();
    assert!(ok, "kill -{name} {pid} succeeded");
}

/// The child's exit status, or None after `limit` (the child is then killed).
pub fn wait_for(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Sends raw bytes on a fresh connection, half-closes it, and reads everything back:
/// the status code and body of the first answer, or None when the server just closed.
pub fn exchange(addr: &str, bytes: &[u8]) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    parse_answer(&answer)
}

pub fn parse_answer(answer: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(answer);
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

/// A POST with a JSON body, as raw bytes.
pub fn post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The log's events as JSON values; panics on an invalid line.
pub fn events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}:{}: invalid JSON {e}: {l}", path.display(), i + 1))
        })
        .collect()
}

/// Sessions of a log by `session` id: each a list of (message, user, track, time,
/// recommendation) — what a service and a simulator must agree on.
pub fn sessions(path: &Path) -> Vec<Vec<String>> {
    grouped_sessions(&[path.to_path_buf()], false)
}

/// [`sessions`] of several logs read as one (replicas' logs, a session's events spread
/// over them), each session's events sorted: across logs their order is unknown.
pub fn sessions_of(paths: &[PathBuf]) -> Vec<Vec<String>> {
    grouped_sessions(paths, true)
}

fn grouped_sessions(paths: &[PathBuf], sort_events: bool) -> Vec<Vec<String>> {
    let mut by_id: std::collections::BTreeMap<u64, Vec<String>> = Default::default();
    for e in paths.iter().flat_map(|path| events(path)) {
        let id = e["session"].as_u64().expect("every event has a session id");
        by_id.entry(id).or_default().push(format!(
            "{} {} {} {} {}",
            e["message"], e["user"], e["track"], e["time"], e["recommendation"]
        ));
    }
    let mut all: Vec<Vec<String>> = by_id.into_values().collect();
    if sort_events {
        all.iter_mut().for_each(|session| session.sort());
    }
    all.sort();
    all
}

/// A fake Redis server on a free loopback port, for replies no real one sends: `PING` gets
/// `+PONG`, the connection's setup (`AUTH`, `SELECT`, `CLIENT SETINFO`) `+OK`, and any
/// other command `reply(its name)`. Each connection is served by a thread of its own; the
/// threads end with the test process. Returns the `host:port`.
pub fn fake_redis(reply: impl Fn(&str) -> Vec<u8> + Send + Sync + 'static) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let reply = std::sync::Arc::new(reply);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let reply = std::sync::Arc::clone(&reply);
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                while let Some(command) = read_command(&mut reader) {
                    let answer = match command.to_ascii_uppercase().as_str() {
                        "PING" => b"+PONG\r\n".to_vec(),
                        "AUTH" | "SELECT" | "CLIENT" => b"+OK\r\n".to_vec(),
                        name => reply(name),
                    };
                    if writer.write_all(&answer).is_err() {
                        return;
                    }
                }
            });
        }
    });
    address
}

/// The name of the next command (a RESP array of bulk strings), or None at the end.
fn read_command(reader: &mut impl BufRead) -> Option<String> {
    let mut line = String::new();
    let mut next_line = |reader: &mut dyn BufRead| {
        line.clear();
        reader.read_line(&mut line).ok().filter(|&n| n > 0)?;
        Some(line.trim_end().to_string())
    };
    let parts: usize = next_line(reader)?.strip_prefix('*')?.parse().ok()?;
    let mut name = None;
    for _ in 0..parts {
        let length: usize = next_line(reader)?.strip_prefix('$')?.parse().ok()?;
        let mut bytes = vec![0u8; length + 2];
        reader.read_exact(&mut bytes).ok()?;
        name.get_or_insert_with(|| String::from_utf8_lossy(&bytes[..length]).into_owned());
    }
    name
}

/// 10,000 arrays nested in one another (40 KB), as a hostile or broken Redis might reply.
pub fn nested_arrays_reply() -> Vec<u8> {
    let mut reply = b"*1\r\n".repeat(10_000);
    reply.extend_from_slice(b"*0\r\n");
    reply
}
