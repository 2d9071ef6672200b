//! From events to sessions (AB_REPORT.md §1), streaming.
//!
//! * Events with a `session` id (our logs) are folded into an accumulator per
//!   (file, session, treatment); a `"last"` event closes it. Memory: open sessions.
//!   `sim serve`'s ids (events without `episode`) are unique across its replicas' logs,
//!   and a session's requests may go to several replicas: for them the file is not part
//!   of the key, so the parts of a session in several logs make one session.
//! * Events without one (the botify service's `data.json`) are cut per (user, treatment)
//!   in timestamp order: a session ends with, and includes, a `"last"` event. The reader
//!   delivers events in file order (several files merged by timestamp), so as long as each
//!   (user, treatment) sees non-decreasing timestamps, one accumulator per pair suffices.
//!   If some pair sees an older event after a newer one, the log is not in time order:
//!   [`Sessionizer::out_of_order`] is set and the caller re-reads the log in
//!   [`Mode::Buffered`], which keeps those events and sorts them (memory: events).
//!
//! Events of treatments not tracked (other experiments) are ignored.

use botify_sim_core::log::reader::{ExperimentSets, ParsedEvent};
use botify_sim_core::log::session::SessionTotals;
use rustc_hash::FxBuildHasher;
use std::collections::{BTreeSet, HashMap};

type FastMap<K, V> = HashMap<K, V, FxBuildHasher>;

/// A finished session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Session {
    /// Index into [`Sessionized::treatments`].
    pub treatment: u32,
    pub user: u64,
    /// Timestamp of its first event (ms).
    pub timestamp: u64,
    /// Number of events (every `next` and the final `last`).
    pub tracks: u64,
    /// Sum of the events' `time`.
    pub time: f64,
    /// `time` of its first event (the simulator's first track, reported as 1.0).
    pub first_time: f64,
    /// Sum of the events' `latency`, in milliseconds.
    pub latency_ms: f64,
    /// The paired episode it is one arm of (`sim run --paired`).
    pub pair: Option<u64>,
}

/// How events without session ids are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One accumulator per (user, treatment); needs events in time order per pair.
    Streaming,
    /// Keep the events of each pair, sort them by timestamp at the end.
    Buffered,
}

impl Session {
    pub fn new(treatment: u32, user: u64, totals: &SessionTotals) -> Self {
        Session {
            treatment,
            user,
            timestamp: totals.timestamp,
            tracks: totals.tracks,
            time: totals.time,
            first_time: totals.first_time,
            latency_ms: totals.latency_ms,
            pair: None,
        }
    }

    /// The session, one arm of the paired episode `pair`.
    pub fn in_pair(self, pair: Option<u64>) -> Self {
        Session { pair, ..self }
    }
}

/// A buffered event without session id (buffered mode only).
#[derive(Debug, Clone, Copy)]
struct Pending {
    timestamp: u64,
    seq: u64,
    time: f64,
    latency: f64,
    last: bool,
}

/// State of one (treatment, user) unit.
#[derive(Debug, Default)]
struct Unit {
    /// Open session of events without session id.
    open: Option<SessionTotals>,
    last_timestamp: u64,
    pending: Vec<Pending>,
}

/// The result of sessionizing a log.
#[derive(Debug, Default)]
pub struct Sessionized {
    /// (experiment, treatment) of each treatment index.
    pub treatments: Vec<(String, String)>,
    /// Every experiment name seen in the log.
    pub experiments: BTreeSet<String>,
    /// Finished sessions.
    pub sessions: Vec<Session>,
    /// Units (treatment index, user) with at least one event.
    pub units: Vec<(u32, u64)>,
    /// Sessions without a `"last"` event, dropped.
    pub unfinished_sessions: u64,
    /// Events of those sessions.
    pub unfinished_events: u64,
    /// Events ignored because they belong to no tracked treatment.
    pub ignored_events: u64,
    /// Events without session id were not in time order and were sorted (buffered mode).
    pub sorted: bool,
    /// Some event carries an `episode`: a simulator's log.
    pub simulated: bool,
}

/// A session with an id, open: (user, pair, totals so far).
type OpenSession = (u64, Option<u64>, SessionTotals);

/// The "file" of the sessions of `sim serve` logs, whose ids hold across files.
const SERVICE_WIDE: u32 = u32::MAX;

/// Folds events into sessions.
#[derive(Debug)]
pub struct Sessionizer {
    experiment: Option<String>,
    mode: Mode,
    pub treatments: Vec<(String, String)>,
    treatment_index: HashMap<(String, String), u32>,
    experiments: BTreeSet<String>,
    /// Experiment-set id -> tracked treatment indices.
    pub set_cache: Vec<Option<Vec<u32>>>,
    /// Open sessions with ids.
    by_id: FastMap<(u32, u64, u32), OpenSession>,
    /// Closed `sim serve` sessions -> index in `id_sessions`: replicas' clocks tick in
    /// milliseconds, so a session's `last` may sort before its previous event from the
    /// other replica's log; that event still belongs to the closed session.
    closed_service_wide: FastMap<(u32, u64, u32), usize>,
    units: FastMap<(u32, u64), Unit>,
    id_sessions: Vec<Session>,
    order_sessions: Vec<Session>,
    out_of_order: bool,
    ignored_events: u64,
    seq: u64,
    simulated: bool,
}

impl Sessionizer {
    /// Tracks the treatments of `experiment`, or of every experiment when `None`.
    pub fn new(experiment: Option<String>) -> Self {
        Self {
            experiment,
            mode: Mode::Streaming,
            treatments: Vec::new(),
            treatment_index: HashMap::new(),
            experiments: BTreeSet::new(),
            set_cache: Vec::new(),
            by_id: FastMap::default(),
            closed_service_wide: FastMap::default(),
            units: FastMap::default(),
            id_sessions: Vec::new(),
            order_sessions: Vec::new(),
            out_of_order: false,
            ignored_events: 0,
            seq: 0,
            simulated: false,
        }
    }

    /// Whether events without session id came out of time order (streaming mode).
    pub fn out_of_order(&self) -> bool {
        self.out_of_order
    }

    /// Switches to buffered mode for a second pass over the same log: sessions without id
    /// are rebuilt from scratch; events with a session id are skipped (already folded).
    pub fn restart_buffered(&mut self) {
        self.mode = Mode::Buffered;
        self.order_sessions.clear();
        for unit in self.units.values_mut() {
            unit.open = None;
            unit.pending.clear();
        }
        self.ignored_events = 0;
    }

    fn tracked(&mut self, set: u32, sets: &ExperimentSets) -> &[u32] {
        let i = set as usize;
        if self.set_cache.len() <= i {
            self.set_cache.resize(i + 1, None);
        }
        if self.set_cache[i].is_none() {
            let mut ids = Vec::new();
            for (experiment, treatment) in sets.get(set) {
                self.experiments.insert(experiment.clone());
                if self.experiment.as_ref().is_some_and(|e| e != experiment) {
                    continue;
                }
                let key = (experiment.clone(), treatment.clone());
                let next = self.treatments.len() as u32;
                let id = *self.treatment_index.entry(key.clone()).or_insert(next);
                if id == next {
                    self.treatments.push(key);
                }
                ids.push(id);
            }
            self.set_cache[i] = Some(ids);
        }
        self.set_cache[i].as_deref().unwrap_or(&[])
    }

    /// Folds one event read from file number `file`.
    pub fn push(&mut self, file: usize, event: &ParsedEvent, sets: &ExperimentSets) {
        let buffered = self.mode == Mode::Buffered;
        if buffered && event.session.is_some() {
            return;
        }
        let tracked = self.tracked(event.experiments, sets);
        if tracked.is_empty() {
            self.ignored_events += 1;
            return;
        }
        // Usually one treatment; copy the (tiny) list to release the borrow.
        let mut ids = [0u32; 4];
        let n = tracked.len().min(ids.len());
        ids[..n].copy_from_slice(&tracked[..n]);
        let extra: Vec<u32> = tracked[n..].to_vec();
        for &treatment in ids[..n].iter().chain(extra.iter()) {
            self.push_one(file as u32, treatment, event);
        }
    }

    fn push_one(&mut self, file: u32, treatment: u32, event: &ParsedEvent) {
        self.simulated |= event.episode;
        if let Some(session) = event.session {
            let scope = if event.episode { file } else { SERVICE_WIDE };
            let key = (scope, session, treatment);
            if let Some(&closed) = self.closed_service_wide.get(&key) {
                let s = &mut self.id_sessions[closed];
                s.timestamp = s.timestamp.min(event.timestamp);
                s.tracks += 1;
                s.time += event.time;
                s.latency_ms += event.latency * 1000.0;
                return;
            }
            let (_, _, acc) = self.by_id.entry(key).or_insert_with(|| {
                // A new session: register its unit (once per session, not per event).
                self.units.entry((treatment, event.user)).or_default();
                (event.user, event.pair, SessionTotals::new(event.timestamp))
            });
            acc.add(event.timestamp, event.time, event.latency);
            if event.last
                && let Some((user, pair, acc)) = self.by_id.remove(&key)
            {
                if scope == SERVICE_WIDE {
                    self.closed_service_wide.insert(key, self.id_sessions.len());
                }
                self.id_sessions
                    .push(Session::new(treatment, user, &acc).in_pair(pair));
            }
            return;
        }
        let unit = self.units.entry((treatment, event.user)).or_default();
        match self.mode {
            Mode::Streaming => {
                if event.timestamp < unit.last_timestamp {
                    self.out_of_order = true;
                }
                unit.last_timestamp = event.timestamp;
                let acc = unit
                    .open
                    .get_or_insert_with(|| SessionTotals::new(event.timestamp));
                acc.add(event.timestamp, event.time, event.latency);
                if event.last {
                    let acc = *acc;
                    unit.open = None;
                    self.order_sessions
                        .push(Session::new(treatment, event.user, &acc));
                }
            }
            Mode::Buffered => {
                self.seq += 1;
                unit.pending.push(Pending {
                    timestamp: event.timestamp,
                    seq: self.seq,
                    time: event.time,
                    latency: event.latency,
                    last: event.last,
                });
            }
        }
    }

    /// Closes the log: unfinished sessions are dropped and counted.
    pub fn finish(mut self) -> Sessionized {
        let mut unfinished_sessions = 0;
        let mut unfinished_events = 0;
        for (_, _, acc) in self.by_id.values() {
            unfinished_sessions += 1;
            unfinished_events += acc.tracks;
        }
        let mut unit_keys: Vec<(u32, u64)> = self.units.keys().copied().collect();
        unit_keys.sort_unstable();
        for key in &unit_keys {
            let Some(unit) = self.units.get_mut(key) else {
                continue;
            };
            if self.mode == Mode::Buffered && !unit.pending.is_empty() {
                let mut pending = std::mem::take(&mut unit.pending);
                pending.sort_by_key(|p| (p.timestamp, p.seq));
                let mut open: Option<SessionTotals> = None;
                for p in pending {
                    let acc = open.get_or_insert_with(|| SessionTotals::new(p.timestamp));
                    acc.add(p.timestamp, p.time, p.latency);
                    if p.last {
                        self.order_sessions.push(Session::new(key.0, key.1, acc));
                        open = None;
                    }
                }
                unit.open = open;
            }
            if let Some(acc) = unit.open {
                unfinished_sessions += 1;
                unfinished_events += acc.tracks;
            }
        }
        let mut sessions = self.id_sessions;
        sessions.append(&mut self.order_sessions);
        Sessionized {
            treatments: self.treatments,
            experiments: self.experiments,
            sessions,
            units: unit_keys,
            unfinished_sessions,
            unfinished_events,
            ignored_events: self.ignored_events,
            sorted: self.mode == Mode::Buffered,
            simulated: self.simulated,
        }
    }
}
