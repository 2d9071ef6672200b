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
        idle.retain(|c| !c.sender.is_closed());
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
        let sender = runtime.block_on(async {
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
            let (sender, connection) = http1::handshake(TokioIo::new(stream))
                .await
                .map_err(HttpError::protocol)?;
            // Runs only while a request blocks on this runtime, which is all it needs.
            tokio::spawn(connection);
            Ok::<_, HttpError>(sender)
        })?;
        Ok(Connection {
            authority: target.authority.clone(),
            runtime,
            sender,
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
enum Exchange {
    Unsent(Box<hyper::Request<Full<Bytes>>>),
    Failed(HttpError),
}
use Exchange::{Failed, Unsent};

/// A scripted HTTP/1.1 server on a free loopback port, for the client's tests.
#[cfg(test)]
pub(crate) mod test_server {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};

    /// What the server saw: per accepted connection, its requests (head and body).
    pub type Seen = Arc<Mutex<Vec<Vec<String>>>>;

    /// What the server does with a request.
    pub enum Reply {
        /// Writes these bytes and keeps the connection.
        Send(String),
        /// Writes these bytes and closes the connection (no `Connection: close` said).
        SendAndClose(String),
        /// Answers nothing and keeps the connection until the client gives up.
        Silence,
    }

    /// Serves `reply(request number overall, from 1)` to each request; at most
    /// `max_connections` connections, one after another, then stops.
    pub fn start(
        max_connections: usize,
        reply: impl Fn(usize) -> Reply + Send + 'static,
    ) -> (String, Seen) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen: Seen = Arc::default();
        let record = seen.clone();
        std::thread::spawn(move || {
            let mut count = 0;
            for stream in listener.incoming().take(max_connections) {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                record.lock().unwrap().push(Vec::new());
                while let Some(request) = read_request(&mut reader) {
                    record.lock().unwrap().last_mut().unwrap().push(request);
                    count += 1;
                    match reply(count) {
                        Reply::Send(bytes) => stream.write_all(bytes.as_bytes()).unwrap(),
                        Reply::SendAndClose(bytes) => {
                            stream.write_all(bytes.as_bytes()).unwrap();
                            break;
                        }
                        Reply::Silence => {}
                    }
                }
            }
        });
        (url, seen)
    }

    fn read_request(reader: &mut BufReader<TcpStream>) -> Option<String> {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let length = head
            .lines()
            .find_map(|l| {
                let l = l.to_ascii_lowercase();
                Some(
                    l.strip_prefix("content-length:")?
                        .trim()
                        .parse::<usize>()
                        .unwrap(),
                )
            })
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).ok()?;
        Some(head + &String::from_utf8(body).unwrap())
    }

    /// An answer with `status` and `body`.
    pub fn answer(status: u16, body: &str) -> String {
        format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::test_server::{Reply, answer, start};
    use super::*;

    fn client() -> HttpClient {
        HttpClient::new(Duration::from_millis(2_000))
    }

    #[test]
    fn urls_split_into_host_header_address_and_path() {
        let t = Target::parse("http://localhost:5001/prefix/next/3").unwrap();
        assert_eq!(
            (t.authority.as_str(), t.address.as_str(), t.path.as_str()),
            ("localhost:5001", "localhost:5001", "/prefix/next/3")
        );
        let t = Target::parse("http://example.org").unwrap();
        assert_eq!(
            (t.address.as_str(), t.path.as_str()),
            ("example.org:80", "/")
        );
        let t = Target::parse("http://[::1]:8080/x").unwrap();
        assert_eq!(t.address, "[::1]:8080");
        for (url, why) in [
            ("https://h/", "http://"),
            ("h:1/", "http://"),
            ("http://", "no host"),
            ("http://:5000/", "no host"),
            ("http://h:port/", "bad port"),
            ("http://h:70000/", "bad port"),
            ("http://h/a b", "bad path"),
        ] {
            let err = Target::parse(url).unwrap_err();
            assert!(err.contains(why) && err.contains(url), "{url}: {err}");
        }
    }

    #[test]
    fn requests_reuse_one_kept_alive_connection() {
        let (url, seen) = start(10, |n| Reply::Send(answer(200, &format!("{{\"n\": {n}}}"))));
        let client = client();
        for n in 1..=5 {
            let got = client
                .post_json(&format!("{url}/next/7"), format!("{{\"track\": {n}}}"))
                .unwrap();
            let body = format!("{{\"n\": {n}}}");
            assert_eq!(got, Answer { status: 200, body });
        }
        assert_eq!(client.get(&format!("{url}/track/0")).unwrap().status, 200);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "one connection for every request");
        let first = &seen[0][0];
        assert!(first.starts_with("POST /next/7 HTTP/1.1\r\n"), "{first}");
        let host = url.strip_prefix("http://").unwrap();
        let lower = first.to_ascii_lowercase();
        assert!(lower.contains(&format!("host: {host}\r\n")), "{first}");
        assert!(
            lower.contains("content-type: application/json\r\n"),
            "{first}"
        );
        assert!(first.ends_with("\r\n\r\n{\"track\": 1}"), "{first}");
        assert!(seen[0][5].starts_with("GET /track/0 HTTP/1.1\r\n"));
    }

    /// A server that closes idle connections (a keep-alive timeout): the next request goes
    /// on a new connection instead of failing, and is sent once.
    #[test]
    fn a_connection_the_server_closed_while_idle_is_replaced() {
        let (url, seen) = start(10, |_| Reply::SendAndClose(answer(200, "{}")));
        let client = client();
        for _ in 0..4 {
            // Time for the server's close to arrive, as with a real keep-alive timeout.
            std::thread::sleep(Duration::from_millis(20));
            assert_eq!(client.get(&format!("{url}/")).unwrap().status, 200);
        }
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 4);
        assert!(seen.iter().all(|requests| requests.len() == 1), "{seen:?}");
    }

    #[test]
    fn each_failure_is_a_transport_error_saying_what_happened() {
        let (url, _) = start(1, |_| Reply::Silence);
        let client = HttpClient::new(Duration::from_millis(200));
        let err = client.get(&format!("{url}/")).unwrap_err();
        assert!(err.is_transport());
        assert_eq!(
            err.to_string(),
            "timed out after 200 ms waiting for the answer"
        );

        let (url, _) = start(1, |_| Reply::SendAndClose("SMTP ready\r\n\r\n".into()));
        let err = client.get(&format!("{url}/")).unwrap_err();
        assert!(
            err.is_transport() && err.to_string().contains("invalid"),
            "{err}"
        );

        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = client
            .get(&format!("http://127.0.0.1:{port}/"))
            .unwrap_err();
        assert!(err.is_transport());
        assert!(
            err.to_string()
                .starts_with(&format!("cannot connect to 127.0.0.1:{port}: ")),
            "{err}"
        );

        let err = client.get("https://example.org/").unwrap_err();
        assert!(!err.is_transport(), "a bad URL is not worth retrying");
    }

    /// The pool is shared by threads: a connection one thread gave back serves another.
    #[test]
    fn a_pooled_connection_moves_between_threads() {
        let (url, seen) = start(10, |_| Reply::Send(answer(200, "{}")));
        let client = client();
        std::thread::scope(|s| {
            s.spawn(|| client.get(&format!("{url}/")).unwrap());
        });
        assert_eq!(client.get(&format!("{url}/")).unwrap().status, 200);
        assert_eq!(seen.lock().unwrap().len(), 1);
    }
}
