//! The HTTP side of `sim serve` on hyper: one tokio task per connection, so a slow, idle
//! or never-reading client costs a task and its socket, never a thread or a lock.
//!
//! Every answer of the service has a JSON body. Requests hyper cannot parse (not HTTP,
//! heads over [`HEAD_LIMIT`]) are answered by hyper itself, with its bare 400, 414 or 431
//! (no body), and the connection is closed: a client that does not speak HTTP would not
//! read a JSON body either.

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::body::Incoming;
use hyper::header::{
    CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, EXPECT, HeaderValue, TRANSFER_ENCODING,
};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Largest request head (request line and headers); hyper's smallest read buffer.
pub const HEAD_LIMIT: usize = 8 * 1024;
/// Largest request body; a protocol body is about 30 bytes.
pub const BODY_LIMIT: usize = 4 * 1024;
/// How long a request's body may take to arrive in full, and how long requests in flight
/// may take to finish when the server stops.
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

/// A connection's socket whose writes fail once they are stuck for `stall_timeout`: a
/// client that stopped reading its answers would otherwise hold its connection (and the
/// answers hyper buffered for it) for ever. Reads need no such guard: hyper closes a
/// connection whose next request head is not in within its header timeout, and a body
/// not in within [`REQUEST_DEADLINE`] is refused.
pub struct StallGuard<T> {
    inner: T,
    stall_timeout: Duration,
    /// Armed at a write that could not go on; `None` while writes flow.
    stalled_since: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> StallGuard<T> {
    pub fn new(inner: T, stall_timeout: Duration) -> StallGuard<T> {
        StallGuard {
            inner,
            stall_timeout,
            stalled_since: None,
        }
    }

    /// `poll` of a write: progress disarms the timer, being stuck arms it, and being stuck
    /// past the timeout is an error.
    fn guard<R>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<std::io::Result<R>>,
    ) -> Poll<std::io::Result<R>> {
        if poll.is_ready() {
            self.stalled_since = None;
            return poll;
        }
        let timeout = self.stall_timeout;
        let timer = self
            .stalled_since
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the client read nothing for {} s", timeout.as_secs_f64()),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for StallGuard<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for StallGuard<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.guard(cx, poll)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.guard(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.guard(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.guard(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
