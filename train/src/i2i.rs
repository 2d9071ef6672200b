//! Next-track lists per track from the sessions of event logs (`sim train i2i`), for the
//! `contextual` recommender (the course's contextual seminar arms, T5 and T6).
//!
//! A **transition** `a -> b` is two consecutive plays of one user within a session: the
//! user's previous event did not end a session (`last`). Events of different users may
//! interleave (the botify service's logs); a user's own events must be in order, as every
//! log is. Only what a service sees is read: `user`, `track`, `time` and `message`.
//!
//! The **score** of `b` after `a` is the sum of `b`'s listen times over the transitions
//! `a -> b` in which `b` was listened to well (`time >= min_time`); `b == a` never counts.
//! Each track's list is its followers by score, best first (ties: lower id), cut to
//! `top_k`. With `one_per_artist`, a list keeps only the best-scored track of each artist
//! (the course's diversified arm): cut to `top_k` after the filter.
//!
//! Deterministic: one pass in file order, then sorts with total orders; no randomness, no
//! dependence on threads.

use super::input::Play;
use std::collections::HashMap;

/// Options of [`next_track_lists`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct I2iParams {
    /// Tracks kept per list.
    pub top_k: usize,
    /// A follower counts when it was listened to at least this much.
    pub min_time: f32,
    /// Keep at most one track per artist in a list.
    pub one_per_artist: bool,
}

impl Default for I2iParams {
    fn default() -> Self {
        Self {
            top_k: 100,
            min_time: 0.8,
            one_per_artist: false,
        }
    }
}

/// Counters of one training run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct I2iSummary {
    pub plays: usize,
    pub transitions: usize,
    /// Transitions whose follower was listened to at least `min_time`.
    pub good_transitions: usize,
    /// Tracks with a non-empty list.
    pub tracks_with_lists: usize,
}

/// Every track's next-track list (tracks with a non-empty list, in increasing id order).
/// `artist_of` maps each track to its artist (used by `one_per_artist` only).
pub fn next_track_lists(
    plays: &[Play],
    artist_of: &[u32],
    params: &I2iParams,
) -> (Vec<(u32, Vec<u32>)>, I2iSummary) {
    let mut summary = I2iSummary {
        plays: plays.len(),
        ..I2iSummary::default()
    };
    // The user's latest play, unless it ended the session.
    let mut open: HashMap<u32, u32> = HashMap::new();
    let mut scores: HashMap<(u32, u32), f64> = HashMap::new();
    for play in plays {
        let i = play.interaction;
        if let Some(prev) = open.get(&i.user).copied() {
            summary.transitions += 1;
            if i.time >= params.min_time && i.track != prev {
                summary.good_transitions += 1;
                *scores.entry((prev, i.track)).or_default() += i.time as f64;
            }
        }
        if play.ends_session {
            open.remove(&i.user);
        } else {
            open.insert(i.user, i.track);
        }
    }
    let mut pairs: Vec<((u32, u32), f64)> = scores.into_iter().collect();
    // By source track, then best score first, then lower follower id.
    pairs.sort_by(|(a, x), (b, y)| a.0.cmp(&b.0).then(y.total_cmp(x)).then(a.1.cmp(&b.1)));
    let mut lists: Vec<(u32, Vec<u32>)> = Vec::new();
    for chunk in pairs.chunk_by(|(a, _), (b, _)| a.0 == b.0) {
        let source = chunk[0].0.0;
        let mut list = Vec::new();
        let mut artists = Vec::new();
        for ((_, follower), _) in chunk {
            if list.len() == params.top_k {
                break;
            }
            if params.one_per_artist {
                let artist = artist_of[*follower as usize];
                if artists.contains(&artist) {
                    continue;
                }
                artists.push(artist);
            }
            list.push(*follower);
        }
        if !list.is_empty() {
            lists.push((source, list));
        }
    }
    summary.tracks_with_lists = lists.len();
    (lists, summary)
}
