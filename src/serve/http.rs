//! A deliberately small HTTP/1.1 server side: what the botify protocol needs and no more.
//!
//! Requests are read from a keep-alive connection with hard limits (head 8 KiB, body
//! [`BODY_LIMIT`]), bodies only with `Content-Length`; anything malformed is answered with
//! a JSON error and the connection is closed, because where the next request would start
//! is then unknown. Reads poll a stop flag so a shutdown never waits on an idle client.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Largest request head (request line and headers).
pub const HEAD_LIMIT: usize = 8 * 1024;
/// Largest request body; a protocol body is about 30 bytes.
pub const BODY_LIMIT: usize = 4 * 1024;
/// How long a started request may take to arrive in full.
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// How long an idle keep-alive connection is kept open.
const IDLE_LIMIT: Duration = Duration::from_secs(300);
/// How often a blocked read looks at the stop flag.
pub const POLL: Duration = Duration::from_millis(200);

/// One parsed request.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The request target without its query string.
    pub path: String,
    pub body: Vec<u8>,
    /// The client asked to close the connection after this answer.
    pub close: bool,
}

/// An answer: a status and a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

impl Response {
    pub fn json(status: u16, body: String) -> Response {
        Response { status, body }
    }

    /// `{"error": message}` with the given status.
    pub fn error(status: u16, message: impl Into<String>) -> Response {
        Response {
            status,
            body: serde_json::json!({ "error": message.into(), "status": status }).to_string(),
        }
    }
}

/// What reading the next request gave.
#[derive(Debug)]
pub enum Incoming {
    Request(Request),
    /// The client closed the connection, or the server is stopping.
    Closed,
    /// A request that cannot be served: answer this and close.
    Reject(Response),
}

/// A client connection with its read buffer (pipelined bytes stay in it).
pub struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Connection {
    pub fn new(stream: TcpStream) -> std::io::Result<Connection> {
        stream.set_nonblocking(false)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(POLL))?;
        stream.set_write_timeout(Some(REQUEST_DEADLINE))?;
        Ok(Connection {
            stream,
            buf: Vec::with_capacity(1024),
        })
    }

    /// Reads more bytes; `Ok(false)` when the connection is over (EOF, stop, deadline).
    fn fill(&mut self, stop: &AtomicBool, since: Instant, limit: Duration) -> Result<bool, ()> {
        let mut chunk = [0u8; 4096];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if stop.load(Ordering::Relaxed) {
                        return Ok(false);
                    }
                    if since.elapsed() > limit {
                        return Err(());
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Ok(false),
            }
        }
    }

    /// The next request of the connection.
    pub fn next_request(&mut self, stop: &AtomicBool) -> Incoming {
        let started = Instant::now();
        let head_end = loop {
            if let Some(pos) = find_head_end(&self.buf) {
                break pos;
            }
            if self.buf.len() > HEAD_LIMIT {
                return Incoming::Reject(Response::error(
                    431,
                    format!("request head over {HEAD_LIMIT} bytes"),
                ));
            }
            let limit = if self.buf.is_empty() {
                IDLE_LIMIT
            } else {
                REQUEST_DEADLINE
            };
            match self.fill(stop, started, limit) {
                Ok(true) => {}
                Ok(false) => return Incoming::Closed,
                Err(()) if self.buf.is_empty() => return Incoming::Closed,
                Err(()) => {
                    return Incoming::Reject(Response::error(408, "request incomplete in time"));
                }
            }
        };
        if head_end > HEAD_LIMIT {
            return Incoming::Reject(Response::error(
                431,
                format!("request head over {HEAD_LIMIT} bytes"),
            ));
        }
        let head = match parse_head(&self.buf[..head_end]) {
            Ok(head) => head,
            Err(response) => return Incoming::Reject(response),
        };
        let body_start = head_end + 4;
        if head.content_length > BODY_LIMIT as u64 {
            return Incoming::Reject(Response::error(
                413,
                format!(
                    "request body of {} bytes is over the limit of {BODY_LIMIT} bytes",
                    head.content_length
                ),
            ));
        }
        let total = body_start + head.content_length as usize;
        if head.expect_continue && self.buf.len() < total {
            let _ = self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        let body_clock = Instant::now();
        while self.buf.len() < total {
            match self.fill(stop, body_clock, REQUEST_DEADLINE) {
                Ok(true) => {}
                Ok(false) => return Incoming::Closed,
                Err(()) => {
                    return Incoming::Reject(Response::error(
                        408,
                        "request body incomplete in time",
                    ));
                }
            }
        }
        let body = self.buf[body_start..total].to_vec();
        self.buf.drain(..total);
        Incoming::Request(Request {
            method: head.method,
            path: head.path,
            body,
            close: head.close,
        })
    }

    /// Writes one answer; `close` adds `Connection: close`.
    pub fn respond(&mut self, response: &Response, close: bool) -> std::io::Result<()> {
        self.stream.write_all(&encode(response, close))?;
        if close {
            let _ = self.stream.shutdown(std::net::Shutdown::Write);
        }
        Ok(())
    }

    /// A writer of this connection's answers, usable from other threads.
    pub fn responder(&self) -> std::io::Result<Responder> {
        Ok(Responder {
            state: Mutex::new(Ordered {
                stream: self.stream.try_clone()?,
                next: 0,
                pending: BTreeMap::new(),
                closed: false,
            }),
            written: Condvar::new(),
        })
    }
}

/// Answers of a connection written in request order, whichever thread produced them:
/// answer `seq` goes out once every earlier one has (HTTP/1.1 pipelining order).
pub struct Responder {
    state: Mutex<Ordered>,
    written: Condvar,
}

struct Ordered {
    stream: TcpStream,
    /// The sequence number of the next answer to write.
    next: u64,
    pending: BTreeMap<u64, (Response, bool)>,
    closed: bool,
}

impl Responder {
    fn lock(&self) -> std::sync::MutexGuard<'_, Ordered> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues answer `seq`, then writes every answer that is now in order.
    pub fn send(&self, seq: u64, response: Response, close: bool) {
        let mut state = self.lock();
        state.pending.insert(seq, (response, close));
        loop {
            let next = state.next;
            let Some((response, close)) = state.pending.remove(&next) else {
                break;
            };
            state.next += 1;
            if state.closed {
                continue;
            }
            if state.stream.write_all(&encode(&response, close)).is_err() {
                state.closed = true;
            } else if close {
                let _ = state.stream.shutdown(std::net::Shutdown::Write);
                state.closed = true;
            }
        }
        self.written.notify_all();
    }

    /// Waits until fewer than `limit` answers before `seq` are unwritten.
    pub fn wait_below(&self, seq: u64, limit: u64) {
        let mut state = self.lock();
        while seq.saturating_sub(state.next) >= limit && !state.closed {
            state = self
                .written
                .wait_timeout(state, POLL)
                .map(|(s, _)| s)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// Whether writing failed or a `close` answer was written.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

/// An answer as bytes: status line, headers, body.
fn encode(response: &Response, close: bool) -> Vec<u8> {
    {
        let mut out = Vec::with_capacity(160 + response.body.len());
        let mut int = itoa::Buffer::new();
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(int.format(response.status).as_bytes());
        out.push(b' ');
        out.extend_from_slice(reason(response.status).as_bytes());
        out.extend_from_slice(b"\r\nContent-Type: application/json\r\nContent-Length: ");
        out.extend_from_slice(int.format(response.body.len()).as_bytes());
        if close {
            out.extend_from_slice(b"\r\nConnection: close");
        }
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(response.body.as_bytes());
        out
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

struct Head {
    method: String,
    path: String,
    content_length: u64,
    close: bool,
    expect_continue: bool,
}

fn parse_head(bytes: &[u8]) -> Result<Head, Response> {
    let bad = |message: String| Response::error(400, message);
    let text = std::str::from_utf8(bytes).map_err(|_| bad("request head is not UTF-8".into()))?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let parts: Vec<&str> = request_line.split(' ').collect();
    let [method, target, version] = parts[..] else {
        return Err(bad(format!(
            "malformed request line {:?}: expected METHOD /path HTTP/1.1",
            truncate(request_line)
        )));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(bad(format!("malformed method {:?}", truncate(method))));
    }
    if !target.starts_with('/') {
        return Err(bad(format!(
            "request target {:?} must start with /",
            truncate(target)
        )));
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => {
            return Err(Response::error(
                505,
                format!("HTTP version {:?} not supported", truncate(version)),
            ));
        }
    };
    let mut content_length: Option<u64> = None;
    let mut close = http10;
    let mut expect_continue = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad(format!("malformed header line {:?}", truncate(line))));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n = value
                .parse::<u64>()
                .ok()
                .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| bad(format!("invalid Content-Length {:?}", truncate(value))))?;
            if content_length.is_some_and(|m| m != n) {
                return Err(bad("conflicting Content-Length headers".into()));
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(Response::error(
                411,
                "send the body with a Content-Length (Transfer-Encoding is not supported)",
            ));
        } else if name.eq_ignore_ascii_case("connection") {
            let value = value.to_ascii_lowercase();
            if value.contains("close") {
                close = true;
            } else if value.contains("keep-alive") {
                close = false;
            }
        } else if name.eq_ignore_ascii_case("expect") {
            if value.eq_ignore_ascii_case("100-continue") {
                expect_continue = true;
            } else {
                return Err(Response::error(
                    417,
                    format!("unsupported Expect {:?}", truncate(value)),
                ));
            }
        }
    }
    let path = target.split('?').next().unwrap_or(target).to_string();
    Ok(Head {
        method: method.to_string(),
        path,
        content_length: content_length.unwrap_or(0),
        close,
        expect_continue,
    })
}

/// At most 100 characters of client input in an error message.
pub fn truncate(text: &str) -> String {
    text.chars().take(100).collect()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Result<Head, Response> {
        parse_head(text.as_bytes())
    }

    #[test]
    fn heads_parse_and_faults_get_the_right_status() {
        let h = head("POST /next/3?x=1 HTTP/1.1\r\nContent-Length: 25\r\nHost: a").unwrap();
        assert_eq!((h.method.as_str(), h.path.as_str()), ("POST", "/next/3"));
        assert_eq!(h.content_length, 25);
        assert!(!h.close);
        assert!(head("GET / HTTP/1.0").unwrap().close);
        assert!(head("GET / HTTP/1.1\r\nConnection: Close").unwrap().close);
        let status = |t: &str| head(t).err().map(|r| r.status);
        assert_eq!(status("GET / HTTP/2.0"), Some(505));
        assert_eq!(status("GET /"), Some(400));
        assert_eq!(status("get / HTTP/1.1"), Some(400));
        assert_eq!(status("GET x HTTP/1.1"), Some(400));
        assert_eq!(status("GET / HTTP/1.1\r\nno colon"), Some(400));
        assert_eq!(status("GET / HTTP/1.1\r\nContent-Length: -1"), Some(400));
        assert_eq!(status("GET / HTTP/1.1\r\nContent-Length: +1"), Some(400));
        assert_eq!(
            status("GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999"),
            Some(400)
        );
        assert_eq!(
            status("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2"),
            Some(400)
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked"),
            Some(411)
        );
    }
}
