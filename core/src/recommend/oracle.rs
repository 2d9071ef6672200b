//! `oracle`: an upper bound that CHEATS by design. It reads the session's hidden taste
//! and the user's hidden parameters, and answers the unplayed track with the highest
//! expected listen time among the taste's nearest `candidates` tracks.

use super::{RecRng, RecSession, RecommendError, Recommender, SessionStart};
use crate::sim::listen::raw_listen;
use crate::world::{World, dot};
use rand::RngExt;
use std::collections::HashMap;
use std::sync::Arc;

pub struct Oracle {
    world: Arc<World>,
    candidates: usize,
}

impl Oracle {
    /// The world's neighbour cache must hold `candidates` neighbours
    /// (see `RecommenderSpec::neighbours_needed`); fewer are used otherwise.
    pub fn new(world: Arc<World>, candidates: usize) -> Oracle {
        Oracle { world, candidates }
    }
}

impl Recommender for Oracle {
    fn start(&self, start: &SessionStart) -> Box<dyn RecSession + '_> {
        let world = &*self.world;
        let cat = &world.catalogue;
        let user = world.users.get(start.user as usize);
        let taste = cat.embedding(start.hidden_taste);
        // Candidate artists get small local indices, so per-step counting needs no hashing.
        let mut local_artist: HashMap<u32, usize> = HashMap::new();
        // Undiscounted listen share of each candidate, best first; the discount only
        // lowers it, so a scan can stop once the undiscounted value cannot win.
        let mut ranked: Vec<Candidate> = match user {
            Some(user) => world
                .nearest(start.hidden_taste, self.candidates)
                .iter()
                .map(|&t| {
                    let next = local_artist.len();
                    Candidate {
                        raw: raw_listen(dot(cat.embedding(t), taste), user),
                        track: t,
                        artist: *local_artist
                            .entry(cat.artist_of[t as usize])
                            .or_insert(next),
                    }
                })
                .collect(),
            None => Vec::new(),
        };
        ranked.sort_by(|a, b| b.raw.total_cmp(&a.raw).then(a.track.cmp(&b.track)));
        let gamma = user.map_or(1.0, |u| u.artist_discount_gamma);
        Box::new(OracleSession {
            world,
            user: start.user,
            discount: (0..DISCOUNT_TABLE).map(|n| gamma.powi(n as i32)).collect(),
            artist_plays: vec![0; local_artist.len()],
            local_artist,
            ranked,
            played: Vec::new(),
            last_pick: None,
        })
    }
}

/// Plays of one artist past which the discount is read from `powi` instead of the table.
const DISCOUNT_TABLE: usize = 64;

struct Candidate {
    raw: f64,
    track: u32,
    /// Local artist index, into `OracleSession::artist_plays`.
    artist: usize,
}

struct OracleSession<'a> {
    world: &'a World,
    user: u32,
    /// `gamma^n` for small `n`.
    discount: Vec<f64>,
    local_artist: HashMap<u32, usize>,
    artist_plays: Vec<usize>,
    /// Unplayed candidates, best undiscounted value first.
    ranked: Vec<Candidate>,
    /// Rebuilt from the requests: each `prev_track` is the latest playback.
    played: Vec<u32>,
    /// Where the last answer stood in `ranked`: the next `prev_track` is normally it.
    last_pick: Option<usize>,
}

impl OracleSession<'_> {
    fn discount(&self, plays: usize) -> f64 {
        match self.discount.get(plays) {
            Some(d) => *d,
            None => self.discount[1].powi(plays as i32),
        }
    }
}

impl RecSession for OracleSession<'_> {
    fn next(&mut self, prev: u32, _time: f64, rng: &mut RecRng) -> Result<u32, RecommendError> {
        let cat = &self.world.catalogue;
        if self.world.users.get(self.user as usize).is_none() {
            return Err(RecommendError::Failed(format!(
                "oracle: user {} is not in the world",
                self.user
            )));
        }
        self.played.push(prev);
        // A played candidate is worth nothing from now on: drop it from the scan.
        match self.last_pick.take() {
            Some(i) if self.ranked.get(i).is_some_and(|c| c.track == prev) => {
                self.ranked.remove(i);
            }
            _ => self.ranked.retain(|c| c.track != prev),
        }
        if let Some(&a) = self.local_artist.get(&cat.artist_of[prev as usize]) {
            self.artist_plays[a] += 1;
        }
        let mut best: Option<(f64, usize)> = None;
        for (i, c) in self.ranked.iter().enumerate() {
            if best.is_some_and(|(b, _)| c.raw <= b) {
                break;
            }
            let value = c.raw * self.discount(self.artist_plays[c.artist]);
            if value > 0.0 && best.is_none_or(|(b, _)| value > b) {
                best = Some((value, i));
            }
        }
        Ok(match best {
            Some((_, i)) => {
                self.last_pick = Some(i);
                self.ranked[i].track
            }
            // Every candidate is played: any unplayed track will do.
            None => loop {
                let t = rng.random_range(0..cat.len() as u32);
                if !self.played.contains(&t) || self.played.len() >= cat.len() {
                    break t;
                }
            },
        })
    }
}
