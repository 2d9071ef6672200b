//! Unit tests of `core/src/serve/http.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::serve::http::*;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::AsyncWrite;

/// A peer that reads nothing: writes go on until both socket buffers are full, then the
/// guarded write fails after the stall timeout instead of waiting for ever.
#[test]
fn a_write_stuck_for_the_stall_timeout_fails() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let mut guarded = StallGuard::new(stream, Duration::from_millis(200));
        let chunk = vec![b'x'; 64 << 10];
        let clock = std::time::Instant::now();
        let mut written = 0usize;
        let error = loop {
            let write = std::future::poll_fn(|cx| Pin::new(&mut guarded).poll_write(cx, &chunk));
            match write.await {
                Ok(n) => written += n,
                Err(e) => break e,
            }
            assert!(written < 1 << 30, "the peer's buffers took a gigabyte");
        };
        assert!(written > 0, "the first writes filled the buffers");
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut, "{error}");
        assert!(
            error.to_string().contains("read nothing for 0.2 s"),
            "{error}"
        );
        assert!(clock.elapsed() >= Duration::from_millis(200));
        drop(peer);
    });
}
