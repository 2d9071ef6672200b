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
    // `powi(0)` is 1: skip the library call for the usual fresh artist.
    let discount = match artist_plays {
        0 => 1.0,
        n => user.artist_discount_gamma.powi(n as i32),
    };
    raw_listen(score, user) * discount
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Three tracks on a line: 0 and 1 by artist 0, 2 by artist 1.
    fn catalogue() -> Catalogue {
        Catalogue::new(
            1,
            vec![1.0, 2.0, 3.0],
            vec![0, 0, 1],
            vec!["a".into(), "b".into()],
            vec![String::new(); 3],
            vec![0, 1, 2],
        )
    }

    fn user() -> User {
        User {
            interests: vec![0],
            interest_neighbours: 1,
            consume_bias: 1.0,
            consume_sharpness: 2.0,
            session_budget: 5,
            artist_discount_gamma: 0.8,
        }
    }

    #[test]
    fn sigmoid_of_scaled_score_minus_bias() {
        let u = user();
        assert_eq!(raw_listen(1.0, &u), 0.5);
        let expected = 1.0 / (1.0 + (-2.0f64 * 2.0).exp());
        assert!((raw_listen(3.0, &u) - expected).abs() < 1e-15);
    }

    #[test]
    fn rounding_is_to_two_decimals_ties_to_even_on_the_scaled_value() {
        assert_eq!(round2(0.123), 0.12);
        assert_eq!(round2(0.127), 0.13);
        assert_eq!(round2(0.125), 0.12); // 12.5 -> 12
        assert_eq!(round2(0.375), 0.38); // 37.5 -> 38
        assert_eq!(round2(0.0), 0.0);
    }

    #[test]
    fn round2_rounds_as_round_ties_even() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        // Every tie (k + 0.5 hundredths) and its neighbours, zeros, and random values.
        let mut values: Vec<f64> = (0..=200)
            .flat_map(|k| {
                let tie = (k as f64 + 0.5) / 100.0;
                [tie, tie.next_up(), tie.next_down()]
            })
            .collect();
        values.extend([0.0, -0.0, -0.004, -0.006, 1.0, 4.5e13, 1e300, f64::NAN]);
        values.extend((0..20_000).map(|_| rng.random::<f64>()));
        for x in values {
            let expected = (x * 100.0).round_ties_even() / 100.0;
            assert_eq!(round2(x).to_bits(), expected.to_bits(), "{x:e}");
        }
    }

    #[test]
    fn a_repeat_is_worth_nothing_including_the_first_track() {
        let (cat, u) = (catalogue(), user());
        let mut played = Playback::default();
        played.push(2, &cat);
        assert_eq!(listen_time(&cat, &u, &[1.0], &played, 2), 0.0);
    }

    #[test]
    fn artist_discount_counts_every_earlier_playback_repeats_and_first_included() {
        let (cat, u) = (catalogue(), user());
        let taste = [1.0f32];
        let fresh = raw_listen(2.0, &u); // track 1 scores 2.0
        let mut played = Playback::default();
        played.push(0, &cat); // first track, artist 0
        let once = listen_time(&cat, &u, &taste, &played, 1);
        assert_eq!(once, round2(fresh * 0.8));
        played.push(0, &cat); // a repeat of track 0 still counts for the artist
        played.push(2, &cat); // another artist does not
        let twice = listen_time(&cat, &u, &taste, &played, 1);
        assert_eq!(twice, round2(fresh * 0.8 * 0.8));
    }
}
