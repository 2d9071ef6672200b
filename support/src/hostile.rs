//! Hostile clients, for `sim bench-http --hostile` and the tests: connections that open
//! and say nothing, and a client that pipelines requests and never reads an answer (the
//! two that stall, or lock everyone out of, a server whose connections hold threads).

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

/// Most a never-reading client sends: a server that reads this much without being read
/// buffers its answers without bound.
pub const NEVER_READER_CAP: usize = 64 << 20;

/// `n` connections to `address`, open and silent.
pub fn idle_connections(address: &str, n: usize) -> std::io::Result<Vec<TcpStream>> {
    (0..n).map(|_| TcpStream::connect(address)).collect()
}

/// A client that sends pipelined `/next` requests to `address` and never reads: it writes
/// until the server stops reading (its answers fill both socket buffers; a write then
/// blocks for 200 ms), at most [`NEVER_READER_CAP`] bytes. Returns the open connection,
/// which must stay open to keep the server's answers stuck, and the bytes sent.
pub fn never_reading_client(address: &str) -> std::io::Result<(TcpStream, usize)> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_write_timeout(Some(Duration::from_millis(200)))?;
    let body = r#"{"track": 5, "time": 0.5}"#;
    let burst: Vec<u8> = (0..256)
        .flat_map(|i| {
            format!(
                "POST /next/{} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
                4_000_000_000u32 + i % 16,
                body.len()
            )
            .into_bytes()
        })
        .collect();
    let mut sent = 0;
    while sent < NEVER_READER_CAP {
        match stream.write(&burst) {
            Ok(n) => sent += n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break;
            }
            Err(e) => return Err(e),
        }
    }
    Ok((stream, sent))
}
