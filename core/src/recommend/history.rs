//! `history`: the course's winning solution. Over a per-user list (as `indexed`), it
//! remembers per session the tracks it recommended and the tracks the user played, and
//! how often each artist was recommended. A random candidate from the list is accepted
//! only if it is new to the session and its artist was recommended fewer than
//! `max_artist_recs` times; after `attempts` rejected draws it asks its fallback.
//! Session memory is dropped at the session's end (the botify "last" call).
//!
//! Both rules hold for every answer, the fallback's included: an answer of the fallback
//! that breaks one (a track of the session, or an artist at its cap) is replaced by a
//! uniform draw over the catalogue's tracks that keep both ([`REPLACEMENT_DRAWS`]
//! uniform draws over the catalogue, then a uniform pick among all such tracks). When no
//! track keeps both (a session that used up the catalogue), the episode fails, naming
//! the arm and the user: the rules are never broken silently.

use super::lists::IdLists;
use super::{RecRng, RecSession, RecommendError, Recommender, SessionMemory, SessionStart, choose};
use crate::world::ServiceCatalogue;
use rand::RngExt;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Uniform draws over the catalogue tried before the tracks that keep both rules are
/// listed (both give the same distribution: uniform over those tracks).
pub const REPLACEMENT_DRAWS: usize = 32;

pub struct History {
    pub lists: IdLists,
    pub catalogue: Arc<ServiceCatalogue>,
    pub max_artist_recs: u32,
    pub attempts: u32,
    pub fallback: Box<dyn Recommender>,
}

impl Recommender for History {
    fn start(&self, start: &SessionStart) -> Box<dyn RecSession + '_> {
        self.resume(start, &SessionMemory::default())
    }

    /// Users without a list are the fallback's: their memory is the fallback's own.
    fn resume(&self, start: &SessionStart, memory: &SessionMemory) -> Box<dyn RecSession + '_> {
        match self.lists.get(start.user) {
            Some(list) => Box::new(HistorySession {
                policy: self,
                list,
                used: memory.tracks.iter().copied().collect(),
                artist_recs: memory.artist_recs.iter().copied().collect(),
                fallback: self.fallback.resume(start, memory.fallback_part()),
            }),
            None => self.fallback.resume(start, memory),
        }
    }
}

struct HistorySession<'a> {
    policy: &'a History,
    list: &'a [u32],
    /// Tracks recommended or played in this session.
    used: HashSet<u32>,
    /// Recommendations per artist in this session.
    artist_recs: HashMap<u32, u32>,
    fallback: Box<dyn RecSession + 'a>,
}

impl HistorySession<'_> {
    /// Whether `track` is new to the session and its artist below the cap.
    fn keeps_rules(&self, track: u32) -> bool {
        let artist = self.policy.catalogue.artist_of[track as usize];
        !self.used.contains(&track)
            && self.artist_recs.get(&artist).copied().unwrap_or(0) < self.policy.max_artist_recs
    }

    /// A uniform track of the catalogue that keeps both rules, if any.
    fn replacement(&self, rng: &mut RecRng) -> Option<u32> {
        let n = self.policy.catalogue.len() as u32;
        if n == 0 {
            return None;
        }
        for _ in 0..REPLACEMENT_DRAWS {
            let track = rng.random_range(0..n);
            if self.keeps_rules(track) {
                return Some(track);
            }
        }
        let left: Vec<u32> = (0..n).filter(|&t| self.keeps_rules(t)).collect();
        (!left.is_empty()).then(|| left[rng.random_range(0..left.len())])
    }

    fn remember(&mut self, track: u32) {
        self.used.insert(track);
        let artist = self.policy.catalogue.artist_of[track as usize];
        *self.artist_recs.entry(artist).or_default() += 1;
    }
}

impl RecSession for HistorySession<'_> {
    fn next(&mut self, prev: u32, time: f64, rng: &mut RecRng) -> Result<u32, RecommendError> {
        self.used.insert(prev);
        for _ in 0..self.policy.attempts {
            let candidate = choose(self.list, rng);
            if self.keeps_rules(candidate) {
                self.remember(candidate);
                return Ok(candidate);
            }
        }
        let answer = self.fallback.next(prev, time, rng)?;
        // An id outside the catalogue goes through, so the run names the culprit.
        if answer as usize >= self.policy.catalogue.len() {
            return Ok(answer);
        }
        let answer = if self.keeps_rules(answer) {
            answer
        } else {
            self.replacement(rng).ok_or_else(|| {
                RecommendError::Failed(format!(
                    "history: no track keeps both rules: each of the {} tracks of the catalogue was played or recommended in this session, or its artist has its {} recommendations",
                    self.policy.catalogue.len(),
                    self.policy.max_artist_recs
                ))
            })?
        };
        self.remember(answer);
        Ok(answer)
    }

    fn end(&mut self, last: u32, time: f64) -> Result<(), RecommendError> {
        self.fallback.end(last, time)
    }

    /// Sorted, so equal memories serialise alike.
    fn memory(&self) -> SessionMemory {
        let mut tracks: Vec<u32> = self.used.iter().copied().collect();
        tracks.sort_unstable();
        let mut artist_recs: Vec<(u32, u32)> =
            self.artist_recs.iter().map(|(&a, &n)| (a, n)).collect();
        artist_recs.sort_unstable();
        SessionMemory {
            tracks,
            artist_recs,
            ..SessionMemory::of_fallback(self.fallback.memory())
        }
    }
}
