//! Event schema, writer and readers of botify-compatible logs.

pub mod event;
pub mod fingerprint;
pub mod reader;
pub mod session;
pub mod writer;

pub use event::{Event, Message};

/// A day of log time, in milliseconds: day `k` of a log holds the sessions that start
/// `k - 1` to `k` days after its first session (`sim run --days`, `sim report --by-day`).
pub const DAY_MS: u64 = 86_400_000;
