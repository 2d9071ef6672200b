//! A small blocking HTTP/1.1 client for `sim run --remote` and `sim bench-http`, on the
//! hyper 1.x the server already compiles (a separate client crate, ureq, cost ~20 CPU s
//! of every clean build).
//!
//! Connections are kept alive in a pool: a request takes an idle connection to its host
//! (or opens one) and gives it back once the answer is read, so N threads asking at once
//! use at most N connections, each reused by one request after another. Each connection
//! is driven by its own current-thread tokio runtime, only while a request is under way:
//! no background threads. A request that was never written because the server had closed
//! the idle connection meanwhile is sent again on a new one (that is not a retry: the
//! server did not see it).

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use std::net::ToSocketAddrs;
use std::sync::Mutex;
use std::time::Duration;

/// A URL the client can ask: `http://host[:port][/path]`, split for the request.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// `host[:port]`, as written (the `Host` header).
    pub authority: String,
    /// `host:port` to connect to (port 80 unless given).
    pub address: String,
    /// `/path` (at least `/`).
    pub path: String,
}

impl Target {
    /// Splits `url`; the error says what is wrong with it.
    pub fn parse(url: &str) -> Result<Target, String> {
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(format!(
                "url {url:?} must start with http:// (https is not supported)"
            ));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        // `[v6 address]` or `name`, each maybe followed by `:port`.
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !authority.ends_with(']') => {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| format!("url {url:?} has a bad port {port:?}"))?;
                (host, port)
            }
            _ => (authority, 80),
        };
        if host.is_empty() {
            return Err(format!("url {url:?} has no host"));
        }
        if path.parse::<hyper::Uri>().is_err() {
            return Err(format!("url {url:?} has a bad path {path:?}"));
        }
        Ok(Target {
            authority: authority.to_string(),
            address: format!("{host}:{port}"),
            path: path.to_string(),
        })
    }
}

/// Why a request got no answer. Every kind but [`HttpError::Url`] is a transport error:
/// the service may answer if asked again.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    Url(String),
    #[error("cannot resolve {address}: {message}")]
    Resolve { address: String, message: String },
    #[error("cannot connect to {address}: {source}")]
    Connect {
        address: String,
        source: std::io::Error,
    },
    #[error("timed out after {ms} ms {phase}")]
    Timeout { ms: u128, phase: &'static str },
    #[error("{0}")]
    Protocol(String),
}

impl HttpError {
    /// Worth asking again (the network or the service failed, not the URL).
    pub fn is_transport(&self) -> bool {
        !matches!(self, HttpError::Url(_))
    }

    fn protocol(e: hyper::Error) -> HttpError {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(inner) = source {
            message.push_str(&format!(": {inner}"));
            source = inner.source();
        }
        HttpError::Protocol(message)
    }
}

/// An answer: its status and its body (invalid UTF-8 replaced).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// One kept-alive connection and the runtime that drives it.
struct Connection {
    authority: String,
    runtime: tokio::runtime::Runtime,
    sender: http1::SendRequest<Full<Bytes>>,
    /// The same socket (a duplicate descriptor), to see whether the server has closed it
    /// while it was idle: `sender.is_closed()` knows only once the connection's task has
    /// run after the close, which on a loaded machine can be after the next request was
    /// written into the closed socket ("connection closed before message completed").
    probe: std::net::TcpStream,
}

impl Connection {
    /// Nothing to read and no end of stream: the server has not closed it (nor sent
    /// anything unasked). The socket is non-blocking (tokio's), so this never waits.
    fn idle_and_open(&self) -> bool {
        let mut byte = [0u8; 1];
        !self.sender.is_closed()
            && matches!(self.probe.peek(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }
}

/// A blocking client whose every phase (connect, send and wait for the answer's head,
/// read its body) has the timeout. Shared by threads (`&self`).
pub struct HttpClient {
    timeout: Duration,
    idle: Mutex<Vec<Connection>>,
}

impl HttpClient {
    pub fn new(timeout: Duration) -> HttpClient {
        HttpClient {
            timeout,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub fn get(&self, url: &str) -> Result<Answer, HttpError> {
        self.request(hyper::Method::GET, url, None)
    }

    /// `POST url` with a JSON body.
    pub fn post_json(&self, url: &str, json: String) -> Result<Answer, HttpError> {
        self.request(hyper::Method::POST, url, Some(json))
    }

    fn request(
        &self,
        method: hyper::Method,
        url: &str,
        json: Option<String>,
    ) -> Result<Answer, HttpError> {
        let target = Target::parse(url).map_err(HttpError::Url)?;
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(target.path.as_str())
            .header(hyper::header::HOST, target.authority.as_str());
        if json.is_some() {
            builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let mut request = builder
            .body(Full::new(Bytes::from(json.unwrap_or_default())))
            .map_err(|e| HttpError::Url(format!("url {url:?}: {e}")))?;
        loop {
            let (mut connection, reused) = match self.take_idle(&target.authority) {
                Some(connection) => (connection, true),
                None => (self.connect(&target)?, false),
            };
            match self.exchange(&mut connection, request) {
                Ok(answer) => {
                    self.give_back(connection);
                    return Ok(answer);
                }
                Err(Unsent(unsent)) if reused => request = *unsent,
                Err(Unsent(_)) => {
                    return Err(HttpError::Protocol(
                        "the server closed a new connection before the request was sent".into(),
                    ));
                }
                Err(Failed(e)) => return Err(e),
            }
        }
    }

    fn take_idle(&self, authority: &str) -> Option<Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.retain(Connection::idle_and_open);
        let i = idle.iter().position(|c| c.authority == authority)?;
        Some(idle.swap_remove(i))
    }

    fn give_back(&self, connection: Connection) {
        if !connection.sender.is_closed() {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.push(connection);
        }
    }

    fn connect(&self, target: &Target) -> Result<Connection, HttpError> {
        let address = target.address.clone();
        // Resolved here, on the calling thread: a name lookup per new connection only.
        let addrs: Vec<_> = address
            .to_socket_addrs()
            .map_err(|e| HttpError::Resolve {
                address: address.clone(),
                message: e.to_string(),
            })?
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| HttpError::Protocol(format!("cannot start an I/O runtime: {e}")))?;
        let ms = self.timeout.as_millis();
        let (sender, probe) = runtime.block_on(async {
            let stream =
                tokio::time::timeout(self.timeout, tokio::net::TcpStream::connect(&addrs[..]))
                    .await
                    .map_err(|_| HttpError::Timeout {
                        ms,
                        phase: "connecting",
                    })?
                    .map_err(|source| HttpError::Connect {
                        address: address.clone(),
                        source,
                    })?;
            // Small requests answered at once: do not wait to fill a packet.
            let _ = stream.set_nodelay(true);
            let probe = std::os::fd::AsFd::as_fd(&stream)
                .try_clone_to_owned()
                .map(std::net::TcpStream::from)
                .map_err(|source| HttpError::Connect {
                    address: address.clone(),
                    source,
                })?;
            let (sender, connection) = http1::handshake(TokioIo::new(stream))
                .await
                .map_err(HttpError::protocol)?;
            // Runs only while a request blocks on this runtime, which is all it needs.
            tokio::spawn(connection);
            Ok::<_, HttpError>((sender, probe))
        })?;
        Ok(Connection {
            authority: target.authority.clone(),
            runtime,
            sender,
            probe,
        })
    }

    /// Sends `request` and reads the whole answer, each with the timeout.
    fn exchange(
        &self,
        connection: &mut Connection,
        request: hyper::Request<Full<Bytes>>,
    ) -> Result<Answer, Exchange> {
        let ms = self.timeout.as_millis();
        let timeout = self.timeout;
        let sender = &mut connection.sender;
        connection.runtime.block_on(async move {
            let response = tokio::time::timeout(timeout, async {
                if sender.ready().await.is_err() {
                    return Err(Unsent(Box::new(request)));
                }
                sender
                    .try_send_request(request)
                    .await
                    .map_err(|mut e| match e.take_message() {
                        Some(request) => Unsent(Box::new(request)),
                        None => Failed(HttpError::protocol(e.into_error())),
                    })
            })
            .await
            .map_err(|_| {
                Failed(HttpError::Timeout {
                    ms,
                    phase: "waiting for the answer",
                })
            })??;
            let status = response.status().as_u16();
            let body = tokio::time::timeout(timeout, response.into_body().collect())
                .await
                .map_err(|_| {
                    Failed(HttpError::Timeout {
                        ms,
                        phase: "reading the answer",
                    })
                })?
                .map_err(|e| Failed(HttpError::protocol(e)))?
                .to_bytes();
            Ok(Answer {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            })
        })
    }
}

/// How an exchange failed: before the request was written (it is handed back), or after.
pub enum Exchange {
    Unsent(Box<hyper::Request<Full<Bytes>>>),
    Failed(HttpError),
}
use Exchange::{Failed, Unsent};
