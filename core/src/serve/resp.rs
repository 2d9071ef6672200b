//! A minimal Redis client (RESP2 over `tokio::net::TcpStream`) for the session store:
//! `redis://` urls, `AUTH`/`SELECT` on connect, commands sent as RESP arrays, pipelines
//! (send N, read N), `MULTI`/`EXEC` transactions, a timeout on connecting and on every
//! exchange, and a bounded parser: a broken or hostile server (a huge bulk length, an
//! endless array, garbage) gives an error, never a panic, a hang or unbounded memory.
//!
//! Why not the `redis` crate: the build. Issue 13 asks for a clean `cargo build --release`
//! within 2 minutes on 2 cores, and `redis` with the crates only it pulled in (`combine`,
//! `futures-util`, `url`, `idna`, `tokio-util`, `arc-swap`, `async-lock`, `backon`...: 26
//! compile units) was a large share of it, for a reconnecting connection and five commands.
//! Measured with `CARGO_TARGET_DIR=<empty> nice -n 19 cargo build --release --timings`,
//! before and after in the same minutes, on the shared 2-core machine (load 2-5 from other
//! work, which moved wall times by a minute either way, so CPU and unit times are the
//! figures to trust):
//!
//! | pair (time, load) | before: wall / user CPU | after: wall / user CPU | units gone: their time |
//! | --- | --- | --- | --- |
//! | on `c0e0c51` (03:24-03:32, 3.2-5.3) | 216 s / 306 s | 275 s / 269 s | 26: 78 s (redis 57, combine 7.4, futures-util 4.1) |
//! | on the split (03:38-03:45, 2.0-3.9) | 303 s / 333 s | 146 s / 243 s | 26: 104 s (redis 59, combine 14, futures-util 12) |
//!
//! `sim bench-http --nginx-redis --episodes 10000 --workers 8` (two replicas behind nginx,
//! sessions in Redis), the `redis` crate's binary (`c0e0c51`) and this one alternated,
//! under `nice -n 19`: at 03:54-03:57 (load 4-4.4, mostly the benchmark's own processes)
//! 5,286 and 5,800 steps/s before, 5,560 and 5,331 with this client, so at least issue 9's
//! 5,000 either way; at 03:17-03:24 (load 3-5.5 from other work) 2,591 / 6,052 / 2,991
//! before and 3,486 / 5,726 / 2,182 after: no difference beyond the machine's noise.
//!
//! Connections: a pool, not one multiplexed connection. A request takes an idle connection
//! (after checking that the server has not closed it while it sat idle) or opens one, and
//! gives it back only after a whole exchange: a request cancelled or failed mid-exchange
//! drops its connection, so no connection is ever out of step with its replies, and no
//! background task is needed. As with `redis::aio::ConnectionManager` before, a failed
//! command is never retried (the caller sees the error) and the next request connects
//! again, so the store recovers by itself once Redis is back.

use std::sync::Mutex;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// The port of `redis://host` without one.
pub const DEFAULT_PORT: u16 = 6379;

/// A parsed `redis://[user[:password]@]host[:port][/db]` url.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisUrl {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    pub db: u32,
    /// The url as given, its password (if any) replaced by `***`: safe in messages.
    pub shown: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RespError {
    #[error("{url:?} is not a Redis url redis://[user:password@]host[:port][/db]: {reason}")]
    Url { url: String, reason: String },
    #[error("cannot connect to {address}: {source}")]
    Connect {
        address: String,
        source: std::io::Error,
    },
    #[error("no connection to {address} within {timeout:?}")]
    ConnectTimeout { address: String, timeout: Duration },
    #[error("all {connections} connections stayed busy for {timeout:?}")]
    Busy {
        connections: usize,
        timeout: Duration,
    },
    #[error("connection lost: {0}")]
    Io(#[from] std::io::Error),
    #[error("the server closed the connection")]
    Closed,
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    #[error("not a RESP2 reply: {0}")]
    Protocol(String),
    /// An error reply (`-ERR ...`) to `command`.
    #[error("{command}: {message}")]
    Server { command: String, message: String },
    /// A reply of the wrong kind to `command` (`reply`: its start, for messages).
    #[error("{command}: unexpected reply {reply}")]
    Unexpected { command: String, reply: String },
}

impl RedisUrl {
    /// Parses the forms the `redis` crate accepted for `redis://` (user and password
    /// percent-decoded, IPv6 hosts in brackets, db 0 by default); a query or fragment
    /// (`?protocol=resp3`, TLS options...) is refused: this client speaks RESP2 over TCP.
    pub fn parse(url: &str) -> Result<RedisUrl, RespError> {
        let fail = |reason: &str| RespError::Url {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let rest = url
            .strip_prefix("redis://")
            .ok_or_else(|| fail("it does not start with redis://"))?;
        if rest.contains(['?', '#']) {
            return Err(fail("a query or fragment is not supported"));
        }
        if rest.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(fail("it contains a space or control character"));
        }
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let (mut username, mut password) = (None, None);
        if let Some(userinfo) = userinfo {
            let (user, pass) = match userinfo.split_once(':') {
                Some((user, pass)) => (user, Some(pass)),
                None => (userinfo, None),
            };
            let decode = |text: &str, what: &str| {
                percent_decode(text)
                    .ok_or_else(|| fail(&format!("its {what} is not valid percent-encoded UTF-8")))
            };
            username = Some(decode(user, "user name")?).filter(|u| !u.is_empty());
            password = pass
                .map(|p| decode(p, "password"))
                .transpose()?
                .filter(|p| !p.is_empty());
        }
        let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| fail("an IPv6 host without its closing ]"))?;
            host.parse::<std::net::Ipv6Addr>()
                .map_err(|_| fail(&format!("[{host}] is not an IPv6 address")))?;
            let port = match after {
                "" => None,
                _ => Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| fail("text after the IPv6 host that is not :port"))?,
                ),
            };
            (host, port)
        } else {
            match hostport.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(fail("no host"));
        }
        let port =
            match port {
                None | Some("") => DEFAULT_PORT,
                Some(port) => port.parse::<u16>().ok().filter(|&p| p > 0).ok_or_else(|| {
                    fail(&format!("port {port:?} is not a number from 1 to 65535"))
                })?,
            };
        let db = match path.trim_matches('/') {
            "" => 0,
            db => db.parse::<u32>().map_err(|_| {
                fail(&format!(
                    "database {db:?} is not a number from 0 to 4294967295"
                ))
            })?,
        };
        let shown = match (userinfo, &password) {
            (Some(userinfo), Some(_)) => {
                let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
                format!("redis://{user}:***@{hostport}{path}")
            }
            _ => url.to_string(),
        };
        Ok(RedisUrl {
            host: host.to_string(),
            port,
            username,
            password,
            db,
            shown,
        })
    }

    /// `host:port`, IPv6 hosts in brackets.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// `%XX` escapes decoded; `None` if an escape is malformed or the result is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A reply (RESP2). The null bulk string (`$-1`) and the null array (`*-1`) are both `Nil`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Status(String),
    Error(String),
    Integer(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<Reply>),
}

impl Reply {
    /// The error of a reply `command` should not have had (its first 100 characters).
    pub fn unexpected(&self, command: &str) -> RespError {
        RespError::Unexpected {
            command: command.to_string(),
            reply: format!("{:.100}", format!("{self:?}")),
        }
    }
}

/// What one reply may cost. Replies of the session store are a few kilobytes (a session
/// record as JSON), so the defaults leave room by a factor of thousands.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Memory of one parsed reply: its strings' bytes plus one [`Reply`] per array element.
    pub max_reply_bytes: usize,
    /// A status, error or integer line, or a length header, without its end.
    pub max_line_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_reply_bytes: 16 << 20,
            max_line_bytes: 64 << 10,
        }
    }
}

/// What an array element costs besides its bytes.
const SLOT: usize = size_of::<Reply>();

/// An incremental RESP2 reply parser: fed the bytes received so far, it takes whole
/// elements from their front and keeps the arrays still being filled, so each byte is
/// parsed once however the replies are split across reads.
pub struct ReplyParser {
    limits: Limits,
    /// Arrays being filled, innermost last: (elements so far, elements declared).
    open: Vec<(Vec<Reply>, usize)>,
    /// Memory of the reply being parsed, against `limits.max_reply_bytes`.
    charged: usize,
}

/// One element of the wire: a whole scalar, or the header of an array of `n` (> 0).
enum Element {
    Whole(Reply),
    ArrayOf(usize),
}

impl ReplyParser {
    pub fn new(limits: Limits) -> ReplyParser {
        ReplyParser {
            limits,
            open: Vec::new(),
            charged: 0,
        }
    }

    /// Takes elements from the front of `input` until a reply is whole: returns the bytes
    /// taken and the reply, or (all bytes taken, `None`) if it needs more: call again with
    /// the rest of `input` and what comes next. An error leaves the parser unusable (the
    /// connection is out of step): drop it.
    pub fn feed(&mut self, input: &[u8]) -> Result<(usize, Option<Reply>), RespError> {
        let mut at = 0;
        'elements: loop {
            let Some((element, len)) = self.element(&input[at..])? else {
                return Ok((at, None));
            };
            at += len;
            let mut done = match element {
                Element::Whole(reply) => reply,
                Element::ArrayOf(n) => {
                    self.open.push((Vec::with_capacity(n), n));
                    continue;
                }
            };
            // Into its array, closing every array it fills.
            while let Some((elements, declared)) = self.open.last_mut() {
                elements.push(done);
                if elements.len() < *declared {
                    continue 'elements;
                }
                done = Reply::Array(std::mem::take(elements));
                self.open.pop();
            }
            self.charged = 0;
            return Ok((at, Some(done)));
        }
    }

    /// Charges `bytes` to the reply being parsed.
    fn charge(&mut self, bytes: usize, what: &str) -> Result<(), RespError> {
        let total = self.charged.saturating_add(bytes);
        if total > self.limits.max_reply_bytes {
            return Err(RespError::Protocol(format!(
                "{what} would take the reply over {} bytes",
                self.limits.max_reply_bytes
            )));
        }
        self.charged = total;
        Ok(())
    }

    /// The element at the front of `input` and its length on the wire, `None` if incomplete.
    fn element(&mut self, input: &[u8]) -> Result<Option<(Element, usize)>, RespError> {
        let Some(&kind) = input.first() else {
            return Ok(None);
        };
        // Garbage is refused at its first byte, not after a line of it.
        if !b"+-:$*".contains(&kind) {
            return Err(not_a_reply(kind));
        }
        // A line's end is looked for within the longest line allowed, not further.
        let searched = &input[..input.len().min(self.limits.max_line_bytes + 3)];
        let line_end = memchr::memchr(b'\n', searched);
        if line_end.unwrap_or(searched.len()) > self.limits.max_line_bytes + 2 {
            return Err(RespError::Protocol(format!(
                "a line longer than {} bytes",
                self.limits.max_line_bytes
            )));
        }
        let Some(newline) = line_end else {
            return Ok(None);
        };
        if newline < 2 || input[newline - 1] != b'\r' {
            return Err(RespError::Protocol("a line not ended by \\r\\n".into()));
        }
        let line = &input[1..newline - 1];
        let taken = newline + 1;
        let text = || String::from_utf8_lossy(line).into_owned();
        let element = match kind {
            b'+' => {
                self.charge(line.len(), "a status")?;
                Element::Whole(Reply::Status(text()))
            }
            b'-' => {
                self.charge(line.len(), "an error")?;
                Element::Whole(Reply::Error(text()))
            }
            b':' => Element::Whole(Reply::Integer(integer(line)?)),
            b'$' => match integer(line)? {
                -1 => Element::Whole(Reply::Nil),
                len if len >= 0 => {
                    let len = len as usize;
                    let budget = self.limits.max_reply_bytes.saturating_sub(self.charged);
                    if len > budget {
                        return Err(RespError::Protocol(format!(
                            "a bulk string of {len} bytes would take the reply over {} bytes",
                            self.limits.max_reply_bytes
                        )));
                    }
                    let end = taken + len;
                    if input.len() < end + 2 {
                        return Ok(None);
                    }
                    if &input[end..end + 2] != b"\r\n" {
                        return Err(RespError::Protocol(format!(
                            "a bulk string of {len} bytes not followed by \\r\\n"
                        )));
                    }
                    self.charge(len, "a bulk string")?;
                    return Ok(Some((
                        Element::Whole(Reply::Bulk(input[taken..end].to_vec())),
                        end + 2,
                    )));
                }
                len => {
                    return Err(RespError::Protocol(format!(
                        "a bulk string of length {len}"
                    )));
                }
            },
            b'*' => match integer(line)? {
                -1 => Element::Whole(Reply::Nil),
                0 => Element::Whole(Reply::Array(Vec::new())),
                n if n > 0 => {
                    let n = n as usize;
                    self.charge(SLOT.saturating_mul(n), &format!("an array of {n} elements"))?;
                    Element::ArrayOf(n)
                }
                n => return Err(RespError::Protocol(format!("an array of length {n}"))),
            },
            other => return Err(not_a_reply(other)),
        };
        Ok(Some((element, taken)))
    }
}

fn not_a_reply(kind: u8) -> RespError {
    RespError::Protocol(format!(
        "byte {kind:#04x} ({:?}) where a reply starts (RESP2: one of + - : $ *)",
        kind as char
    ))
}

/// A decimal integer line.
fn integer(line: &[u8]) -> Result<i64, RespError> {
    std::str::from_utf8(line)
        .ok()
        .filter(|t| !t.starts_with('+'))
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| {
            RespError::Protocol(format!(
                "{:?} is not an integer",
                String::from_utf8_lossy(line)
            ))
        })
}

/// A command: its name and arguments, sent as a RESP array of bulk strings.
#[derive(Debug, Clone)]
pub struct Command {
    parts: Vec<Vec<u8>>,
}

impl Command {
    pub fn new(name: &str) -> Command {
        Command {
            parts: vec![name.as_bytes().to_vec()],
        }
    }

    pub fn arg(mut self, value: impl AsRef<[u8]>) -> Command {
        self.parts.push(value.as_ref().to_vec());
        self
    }

    /// The command's name, for messages (never its arguments: `AUTH` has a password).
    pub fn name(&self) -> String {
        String::from_utf8_lossy(&self.parts[0]).into_owned()
    }

    /// Appends the command as RESP: `*<n>\r\n` then `$<len>\r\n<bytes>\r\n` per part.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut number = itoa::Buffer::new();
        out.push(b'*');
        out.extend_from_slice(number.format(self.parts.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        for part in &self.parts {
            out.push(b'$');
            out.extend_from_slice(number.format(part.len()).as_bytes());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(part);
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// The first error reply among `replies` (one per command) as [`RespError::Server`].
fn first_error(commands: &[Command], replies: &[Reply]) -> Result<(), RespError> {
    for (command, reply) in commands.iter().zip(replies) {
        if let Reply::Error(message) = reply {
            return Err(RespError::Server {
                command: command.name(),
                message: message.clone(),
            });
        }
    }
    Ok(())
}

/// How long and how much a [`Client`] waits.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Name lookup, TCP connect, `AUTH` and `SELECT` together.
    pub connect_timeout: Duration,
    /// One exchange, from its first byte written to its last reply read; also the
    /// longest wait for a free connection.
    pub reply_timeout: Duration,
    /// Connections open at once (requests beyond wait for one).
    pub max_connections: usize,
    pub limits: Limits,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            connect_timeout: Duration::from_secs(2),
            reply_timeout: Duration::from_secs(2),
            max_connections: 64,
            limits: Limits::default(),
        }
    }
}

/// One connection: its socket, the bytes received and not yet parsed, the parser.
struct Connection {
    stream: TcpStream,
    /// The same socket (a duplicate descriptor), to see whether the server closed it while
    /// it was idle: tokio's own readiness flags learn of the close only once the runtime
    /// has polled its events, which may be after the next request is written.
    probe: std::net::TcpStream,
    received: Vec<u8>,
    parser: ReplyParser,
}

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 16 << 10;

impl Connection {
    /// Connects and, if the url says so, authenticates and selects the database.
    async fn open(url: &RedisUrl, limits: Limits) -> Result<Connection, RespError> {
        let stream = TcpStream::connect((url.host.as_str(), url.port))
            .await
            .map_err(|source| RespError::Connect {
                address: url.address(),
                source,
            })?;
        // Small commands answered at once: do not wait to fill a packet.
        stream.set_nodelay(true)?;
        let probe = std::os::fd::AsFd::as_fd(&stream)
            .try_clone_to_owned()
            .map(std::net::TcpStream::from)?;
        let mut connection = Connection {
            stream,
            probe,
            received: Vec::new(),
            parser: ReplyParser::new(limits),
        };
        let mut setup = Vec::new();
        if let Some(password) = &url.password {
            let mut auth = Command::new("AUTH");
            if let Some(user) = &url.username {
                auth = auth.arg(user);
            }
            setup.push(auth.arg(password));
        }
        if url.db != 0 {
            setup.push(Command::new("SELECT").arg(url.db.to_string()));
        }
        if !setup.is_empty() {
            let replies = connection.exchange(&setup).await?;
            for (command, reply) in setup.iter().zip(replies) {
                match reply {
                    Reply::Status(status) if status == "OK" => {}
                    Reply::Error(message) => {
                        return Err(RespError::Server {
                            command: command.name(),
                            message,
                        });
                    }
                    reply => return Err(reply.unexpected(&command.name())),
                }
            }
        }
        Ok(connection)
    }

    /// Nothing to read and no end of stream: the server has not closed it (nor sent
    /// anything unasked). The socket is non-blocking (tokio's), so this never waits.
    fn idle_and_open(&self) -> bool {
        let mut byte = [0u8; 1];
        self.received.is_empty()
            && matches!(self.probe.peek(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }

    /// Sends `commands` at once and reads one reply per command (error replies included).
    async fn exchange(&mut self, commands: &[Command]) -> Result<Vec<Reply>, RespError> {
        let mut out = Vec::with_capacity(64 * commands.len());
        for command in commands {
            command.encode(&mut out);
        }
        let mut written = 0;
        while written < out.len() {
            self.stream.writable().await?;
            match self.stream.try_write(&out[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e.into()),
            }
        }
        let mut replies = Vec::with_capacity(commands.len());
        let mut parsed = 0;
        while replies.len() < commands.len() {
            let (taken, reply) = self.parser.feed(&self.received[parsed..])?;
            parsed += taken;
            if let Some(reply) = reply {
                replies.push(reply);
                continue;
            }
            self.received.drain(..parsed);
            parsed = 0;
            self.read().await?;
        }
        self.received.drain(..parsed);
        Ok(replies)
    }

    /// Appends what the socket has (waiting for at least one byte).
    async fn read(&mut self) -> Result<(), RespError> {
        let old = self.received.len();
        self.received.resize(old + READ_CHUNK, 0);
        let read = loop {
            if let Err(e) = self.stream.readable().await {
                break Err(e);
            }
            match self.stream.try_read(&mut self.received[old..]) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                result => break result,
            }
        };
        let n = match read {
            Ok(n) => n,
            Err(e) => {
                self.received.truncate(old);
                return Err(e.into());
            }
        };
        self.received.truncate(old + n);
        if n == 0 {
            return Err(RespError::Closed);
        }
        Ok(())
    }
}

/// A Redis client shared by tasks (`&self`): a pool of connections to one server.
pub struct Client {
    url: RedisUrl,
    options: Options,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl Client {
    /// A client of `url`; it connects at its first request.
    pub fn new(url: RedisUrl, options: Options) -> Client {
        Client {
            url,
            options,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(options.max_connections.max(1)),
        }
    }

    pub fn url(&self) -> &RedisUrl {
        &self.url
    }

    /// Sends `commands` as one pipeline; their replies, or the first error reply as
    /// [`RespError::Server`] naming its command.
    pub async fn query(&self, commands: &[Command]) -> Result<Vec<Reply>, RespError> {
        let replies = self.exchange(commands).await?;
        first_error(commands, &replies)?;
        Ok(replies)
    }

    /// `commands` between `MULTI` and `EXEC`, in one pipeline: run all together or not at
    /// all; their replies, or the first error reply (refused when queued or failed when
    /// run) as [`RespError::Server`] naming its command.
    pub async fn transaction(&self, commands: &[Command]) -> Result<Vec<Reply>, RespError> {
        let mut all = Vec::with_capacity(commands.len() + 2);
        all.push(Command::new("MULTI"));
        all.extend_from_slice(commands);
        all.push(Command::new("EXEC"));
        let mut replies = self.query(&all).await?;
        match replies.pop() {
            Some(Reply::Array(results)) if results.len() == commands.len() => {
                first_error(commands, &results)?;
                Ok(results)
            }
            reply => Err(reply.unwrap_or(Reply::Nil).unexpected("EXEC")),
        }
    }

    /// One exchange on a pooled connection (or a new one), each step within its timeout;
    /// the connection goes back to the pool only if the exchange completed.
    async fn exchange(&self, commands: &[Command]) -> Result<Vec<Reply>, RespError> {
        let Options {
            connect_timeout,
            reply_timeout,
            max_connections,
            limits,
        } = self.options;
        let Ok(Ok(_permit)) = tokio::time::timeout(reply_timeout, self.permits.acquire()).await
        else {
            return Err(RespError::Busy {
                connections: max_connections,
                timeout: reply_timeout,
            });
        };
        let mut connection = match self.idle_connection() {
            Some(connection) => connection,
            None => tokio::time::timeout(connect_timeout, Connection::open(&self.url, limits))
                .await
                .map_err(|_| RespError::ConnectTimeout {
                    address: self.url.address(),
                    timeout: connect_timeout,
                })??,
        };
        let replies = tokio::time::timeout(reply_timeout, connection.exchange(commands))
            .await
            .map_err(|_| RespError::Timeout(reply_timeout))??;
        if connection.received.is_empty() {
            self.lock_idle().push(connection);
        }
        Ok(replies)
    }

    /// An idle connection the server has not closed; closed ones are dropped.
    fn idle_connection(&self) -> Option<Connection> {
        let mut idle = self.lock_idle();
        while let Some(connection) = idle.pop() {
            if connection.idle_and_open() {
                return Some(connection);
            }
        }
        None
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
