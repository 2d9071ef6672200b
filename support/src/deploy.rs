//! The seed's deployment without docker: a real `redis-server` and a real `nginx`, each on
//! a free loopback port with its own temporary configuration, for `sim bench-http
//! --nginx-redis` and the tests. nginx runs `deploy/nginx.conf`, the template compose.yaml
//! mounts, filled by [`render_template`] as the nginx image's `envsubst` fills it there.
//!
//! A free port cannot be handed to redis-server or nginx as a bound socket, so it is
//! chosen (bind to port 0, read the port, close) and the daemon started on it; another
//! process may take the port in between. The daemon's own word decides: a daemon that
//! exits saying the address is in use is started again on another port, and a daemon is
//! ready only when it says it is itself (redis-server: `INFO server` names its pid;
//! nginx: it writes its pid file once its listening socket is bound), never because
//! something accepts connections on the port.

use anyhow::{Context, bail};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The nginx site shared with compose.yaml: `${NGINX_PORT}` and `${RECOMMENDER_SERVERS}`
/// are its placeholders.
pub const NGINX_SITE: &str = include_str!("../../deploy/nginx.conf");

/// Ports tried before giving up when each one chosen is taken by the time the daemon binds.
const PORT_ATTEMPTS: usize = 5;

/// How long a daemon may take to say it is ready.
const START_DEADLINE: Duration = Duration::from_secs(10);

/// A child process killed (and reaped) when dropped.
pub struct Daemon {
    pub name: &'static str,
    pub child: Child,
    pub port: u16,
    /// Where its messages go (its log file or its redirected stderr).
    pub log: PathBuf,
}

impl Daemon {
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `name` in PATH or in /usr/sbin (where Debian puts nginx).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A port nothing listened on a moment ago (it may be taken again since: see the module).
fn unused_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The `${NAME}` placeholders of a template (a name as a shell variable's: letters, digits,
/// `_`, not starting with a digit; `envsubst` leaves anything else alone).
pub fn placeholders(template: &str) -> BTreeSet<String> {
    let is_name = |name: &str| {
        name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    template
        .split("${")
        .skip(1)
        .filter_map(|after| after.split_once('}').map(|(name, _)| name))
        .filter(|name| is_name(name))
        .map(str::to_string)
        .collect()
}

/// `template` with each `${NAME}` replaced by its value, as the nginx image's `envsubst`
/// does with its environment; an error names a placeholder without a value, so a new one
/// in the template cannot reach nginx unfilled.
pub fn render_template(template: &str, values: &[(&str, String)]) -> anyhow::Result<String> {
    let mut text = template.to_string();
    for name in placeholders(template) {
        let Some((_, value)) = values.iter().find(|(n, _)| *n == name) else {
            bail!("the template's placeholder ${{{name}}} has no value");
        };
        text = text.replace(&format!("${{{name}}}"), value);
    }
    Ok(text)
}

/// `deploy/nginx.conf` with nginx listening on `port` and balancing over `upstreams`.
pub fn render_nginx_site(port: u16, upstreams: &[String]) -> anyhow::Result<String> {
    let servers: Vec<String> = upstreams.iter().map(|a| format!("server {a};")).collect();
    render_template(
        NGINX_SITE,
        &[
            ("NGINX_PORT", port.to_string()),
            ("RECOMMENDER_SERVERS", servers.join(" ")),
        ],
    )
}

/// What a start on one port came to.
enum Start {
    Ready(Daemon),
    /// The daemon said its port was in use (another process took it first).
    PortTaken,
}

/// Spawns `command` (its output into `log`) as daemon `name` on `port` and waits until
/// `ready` says it is, or it exits.
fn start(
    name: &'static str,
    mut command: Command,
    port: u16,
    log: PathBuf,
    ready: impl Fn(&Daemon) -> bool,
) -> anyhow::Result<Start> {
    let output =
        std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
    let child = command
        .stdin(Stdio::null())
        .stdout(output.try_clone()?)
        .stderr(output)
        .spawn()
        .with_context(|| format!("cannot start {name}"))?;
    let mut daemon = Daemon {
        name,
        child,
        port,
        log,
    };
    let deadline = Instant::now() + START_DEADLINE;
    while Instant::now() < deadline {
        if let Some(status) = daemon.child.try_wait()? {
            let said = std::fs::read_to_string(&daemon.log).unwrap_or_default();
            if said.contains("Address already in use") {
                return Ok(Start::PortTaken);
            }
            bail!("{name} exited at start ({status}): {}", said.trim());
        }
        if ready(&daemon) {
            return Ok(Start::Ready(daemon));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    bail!(
        "{name} did not say it was ready on port {port} within {} s (its log: {})",
        START_DEADLINE.as_secs(),
        daemon.log.display()
    )
}

/// Starts a daemon with `start_on(port)` on each port of `ports` in turn (at most
/// [`PORT_ATTEMPTS`]) until one is not taken first.
fn on_the_first_free_port(
    name: &str,
    ports: impl IntoIterator<Item = std::io::Result<u16>>,
    mut start_on: impl FnMut(u16) -> anyhow::Result<Start>,
) -> anyhow::Result<Daemon> {
    let mut tried = Vec::new();
    for port in ports.into_iter().take(PORT_ATTEMPTS) {
        let port = port?;
        if let Start::Ready(daemon) = start_on(port)? {
            return Ok(daemon);
        }
        tried.push(port.to_string());
    }
    bail!(
        "{name}: every port tried was taken before it could bind it: {}",
        tried.join(", ")
    )
}

/// Ports that nothing listened on a moment ago, without end.
fn unused_ports() -> impl Iterator<Item = std::io::Result<u16>> {
    std::iter::repeat_with(unused_port)
}

/// `redis-server` on a free port, without persistence, its files in `dir`.
pub fn start_redis(dir: &Path) -> anyhow::Result<Daemon> {
    start_redis_trying(dir, unused_ports())
}

/// `redis-server` on the first of `ports` it can bind, as [`start_redis`].
pub fn start_redis_trying(
    dir: &Path,
    ports: impl IntoIterator<Item = std::io::Result<u16>>,
) -> anyhow::Result<Daemon> {
    on_the_first_free_port("redis-server", ports, |port| redis_on(dir, port))
}

/// `redis-server` on `port` (a restart where an earlier one listened), as [`start_redis`].
pub fn start_redis_on(dir: &Path, port: u16) -> anyhow::Result<Daemon> {
    match redis_on(dir, port)? {
        Start::Ready(daemon) => Ok(daemon),
        Start::PortTaken => bail!("redis-server: port {port} is in use"),
    }
}

fn redis_on(dir: &Path, port: u16) -> anyhow::Result<Start> {
    redis_with(dir, port, &[])
}

/// redis-server on `port`, with `extra` options.
fn redis_with(dir: &Path, port: u16, extra: &[String]) -> anyhow::Result<Start> {
    let program = find_program("redis-server")
        .context("redis-server is not installed (Debian: apt-get install redis-server)")?;
    let mut command = Command::new(program);
    command
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .arg("--dir")
        .arg(dir)
        .args(extra);
    let log = dir.join(format!("redis-{port}.log"));
    start("redis-server", command, port, log, |daemon| {
        redis_says_it_is(daemon).unwrap_or(false)
    })
}

/// A redis-server that also speaks TLS, for `rediss://`: its plain port is the daemon's,
/// the TLS port is returned with the certificate of the authority that signed the
/// server's (for `localhost` and 127.0.0.1), all made with `openssl` in `dir`.
pub fn start_redis_tls(dir: &Path) -> anyhow::Result<(Daemon, u16, PathBuf)> {
    let openssl = |args: &[&str]| -> anyhow::Result<()> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .context("cannot run openssl")?;
        if !out.status.success() {
            bail!(
                "openssl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    };
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )?;
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=botify-test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ])?;
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ])?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ])?;
    let file = |name: &str| dir.join(name).display().to_string();
    let mut tls_port = 0;
    let daemon = on_the_first_free_port("redis-server", unused_ports(), |port| {
        tls_port = unused_port()?;
        let options = [
            "--tls-port".to_string(),
            tls_port.to_string(),
            "--tls-cert-file".into(),
            file("server.pem"),
            "--tls-key-file".into(),
            file("server.key"),
            "--tls-ca-cert-file".into(),
            file("ca.pem"),
            "--tls-auth-clients".into(),
            "no".into(),
        ];
        redis_with(dir, port, &options)
    })?;
    Ok((daemon, tls_port, dir.join("ca.pem")))
}

/// Whether the redis-server on the daemon's port is the daemon: its `INFO server` names
/// the daemon's pid.
fn redis_says_it_is(daemon: &Daemon) -> std::io::Result<bool> {
    let mut stream = TcpStream::connect(("127.0.0.1", daemon.port))?;
    stream.set_read_timeout(Some(Duration::from_secs(1)))?;
    stream.write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")?;
    let pid = format!("\r\nprocess_id:{}\r\n", daemon.child.id());
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    // One bulk string: `$<length>\r\n`, the text, `\r\n`.
    while !whole_bulk(&reply) {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&chunk[..n]);
    }
    Ok(String::from_utf8_lossy(&reply).contains(&pid))
}

fn whole_bulk(reply: &[u8]) -> bool {
    let Some(header) = reply.windows(2).position(|w| w == b"\r\n") else {
        return false;
    };
    let length = reply
        .get(1..header)
        .and_then(|l| std::str::from_utf8(l).ok())
        .and_then(|l| l.parse::<usize>().ok());
    // Not a bulk string (an error reply, say): whole at its line end.
    length.is_none_or(|length| reply.len() >= header + 2 + length + 2)
}

/// nginx in the foreground on a free port with a temporary configuration in `dir` that
/// includes [`render_nginx_site`].
pub fn start_nginx(dir: &Path, upstreams: &[String]) -> anyhow::Result<Daemon> {
    let program = find_program("nginx")
        .context("nginx is not installed (Debian: apt-get install nginx-light)")?;
    std::fs::create_dir_all(dir)?;
    on_the_first_free_port("nginx", unused_ports(), |port| {
        let site = dir.join("site.conf");
        std::fs::write(&site, render_nginx_site(port, upstreams)?)?;
        let d = dir.display();
        let pid_file = dir.join("nginx.pid");
        let _ = std::fs::remove_file(&pid_file);
        // One process (no master): killing the child stops nginx whole, no orphaned workers.
        let main = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {};\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               include {};\n}}\n",
            pid_file.display(),
            site.display()
        );
        let config = dir.join("nginx.conf");
        std::fs::write(&config, main)?;
        let mut command = Command::new(&program);
        command.arg("-p").arg(dir).arg("-c").arg(&config);
        // nginx writes its pid file after it has bound its listening socket.
        start("nginx", command, port, dir.join("stderr.log"), |daemon| {
            std::fs::read_to_string(&pid_file)
                .is_ok_and(|pid| pid.trim() == daemon.child.id().to_string())
        })
    })
}

/// A loopback port that refuses connections for as long as the guard lives: a socket is
/// bound to it and never listens, so no other process can listen there meanwhile.
pub fn refusing_port() -> std::io::Result<(tokio::net::TcpSocket, u16)> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind("127.0.0.1:0".parse().map_err(std::io::Error::other)?)?;
    let port = socket.local_addr()?.port();
    Ok((socket, port))
}
