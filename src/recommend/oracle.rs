//! `oracle`: an upper bound that CHEATS by design. It reads the session's hidden taste
//! and the user's hidden parameters, and answers the unplayed track with the highest
//! expected listen time among the taste's nearest `candidates` tracks.

use super::{RecRng, RecSession, RecommendError, Recommender, SessionStart};
use crate::sim::listen::{Playback, expected_listen};
use crate::world::{NeighbourCache, World};
use rand::RngExt;
use std::sync::Arc;

pub struct Oracle {
    world: Arc<World>,
    neighbours: NeighbourCache,
}

impl Oracle {
    pub fn new(world: Arc<World>, candidates: usize) -> Oracle {
        let neighbours = NeighbourCache::new(world.catalogue.len(), candidates);
        Oracle { world, neighbours }
    }
}

impl Recommender for Oracle {
    fn start(&self, start: &SessionStart) -> Box<dyn RecSession + '_> {
        Box::new(OracleSession {
            oracle: self,
            user: start.user,
            taste: start.hidden_taste,
            played: Playback::default(),
        })
    }
}

struct OracleSession<'a> {
    oracle: &'a Oracle,
    user: u32,
    taste: u32,
    /// Rebuilt from the requests: each `prev_track` is the latest playback.
    played: Playback,
}

impl RecSession for OracleSession<'_> {
    fn next(&mut self, prev: u32, _time: f64, rng: &mut RecRng) -> Result<u32, RecommendError> {
        let world = &*self.oracle.world;
        let cat = &world.catalogue;
        let user = world.users.get(self.user as usize).ok_or_else(|| {
            RecommendError::Failed(format!("oracle: user {} is not in the world", self.user))
        })?;
        self.played.push(prev, cat);
        let taste = cat.embedding(self.taste);
        let mut best: Option<(f64, u32)> = None;
        for &t in self.oracle.neighbours.get(cat, self.taste) {
            let value = expected_listen(cat, user, taste, &self.played, t);
            if value > 0.0 && best.is_none_or(|(b, _)| value > b) {
                best = Some((value, t));
            }
        }
        Ok(match best {
            Some((_, t)) => t,
            // Every candidate is played: any unplayed track will do.
            None => loop {
                let t = rng.random_range(0..cat.len() as u32);
                if !self.played.contains(t) || self.played.len() >= cat.len() {
                    break t;
                }
            },
        })
    }
}
