//! The 40 ms stall of a service with Nagle's algorithm on, named within the first second.
//!
//! A server that writes an answer in two `send` calls (Python's `http.server` with
//! keep-alive writes the headers, then the body) and leaves Nagle's algorithm on holds
//! the body back until the client acknowledges the headers; the client's kernel delays
//! that ACK by its minimum, 40 ms on Linux. Each answer then takes about 40 ms, whatever
//! the recommender costs: such a service runs at some 20 steps per second. Setting
//! `TCP_QUICKACK` on our socket before each request did not help (measured with
//! `python/examples/http_service.py --nagle`: 38 steps/s with and without it; the
//! request's own send puts the socket back into delayed-ACK mode), so the cause and the
//! server's one-line fix are said instead.

use std::sync::Mutex;
use std::time::Duration;

/// Answers looked at: ten take well under a second even when each stalls.
const SAMPLE: usize = 10;
/// The band of a delayed ACK (40 ms on Linux, up to 200 ms elsewhere) around 40 ms.
const STALL: std::ops::RangeInclusive<f64> = 0.030..=0.060;

/// The first answers' times of one service; says once if they look stalled.
#[derive(Debug, Default)]
pub struct StallWatch {
    seconds: Mutex<Vec<f64>>,
}

impl StallWatch {
    /// Records the time of one answer; once the sample is complete, the warning to give
    /// if most answers took about 40 ms (`None` otherwise, and for every later answer).
    pub fn observe(&self, url: &str, took: Duration) -> Option<String> {
        let mut seconds = self.seconds.lock().unwrap_or_else(|p| p.into_inner());
        if seconds.len() >= SAMPLE {
            return None;
        }
        seconds.push(took.as_secs_f64());
        if seconds.len() < SAMPLE {
            return None;
        }
        let stalled = seconds.iter().filter(|s| STALL.contains(s)).count();
        let mut sorted = seconds.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[SAMPLE / 2];
        (stalled * 10 >= SAMPLE * 8).then(|| {
            format!(
                "warning: {url} answers each request after about {:.0} ms ({stalled} of the \
                 first {SAMPLE}): the signature of Nagle's algorithm on the server meeting \
                 our delayed ACK (a server that writes headers and body in two sends, such \
                 as Python's http.server with keep-alive, waits 40 ms per answer). The \
                 fix, in the server: `disable_nagle_algorithm = True` on its request \
                 handler class (TCP_NODELAY on its sockets); see docs/PYTHON.md",
                median * 1000.0
            )
        })
    }
}
