//! The user model's listen time (SIMULATOR.md §3) and the session's playback memory.

use crate::world::{Catalogue, User, dot};

/// `sigmoid((score - bias) * sharpness)`: the share of a fresh track the user listens to.
pub fn raw_listen(score: f32, user: &User) -> f64 {
    let x = (score as f64 - user.consume_bias) * user.consume_sharpness;
    1.0 / (1.0 + (-x).exp())
}

/// Rounds to 2 decimals, ties to even on the scaled value (as numpy's `round(x, 2)`).
pub fn round2(x: f64) -> f64 {
    let scaled = x * 100.0;
    // For 0 <= scaled < 2^52 a cast and compares round as `round_ties_even`, which is a
    // library call on the baseline x86-64 target (no SSE4.1 `roundsd`).
    if (0.0..4.5e15).contains(&scaled) && scaled.is_sign_positive() {
        let whole = scaled as u64;
        // Exact: `whole` is `scaled` truncated.
        let rest = scaled - whole as f64;
        let up = rest > 0.5 || (rest == 0.5 && whole % 2 == 1);
        return (whole + u64::from(up)) as f64 / 100.0;
    }
    scaled.round_ties_even() / 100.0
}

/// What one session has played so far: the first track, then every recommendation.
#[derive(Debug, Clone)]
pub struct Playback {
    /// (track, its artist), in play order: one allocation, sized for most sessions.
    plays: Vec<(u32, u32)>,
}

impl Default for Playback {
    fn default() -> Self {
        Playback {
            plays: Vec::with_capacity(16),
        }
    }
}

impl Playback {
    /// Forgets every play (keeps the memory for the next session).
    pub fn clear(&mut self) {
        self.plays.clear();
    }

    pub fn push(&mut self, track: u32, catalogue: &Catalogue) {
        self.plays
            .push((track, catalogue.artist_of[track as usize]));
    }

    /// Earlier playbacks (repeats and the first track included) by `artist`, or `None`
    /// if `track` was played: both in one pass.
    fn artist_plays_unless_played(&self, track: u32, artist: u32) -> Option<usize> {
        let mut plays = 0;
        for &(t, a) in &self.plays {
            if t == track {
                return None;
            }
            plays += usize::from(a == artist);
        }
        Some(plays)
    }

    pub fn len(&self) -> usize {
        self.plays.len()
    }

    pub fn is_empty(&self) -> bool {
        self.plays.is_empty()
    }
}

/// Expected (unrounded) listen time of `track`: 0 for a repeat, else the sigmoid times
/// the artist discount. The user model rounds it; the oracle ranks by it.
pub fn expected_listen(
    catalogue: &Catalogue,
    user: &User,
    taste: &[f32],
    played: &Playback,
    track: u32,
) -> f64 {
    let artist = catalogue.artist_of[track as usize];
    let Some(artist_plays) = played.artist_plays_unless_played(track, artist) else {
        return 0.0;
    };
    let score = dot(catalogue.embedding(track), taste);
    let listen = raw_listen(score, user);
    match artist_plays {
        0 => listen,
        n => listen * powi(user.artist_discount_gamma, n),
    }
}

/// `x.powi(n)` for `n >= 1`, bit for bit: the multiplications of the `__powidf2` that
/// `powi` calls (compiler-builtins), written out. The call was made for every track,
/// the usual fresh artist too (the compiler hoisted it above the `n == 0` test): with
/// the call, 1.4 % of a run's instructions.
pub fn powi(mut x: f64, n: usize) -> f64 {
    let (mut n, mut power) = (n, 1.0);
    loop {
        if n & 1 == 1 {
            power *= x;
        }
        n >>= 1;
        if n == 0 {
            return power;
        }
        x *= x;
    }
}

/// The listen time the user model reports for `track` (rounded to 2 decimals).
pub fn listen_time(
    catalogue: &Catalogue,
    user: &User,
    taste: &[f32],
    played: &Playback,
    track: u32,
) -> f64 {
    round2(expected_listen(catalogue, user, taste, played, track))
}
