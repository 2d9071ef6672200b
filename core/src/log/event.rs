//! The botify event: one JSON object per request (SIMULATOR.md §6).
//!
//! Our own logs add `session` (unique per session within a log) and `episode`
//! (the simulator's episode index), and a paired run `pair` (the episode every arm
//! played); the botify service's `data.json` has none, so all are optional when reading.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What kind of request an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Message {
    /// `POST /next/<user>`: `track`/`time` describe the previous track, `recommendation` the answer.
    Next,
    /// `POST /last/<user>`: the session ended; `track`/`time` describe the last track.
    Last,
}

/// One event of a botify-compatible log, owned form (for writing and tests).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub message: Message,
    /// Milliseconds.
    pub timestamp: u64,
    pub user: u64,
    pub track: u64,
    pub time: f64,
    /// Seconds spent producing the answer.
    pub latency: f64,
    pub recommendation: Option<u64>,
    /// Experiment name -> treatment of this user.
    pub experiments: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub episode: Option<u64>,
    /// The episode of a paired run (`sim run --paired`) that this session is one arm of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<u64>,
}
