//! The seed's deployment without docker: a real `redis-server` and a real `nginx`, each on
//! a free loopback port with its own temporary configuration, for `sim bench-http
//! --nginx-redis` and the tests. nginx runs `deploy/nginx.conf`, the file compose.yaml
//! mounts, with its two placeholders filled in.

use anyhow::{Context, bail};
use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The nginx configuration shared with compose.yaml (its `${...}` placeholders are filled
/// by the nginx image's envsubst there, by [`render_nginx_site`] here).
pub const NGINX_SITE: &str = include_str!("../../../deploy/nginx.conf");

/// A child process killed (and reaped) when dropped.
pub struct Daemon {
    pub name: &'static str,
    pub child: Child,
    pub port: u16,
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

/// A port nothing listens on right now.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Waits (at most 10 s) until something accepts connections on `port`.
fn wait_listening(daemon: &mut Daemon) -> anyhow::Result<()> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if TcpStream::connect(("127.0.0.1", daemon.port)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = daemon.child.try_wait() {
            let mut err = String::new();
            if let Some(stderr) = daemon.child.stderr.as_mut() {
                let _ = stderr.read_to_string(&mut err);
            }
            bail!("{} exited at start ({status}): {}", daemon.name, err.trim());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!(
        "{} does not listen on port {} after 10 s",
        daemon.name,
        daemon.port
    )
}

/// `redis-server` on a free port (or `port`), without persistence, its files in `dir`.
pub fn start_redis(dir: &Path, port: Option<u16>) -> anyhow::Result<Daemon> {
    let program = find_program("redis-server")
        .context("redis-server is not installed (Debian: apt-get install redis-server)")?;
    let port = match port {
        Some(p) => p,
        None => free_port()?,
    };
    let child = Command::new(&program)
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", program.display()))?;
    let mut daemon = Daemon {
        name: "redis-server",
        child,
        port,
    };
    wait_listening(&mut daemon)?;
    Ok(daemon)
}

/// `deploy/nginx.conf` with nginx listening on `port` and balancing over `upstreams`.
pub fn render_nginx_site(port: u16, upstreams: &[String]) -> String {
    let servers: String = upstreams
        .iter()
        .map(|address| format!("server {address};"))
        .collect::<Vec<_>>()
        .join(" ");
    NGINX_SITE
        .replace("${NGINX_PORT}", &port.to_string())
        .replace("${RECOMMENDER_SERVERS}", &servers)
}

/// nginx in the foreground on a free port with a temporary configuration in `dir` that
/// includes [`render_nginx_site`].
pub fn start_nginx(dir: &Path, upstreams: &[String]) -> anyhow::Result<Daemon> {
    let program = find_program("nginx")
        .context("nginx is not installed (Debian: apt-get install nginx-light)")?;
    let port = free_port()?;
    std::fs::create_dir_all(dir)?;
    let site = dir.join("site.conf");
    std::fs::write(&site, render_nginx_site(port, upstreams))?;
    let d = dir.display();
    // One process (no master): killing the child stops nginx whole, no orphaned workers.
    let main = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
           include {};\n}}\n",
        site.display()
    );
    let config = dir.join("nginx.conf");
    std::fs::write(&config, main)?;
    let child = Command::new(&program)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", program.display()))?;
    let mut daemon = Daemon {
        name: "nginx",
        child,
        port,
    };
    wait_listening(&mut daemon)?;
    Ok(daemon)
}
