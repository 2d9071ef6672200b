//! `no_repeat: true` on `random`, `top_pop`, `sticky_artist`, `indexed` and `contextual`:
//! the arm never answers a track already played in the session, the first track included.
//!
//! The rule, per request: the policy's candidate set (the catalogue, the top `k`, the
//! previous track's artist's tracks, the user's list, the previous track's list) minus
//! the tracks played so far; the answer is uniform over what is left. When nothing is
//! left (or the policy has no candidates, e.g. a user without a list), the fallback
//! answers: `indexed`/`contextual` ask their `fallback`, and if it has none or its answer
//! was played too, the answer is a uniformly random unplayed track of the catalogue.
//! (A `random` fallback whose played answers are replaced is exactly that distribution.)
//!
//! Played tracks are the session's first track and every answer: in the botify protocol
//! each answer comes back as the next request's previous track, so the session remembers
//! every `prev` it was given.

use super::lists::IdLists;
use super::{RecRng, RecSession, RecommendError, Recommender, SessionMemory, SessionStart};
use crate::world::ServiceCatalogue;
use rand::RngExt;
use std::collections::HashSet;
use std::sync::Arc;

/// Uniform draws tried before the unplayed candidates are listed (both give the same
/// distribution: uniform over the unplayed ones).
const REJECTION_DRAWS: usize = 32;

/// Where a policy draws its candidates from.
pub enum Pool {
    /// Every track `0..n_tracks`.
    Catalogue,
    /// A fixed list (`top_pop`).
    Fixed(Vec<u32>),
    /// The previous track's artist's tracks (`sticky_artist`).
    SameArtist(Arc<ServiceCatalogue>),
    /// The user's list (`indexed`).
    PerUser(IdLists),
    /// The previous track's list (`contextual`).
    PerPreviousTrack(IdLists),
}

/// A policy restricted to unplayed tracks, with its fallback.
pub struct NoRepeat {
    pub pool: Pool,
    pub fallback: Option<Box<dyn Recommender>>,
    pub n_tracks: u32,
}

impl NoRepeat {
    /// The candidate set of one request; `None` means the whole catalogue.
    fn candidates(&self, user: u32, prev: u32) -> Option<&[u32]> {
        match &self.pool {
            Pool::Catalogue => None,
            Pool::Fixed(tracks) => Some(tracks),
            Pool::SameArtist(catalogue) => {
                let artist = catalogue.artist_of[prev as usize];
                Some(&catalogue.tracks_by_artist[artist as usize])
            }
            Pool::PerUser(lists) => Some(lists.get(user).unwrap_or(&[])),
            Pool::PerPreviousTrack(lists) => Some(lists.get(prev).unwrap_or(&[])),
        }
    }
}

impl Recommender for NoRepeat {
    fn start(&self, start: &SessionStart) -> Box<dyn RecSession + '_> {
        self.resume(start, &SessionMemory::default())
    }

    /// `sim serve` keeps the played tracks between requests (`SessionMemory::tracks`).
    fn resume(&self, start: &SessionStart, memory: &SessionMemory) -> Box<dyn RecSession + '_> {
        Box::new(NoRepeatSession {
            policy: self,
            user: start.user,
            played: memory.tracks.iter().copied().collect(),
            fallback: self
                .fallback
                .as_ref()
                .map(|f| f.resume(start, memory.fallback_part())),
        })
    }
}

struct NoRepeatSession<'a> {
    policy: &'a NoRepeat,
    user: u32,
    played: HashSet<u32>,
    fallback: Option<Box<dyn RecSession + 'a>>,
}

impl NoRepeatSession<'_> {
    /// A uniform unplayed element of `items`, if any.
    fn unplayed_of(&self, items: &[u32], rng: &mut RecRng) -> Option<u32> {
        if items.is_empty() {
            return None;
        }
        for _ in 0..REJECTION_DRAWS {
            let t = items[rng.random_range(0..items.len())];
            if !self.played.contains(&t) {
                return Some(t);
            }
        }
        let left: Vec<u32> = items
            .iter()
            .copied()
            .filter(|t| !self.played.contains(t))
            .collect();
        (!left.is_empty()).then(|| left[rng.random_range(0..left.len())])
    }

    /// A uniform unplayed track of the catalogue, if any.
    fn unplayed_track(&self, rng: &mut RecRng) -> Option<u32> {
        let n = self.policy.n_tracks;
        for _ in 0..REJECTION_DRAWS {
            let t = rng.random_range(0..n);
            if !self.played.contains(&t) {
                return Some(t);
            }
        }
        let left: Vec<u32> = (0..n).filter(|t| !self.played.contains(t)).collect();
        (!left.is_empty()).then(|| left[rng.random_range(0..left.len())])
    }
}

impl RecSession for NoRepeatSession<'_> {
    fn next(&mut self, prev: u32, time: f64, rng: &mut RecRng) -> Result<u32, RecommendError> {
        self.played.insert(prev);
        let own = match self.policy.candidates(self.user, prev) {
            Some(items) => self.unplayed_of(items, rng),
            None => self.unplayed_track(rng),
        };
        if let Some(t) = own {
            return Ok(t);
        }
        if let Some(fallback) = &mut self.fallback {
            let answer = fallback.next(prev, time, rng)?;
            // An id outside the catalogue goes through, so the run names the culprit.
            if answer >= self.policy.n_tracks || !self.played.contains(&answer) {
                return Ok(answer);
            }
        }
        self.unplayed_track(rng).ok_or_else(|| {
            RecommendError::Failed(format!(
                "no_repeat: all {} tracks of the catalogue were played in this session",
                self.policy.n_tracks
            ))
        })
    }

    fn end(&mut self, last: u32, time: f64) -> Result<(), RecommendError> {
        match &mut self.fallback {
            Some(f) => f.end(last, time),
            None => Ok(()),
        }
    }

    fn memory(&self) -> SessionMemory {
        let mut tracks: Vec<u32> = self.played.iter().copied().collect();
        tracks.sort_unstable();
        SessionMemory {
            tracks,
            ..SessionMemory::of_fallback(
                self.fallback
                    .as_ref()
                    .map_or_else(SessionMemory::default, |f| f.memory()),
            )
        }
    }
}
