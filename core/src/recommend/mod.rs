//! The `Recommender` trait and every in-process policy.
//!
//! A recommender sees a session the way the botify service does: the user id, the
//! previous track and its listen time, plus the public catalogue (ids, artists,
//! popularity). Only `oracle` reads hidden state, and says so in its name.

pub mod batch;
pub mod console;
pub mod contextual;
pub mod history;
pub mod indexed;
pub mod lists;
pub mod no_repeat;
pub mod oracle;
pub mod remote;
pub mod simple;
pub mod spec;
pub mod stall;

pub use spec::RecommenderSpec;

use chacha20::ChaCha8Rng;

/// The random stream a recommender draws from (one per episode, see `sim::runner`).
pub type RecRng = ChaCha8Rng;

/// What a recommender learns when a session starts.
#[derive(Debug, Clone, Copy)]
pub struct SessionStart {
    pub user: u32,
    /// The session's hidden taste (an interest track). Only the oracle may read it.
    pub hidden_taste: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum RecommendError {
    #[error("{0}")]
    Failed(String),
    /// The person at the console ended the run: a clean stop, not a failure.
    #[error("the run was ended at the console")]
    Quit,
}

/// What a session remembers between two requests, in a form a session store keeps
/// (`sim serve` holds it in memory or in Redis between a user's requests, so replicas
/// sharing a store answer as one service).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SessionMemory {
    /// Tracks recommended or played in the session (`history`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tracks: Vec<u32>,
    /// (artist, recommendations) in the session (`history`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artist_recs: Vec<(u32, u32)>,
    /// The fallback's memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Box<SessionMemory>>,
}

impl SessionMemory {
    /// Memory with only a fallback's part (`None` when that part is empty).
    pub fn of_fallback(fallback: SessionMemory) -> SessionMemory {
        SessionMemory {
            fallback: (fallback != SessionMemory::default()).then(|| Box::new(fallback)),
            ..SessionMemory::default()
        }
    }

    /// The fallback's part (empty when there is none).
    pub fn fallback_part(&self) -> &SessionMemory {
        static EMPTY: SessionMemory = SessionMemory {
            tracks: Vec::new(),
            artist_recs: Vec::new(),
            fallback: None,
        };
        self.fallback.as_deref().unwrap_or(&EMPTY)
    }
}

/// A policy; `start` opens a session whose memory needs no locks.
///
/// A recommender whose sessions remember anything must implement `resume` and
/// [`RecSession::memory`] too: `sim serve` keeps only that memory between requests.
pub trait Recommender: Send + Sync {
    fn start(&self, start: &SessionStart) -> Box<dyn RecSession + '_>;

    /// A session continued from `memory` (what [`RecSession::memory`] gave). The default
    /// suits sessions that remember nothing.
    fn resume(&self, start: &SessionStart, _memory: &SessionMemory) -> Box<dyn RecSession + '_> {
        self.start(start)
    }

    /// The arm as a [`batch::BatchRecommender`], if it answers many sessions per call:
    /// the runner then steps its sessions in lockstep (`sim::lockstep`).
    fn batch(&self) -> Option<&dyn batch::BatchRecommender> {
        None
    }
}

/// One user session: `next` per request, `end` for the botify "last" call.
pub trait RecSession {
    fn next(
        &mut self,
        prev_track: u32,
        prev_time: f64,
        rng: &mut RecRng,
    ) -> Result<u32, RecommendError>;

    fn end(&mut self, _last_track: u32, _last_time: f64) -> Result<(), RecommendError> {
        Ok(())
    }

    /// What the session remembers now, for [`Recommender::resume`].
    fn memory(&self) -> SessionMemory {
        SessionMemory::default()
    }
}

/// A policy without per-session memory: one pick per request.
pub trait StatelessPolicy: Send + Sync {
    fn pick(&self, user: u32, prev_track: u32, rng: &mut RecRng) -> u32;
}

impl<P: StatelessPolicy> Recommender for P {
    fn start(&self, start: &SessionStart) -> Box<dyn RecSession + '_> {
        Box::new(StatelessSession {
            policy: self,
            user: start.user,
        })
    }
}

struct StatelessSession<'a, P> {
    policy: &'a P,
    user: u32,
}

impl<P: StatelessPolicy> RecSession for StatelessSession<'_, P> {
    fn next(&mut self, prev: u32, _time: f64, rng: &mut RecRng) -> Result<u32, RecommendError> {
        Ok(self.policy.pick(self.user, prev, rng))
    }
}

/// A uniform element of a non-empty slice.
pub fn choose(items: &[u32], rng: &mut RecRng) -> u32 {
    use rand::RngExt;
    items[rng.random_range(0..items.len())]
}
