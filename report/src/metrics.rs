//! User-level metrics (AB_REPORT.md §2): per (user, treatment), over its sessions.

use super::design::Direction;
use super::sessionize::Session;
use rustc_hash::FxBuildHasher;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// The five user-level metrics of the course.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Sum of session `time`.
    Time,
    /// Number of sessions.
    Sessions,
    /// Sum of session latency (ms) / sum of session tracks: ms per request.
    MeanRequestLatency,
    /// Sum of tracks / sessions.
    MeanTracksPerSession,
    /// Sum of time / sessions.
    MeanTimePerSession,
    /// Sum of time without each session's first event / sessions: the course table's
    /// figure (its random control averages 0.977, less than a first track's 1.0 alone).
    /// Opt-in (`sim report --without-first-track`): the course's notebook and the default
    /// table count the first track.
    MeanTimePerSessionWithoutFirstTrack,
}

impl Metric {
    pub const ALL: [Metric; 5] = [
        Metric::Time,
        Metric::Sessions,
        Metric::MeanRequestLatency,
        Metric::MeanTracksPerSession,
        Metric::MeanTimePerSession,
    ];

    /// The metrics of a table: the course's five, and the opt-in one when asked for.
    pub fn of_table(without_first_track: bool) -> Vec<Metric> {
        let mut metrics = Metric::ALL.to_vec();
        if without_first_track {
            metrics.push(Metric::MeanTimePerSessionWithoutFirstTrack);
        }
        metrics
    }

    /// The column name used by the course and in every output.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Time => "time",
            Metric::Sessions => "sessions",
            Metric::MeanRequestLatency => "mean_request_latency",
            Metric::MeanTracksPerSession => "mean_tracks_per_session",
            Metric::MeanTimePerSession => "mean_time_per_session",
            Metric::MeanTimePerSessionWithoutFirstTrack => {
                "mean_time_per_session_without_first_track"
            }
        }
    }

    /// Measured wall time (latency), not simulated: it differs between runs of the same
    /// recommenders, so its rows are a Holm family of their own (a rerun with the same
    /// seed reproduces every other row exactly) and calibration leaves it out.
    pub fn is_measured(self) -> bool {
        matches!(self, Metric::MeanRequestLatency)
    }

    /// Which way is good when nothing else is said: latency should go down, everything
    /// else up.
    pub fn natural_direction(self) -> Direction {
        if self.is_measured() {
            Direction::Decrease
        } else {
            Direction::Increase
        }
    }

    /// A per-session mean (a ratio of a user's sums), rather than a sum or a count: a
    /// user without sessions has no value of it (see the covariates of CUPED).
    pub fn is_per_session(self) -> bool {
        !matches!(self, Metric::Time | Metric::Sessions)
    }

    /// The unit of an absolute threshold of this metric.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::MeanRequestLatency => "ms",
            Metric::Time
            | Metric::MeanTimePerSession
            | Metric::MeanTimePerSessionWithoutFirstTrack => "listened tracks",
            Metric::Sessions => "sessions",
            Metric::MeanTracksPerSession => "tracks",
        }
    }

    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::of_table(true)
            .into_iter()
            .find(|m| m.name() == name)
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The sums of one (treatment, user) unit over its finished sessions.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct UserTotals {
    pub time: f64,
    /// Sum of the sessions' first-event times.
    pub first_time: f64,
    pub sessions: u64,
    pub latency_ms: f64,
    pub tracks: u64,
}

impl UserTotals {
    /// Adds another unit's sums (a user's sessions under several treatments).
    pub fn add(&mut self, other: &UserTotals) {
        self.time += other.time;
        self.first_time += other.first_time;
        self.sessions += other.sessions;
        self.latency_ms += other.latency_ms;
        self.tracks += other.tracks;
    }

    pub fn value(&self, metric: Metric) -> f64 {
        let sessions = self.sessions as f64;
        match metric {
            Metric::Time => self.time,
            Metric::Sessions => sessions,
            Metric::MeanRequestLatency => self.latency_ms / self.tracks as f64,
            Metric::MeanTracksPerSession => self.tracks as f64 / sessions,
            Metric::MeanTimePerSession => self.time / sessions,
            Metric::MeanTimePerSessionWithoutFirstTrack => (self.time - self.first_time) / sessions,
        }
    }
}

/// Totals per (treatment, user) of the sessions whose treatment passes `keep`, ordered by
/// (treatment, user).
pub fn user_totals(
    sessions: &[Session],
    keep: impl Fn(u32) -> bool,
) -> BTreeMap<(u32, u64), UserTotals> {
    // Hashed while folding (hundreds of thousands of sessions), ordered once at the end
    // (thousands of users); each user's sums still follow session order.
    let mut totals: HashMap<(u32, u64), UserTotals, FxBuildHasher> = HashMap::default();
    for s in sessions.iter().filter(|s| keep(s.treatment)) {
        let t = totals.entry((s.treatment, s.user)).or_default();
        t.time += s.time;
        t.first_time += s.first_time;
        t.sessions += 1;
        t.latency_ms += s.latency_ms;
        t.tracks += s.tracks;
    }
    totals.into_iter().collect()
}
