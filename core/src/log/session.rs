//! What a session's events add up to, folded in event order.
//!
//! One type for both ends of the log: the simulator folds each event as it writes it, and
//! the report's sessionizer folds each event as it reads it back, with the same
//! arithmetic in the same order. So `sim run` can tabulate its own sessions without
//! reading its log back, and get bit for bit what `sim report` gets from that log.

/// The running totals of one session's events.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionTotals {
    /// Timestamp of its earliest event (ms).
    pub timestamp: u64,
    /// Number of events (every `next` and the final `last`).
    pub tracks: u64,
    /// Sum of the events' `time`.
    pub time: f64,
    /// `time` of its first event (the simulator's first track, reported as 1.0).
    pub first_time: f64,
    /// Sum of the events' `latency`, in milliseconds.
    pub latency_ms: f64,
}

impl SessionTotals {
    pub fn new(timestamp: u64) -> Self {
        Self {
            timestamp,
            tracks: 0,
            time: 0.0,
            first_time: 0.0,
            latency_ms: 0.0,
        }
    }

    /// Folds one event; `latency` in seconds, as the log holds it.
    pub fn add(&mut self, timestamp: u64, time: f64, latency: f64) {
        self.timestamp = self.timestamp.min(timestamp);
        if self.tracks == 0 {
            self.first_time = time;
        }
        self.tracks += 1;
        self.time += time;
        self.latency_ms += latency * 1000.0;
    }
}
