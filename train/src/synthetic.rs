//! A seeded synthetic log with structure a two-tower model can learn, for tests and
//! benchmarks (not a simulator: no embeddings, just "users prefer a few artists").
//!
//! Artists belong to genres (`artist % genres`); tracks to random artists. Each user likes
//! two genres and a few favourite artists within them. A session starts with a track of a
//! favourite artist (time 1.0, as the simulator's first track), then every play is, with
//! probability 0.1, a favourite artist's track (time ~ U(0.55, 1)); with probability 0.1,
//! a track of a liked genre (time ~ U(0.2, 0.9)); else a random track (time ~ U(0, 0.6)).
//! About 10 % of the plays are positives (time > 0.8).

use super::Interaction;
use botify_sim_core::log::{Event, Message};
use chacha20::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticConfig {
    pub users: usize,
    pub tracks: usize,
    pub artists: usize,
    pub genres: usize,
    pub favourite_artists: usize,
    /// Total plays (interactions), approximately the number of log events.
    pub events: usize,
    /// Mean plays per session (geometric lengths).
    pub session_length: usize,
    pub seed: u64,
}

impl SyntheticConfig {
    /// The benchmark's shape: 10,000 users, 50,000 tracks, 11,464 artists, 1 million events.
    pub fn million() -> Self {
        Self {
            users: 10_000,
            tracks: 50_000,
            artists: 11_464,
            genres: 100,
            favourite_artists: 4,
            events: 1_000_000,
            session_length: 20,
            seed: 1,
        }
    }
}

/// The synthetic world's public facts and its log, as sessions of plays.
#[derive(Debug, Clone)]
pub struct SyntheticLog {
    pub artist_of: Vec<u32>,
    /// Favourite artists per user (the hidden truth; tests may use it, training must not).
    pub favourites: Vec<Vec<u32>>,
    /// Sessions in log order: `(user, plays)`.
    pub sessions: Vec<(u32, Vec<(u32, f32)>)>,
}

impl SyntheticLog {
    pub fn generate(cfg: &SyntheticConfig) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let artists = cfg.artists.max(1);
        let genres = cfg.genres.clamp(1, artists);
        let artist_of: Vec<u32> = (0..cfg.tracks)
            .map(|_| rng.random_range(0..artists as u32))
            .collect();
        let mut tracks_of: Vec<Vec<u32>> = vec![Vec::new(); artists];
        for (t, &a) in artist_of.iter().enumerate() {
            tracks_of[a as usize].push(t as u32);
        }
        // Artists with tracks, per genre.
        let mut artists_of_genre: Vec<Vec<u32>> = vec![Vec::new(); genres];
        for (a, ts) in tracks_of.iter().enumerate() {
            if !ts.is_empty() {
                artists_of_genre[a % genres].push(a as u32);
            }
        }
        let liked_genres: Vec<Vec<usize>> = (0..cfg.users)
            .map(|_| {
                let pick = |rng: &mut ChaCha8Rng| loop {
                    let g = rng.random_range(0..genres);
                    if !artists_of_genre[g].is_empty() {
                        break g;
                    }
                };
                vec![pick(&mut rng), pick(&mut rng)]
            })
            .collect();
        let favourites: Vec<Vec<u32>> = liked_genres
            .iter()
            .map(|gs| {
                (0..cfg.favourite_artists.max(1))
                    .map(|_| {
                        let g = &artists_of_genre[gs[rng.random_range(0..gs.len())]];
                        g[rng.random_range(0..g.len())]
                    })
                    .collect()
            })
            .collect();

        let pick_of_artist = |a: u32, rng: &mut ChaCha8Rng| {
            let ts = &tracks_of[a as usize];
            ts[rng.random_range(0..ts.len())]
        };
        let mut sessions = Vec::new();
        let mut total = 0;
        let p_end = 1.0 / cfg.session_length.max(2) as f64;
        while total < cfg.events {
            let user = rng.random_range(0..cfg.users as u32);
            let fav = &favourites[user as usize];
            let first = pick_of_artist(fav[rng.random_range(0..fav.len())], &mut rng);
            let mut plays = vec![(first, 1.0f32)];
            while total + plays.len() < cfg.events && rng.random::<f64>() >= p_end {
                let r = rng.random::<f32>();
                let play = if r < 0.1 {
                    let a = fav[rng.random_range(0..fav.len())];
                    (
                        pick_of_artist(a, &mut rng),
                        0.55 + 0.45 * rng.random::<f32>(),
                    )
                } else if r < 0.2 {
                    let gs = &liked_genres[user as usize];
                    let g = &artists_of_genre[gs[rng.random_range(0..gs.len())]];
                    let a = g[rng.random_range(0..g.len())];
                    (pick_of_artist(a, &mut rng), 0.2 + 0.7 * rng.random::<f32>())
                } else {
                    let t = rng.random_range(0..cfg.tracks as u32);
                    (t, 0.6 * rng.random::<f32>())
                };
                // Listen times have two decimals, as the simulator's.
                plays.push((play.0, (play.1 * 100.0).round() / 100.0));
            }
            total += plays.len();
            sessions.push((user, plays));
        }
        Self {
            artist_of,
            favourites,
            sessions,
        }
    }

    pub fn interactions(&self) -> Vec<Interaction> {
        self.sessions
            .iter()
            .flat_map(|(user, plays)| {
                plays.iter().map(|&(track, time)| Interaction {
                    user: *user,
                    track,
                    time,
                })
            })
            .collect()
    }

    /// The log as botify events: one `next` per play but the last, whose play the `last`
    /// event carries; a virtual clock of 1 s per event.
    pub fn events(&self) -> impl Iterator<Item = Event> + '_ {
        let mut clock = 0u64;
        self.sessions
            .iter()
            .enumerate()
            .flat_map(move |(s, (user, plays))| {
                plays.iter().enumerate().map(move |(i, &(track, time))| {
                    let last = i + 1 == plays.len();
                    (s, *user, track, time, last, plays.get(i + 1).map(|p| p.0))
                })
            })
            .map(move |(s, user, track, time, last, next)| {
                clock += 1000;
                Event {
                    message: if last { Message::Last } else { Message::Next },
                    timestamp: clock,
                    user: u64::from(user),
                    track: u64::from(track),
                    time: f64::from(time),
                    latency: 0.0,
                    recommendation: next.map(u64::from),
                    experiments: BTreeMap::new(),
                    session: Some(s as u64),
                    episode: Some(s as u64),
                    pair: None,
                }
            })
    }
}
