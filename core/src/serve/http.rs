//! The HTTP side of `sim serve` on hyper: one tokio task per connection, so a slow, idle
//! or never-reading client costs a task and its socket, never a thread or a lock.
//!
//! Requests hyper cannot parse (not HTTP, heads over [`HEAD_LIMIT`]) are answered by hyper
//! itself, with a bare head (400, 414 or 431, no body) and no hook to change it; the socket
//! wrapper [`Watched`] swaps that head for a JSON answer of the same status, so every
//! error, these included, has a JSON body.

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::body::Incoming;
use hyper::header::{
    CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, EXPECT, HeaderValue, TRANSFER_ENCODING,
};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Largest request head (request line and headers); hyper's smallest read buffer.
pub const HEAD_LIMIT: usize = 8 * 1024;
/// Largest request body; a protocol body is about 30 bytes.
pub const BODY_LIMIT: usize = 4 * 1024;
/// How long a started request may take to arrive in full.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);

/// An answer: a status and a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub body: String,
    /// Close the connection after this answer (the request's body was not read).
    pub close: bool,
}

impl Response {
    pub fn json(status: u16, body: String) -> Response {
        Response {
            status,
            body,
            close: false,
        }
    }

    /// `{"error": message, "status": status}`.
    pub fn error(status: u16, message: impl Into<String>) -> Response {
        Response::json(
            status,
            serde_json::json!({ "error": message.into(), "status": status }).to_string(),
        )
    }

    fn closing(mut self) -> Response {
        self.close = true;
        self
    }

    pub fn into_hyper(self) -> hyper::Response<Full<Bytes>> {
        let mut response = hyper::Response::new(Full::new(Bytes::from(self.body)));
        *response.status_mut() = hyper::StatusCode::from_u16(self.status)
            .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if self.close {
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// The body of a protocol call, or the answer that refuses it (and closes: its body is
/// left unread).
pub async fn read_body(request: hyper::Request<Incoming>) -> Result<Bytes, Response> {
    let headers = request.headers();
    if headers.contains_key(TRANSFER_ENCODING) {
        return Err(Response::error(
            411,
            "send the body with a Content-Length (Transfer-Encoding is not supported)",
        )
        .closing());
    }
    if let Some(expect) = headers.get(EXPECT)
        && !expect.as_bytes().eq_ignore_ascii_case(b"100-continue")
    {
        return Err(Response::error(
            417,
            format!(
                "unsupported Expect {:?}",
                truncate(&String::from_utf8_lossy(expect.as_bytes()))
            ),
        )
        .closing());
    }
    let length = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    if length > BODY_LIMIT as u64 {
        return Err(too_large(length));
    }
    let body = Limited::new(request.into_body(), BODY_LIMIT);
    match tokio::time::timeout(REQUEST_DEADLINE, body.collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(length)),
        Ok(Err(e)) => {
            Err(Response::error(400, format!("cannot read the request body: {e}")).closing())
        }
        Err(_) => Err(Response::error(408, "request body incomplete in time").closing()),
    }
}

fn too_large(length: u64) -> Response {
    Response::error(
        413,
        format!("request body of {length} bytes is over the limit of {BODY_LIMIT} bytes"),
    )
    .closing()
}

/// At most 100 characters of client input in an error message.
pub fn truncate(text: &str) -> String {
    text.chars().take(100).collect()
}

/// A connection's socket that notes when bytes last moved, so idle connections (and
/// clients that stopped reading their answers) can be closed, and that gives hyper's
/// automatic answers to unparsable requests a JSON body ([`json_parse_error_answer`]).
pub struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
    /// The JSON answer written in place of hyper's bare one, as far as not yet sent.
    replacement: Vec<u8>,
}

/// When a connection last read or wrote, in milliseconds since `since`.
pub struct Activity {
    since: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            since: Instant::now(),
            last_ms: AtomicU64::new(0),
        })
    }

    fn touch(&self) {
        self.last_ms
            .store(self.since.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Time since bytes last moved.
    pub fn idle(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.since.elapsed().saturating_sub(last)
    }
}

/// The JSON answer for `head` when it is hyper's own answer to a request it could not
/// parse: a 400, 414 or 431 head without a `content-type` (every answer of the service
/// has one) and without a body. The replacement keeps the status line, says why in
/// `{"error", "status"}` and closes the connection, as hyper does after such a request.
pub fn json_parse_error_answer(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    let (status_line, rest) = text.split_once("\r\n")?;
    let status: u16 = status_line
        .strip_prefix("HTTP/1.")?
        .get(2..5)?
        .parse()
        .ok()?;
    let message = match status {
        400 => "the request is not HTTP/1.x: its request line or a header could not be parsed \
                (expected e.g. `POST /next/<user> HTTP/1.1`)"
            .to_string(),
        414 => "the request's path is too long".to_string(),
        431 => format!("the request head (request line and headers) is over {HEAD_LIMIT} bytes"),
        _ => return None,
    };
    if !rest.ends_with("\r\n\r\n")
        || !rest.contains("content-length: 0\r\n")
        || rest.contains("content-type:")
    {
        return None;
    }
    let body = Response::error(status, message).body;
    let headers: String = rest
        .split("\r\n")
        .filter(|h| {
            !h.is_empty() && !h.starts_with("content-length:") && !h.starts_with("connection:")
        })
        .map(|h| format!("{h}\r\n"))
        .collect();
    Some(
        format!(
            "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl<T> Watched<T> {
    pub fn new(inner: T, activity: Arc<Activity>) -> Watched<T> {
        Watched {
            inner,
            activity,
            replacement: Vec::new(),
        }
    }
}

impl<T: AsyncWrite + Unpin> Watched<T> {
    /// Writes what is left of the replacement answer; ready once it is all out.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while !self.replacement.is_empty() {
            let n = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, &self.replacement))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.replacement.drain(..n);
            self.activity.touch();
        }
        Poll::Ready(Ok(()))
    }

    /// Takes `buf` in full when it is hyper's bare answer to an unparsable request,
    /// queueing the JSON answer in its place.
    fn poll_replace(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Option<Poll<std::io::Result<usize>>> {
        self.replacement = json_parse_error_answer(buf)?;
        Some(match self.poll_replacement(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            // The rest goes out with the flush hyper does next.
            _ => Poll::Ready(Ok(buf.len())),
        })
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        std::task::ready!(self.poll_replacement(cx))?;
        if let Some(poll) = self.poll_replace(cx, buf) {
            return poll;
        }
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        std::task::ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        std::task::ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        std::task::ready!(self.poll_replacement(cx))?;
        // hyper's bare answer is a head alone: one slice.
        if let [only] = bufs
            && let Some(poll) = self.poll_replace(cx, only)
        {
            return poll;
        }
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
