//! From interactions to training data: positives, user histories, popularity buckets and
//! the train/validation split.

use super::{Catalogue, DssmParams, Interaction, TrainError};
use chacha20::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// Number of popularity buckets: `min(N_POP_BUCKETS - 1, floor(log2(1 + plays)))`.
pub const N_POP_BUCKETS: usize = 16;

/// What the item tower reads of a track.
#[derive(Debug, Clone)]
pub struct ItemFeatures {
    /// Artist index per track.
    pub artist_of: Vec<u32>,
    /// Popularity bucket per track.
    pub pop_bucket: Vec<u32>,
    pub n_artists: usize,
}

impl ItemFeatures {
    pub fn n_tracks(&self) -> usize {
        self.artist_of.len()
    }
}

/// Per-user positives in compressed rows: user `i` (dense index) has the distinct tracks
/// `tracks[offsets[i]..offsets[i + 1]]`, oldest first.
#[derive(Debug, Clone)]
pub struct Positives {
    /// Original user id per dense index, increasing.
    pub users: Vec<u32>,
    pub offsets: Vec<usize>,
    pub tracks: Vec<u32>,
}

impl Positives {
    pub fn n_users(&self) -> usize {
        self.users.len()
    }

    pub fn of(&self, user: usize) -> &[u32] {
        &self.tracks[self.offsets[user]..self.offsets[user + 1]]
    }

    /// The user's history for a target: up to `max` most recent positives other than
    /// `target` (all of them when `target` is `None`), written into `out`.
    pub fn history_into(&self, user: usize, target: Option<u32>, max: usize, out: &mut Vec<u32>) {
        out.clear();
        for &t in self.of(user).iter().rev() {
            if out.len() == max {
                break;
            }
            if Some(t) != target {
                out.push(t);
            }
        }
    }
}

/// One training example: a user's positive track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Example {
    pub user: u32,
    pub track: u32,
}

/// Everything training needs, built from the interactions.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub items: ItemFeatures,
    /// Negative sampling: `negative_cdf[t]` = sum over tracks `0..=t` of `1 + plays`.
    pub negative_cdf: Vec<u64>,
    pub positives: Positives,
    pub train: Vec<Example>,
    pub validation: Vec<Example>,
    pub n_interactions: usize,
    pub n_positive_events: usize,
}

/// Validates the inputs and builds the dataset (deterministic for `params.seed`).
pub fn build(
    interactions: &[Interaction],
    catalogue: &Catalogue,
    params: &DssmParams,
) -> Result<Dataset, TrainError> {
    if interactions.is_empty() {
        return Err(TrainError::EmptyLog);
    }
    let n_tracks = catalogue.n_tracks;
    if catalogue.artist_of.len() != n_tracks {
        return Err(TrainError::CatalogueMismatch {
            n_tracks,
            artists: catalogue.artist_of.len(),
        });
    }
    if n_tracks < 2 {
        return Err(TrainError::InvalidParams(format!(
            "the catalogue has {n_tracks} track(s): at least 2 are needed to draw negatives"
        )));
    }

    let mut plays = vec![0u64; n_tracks];
    // (user, track, index of first occurrence) for every positive event.
    let mut positive_events: Vec<(u32, u32, u32)> = Vec::new();
    for (index, it) in interactions.iter().enumerate() {
        if it.track as usize >= n_tracks {
            return Err(TrainError::TrackOutOfRange {
                index,
                user: it.user,
                track: it.track,
                n_tracks,
            });
        }
        if !it.time.is_finite() {
            return Err(TrainError::BadTime {
                index,
                user: it.user,
                track: it.track,
                time: it.time,
            });
        }
        plays[it.track as usize] += 1;
        if it.time > params.positive_threshold {
            positive_events.push((it.user, it.track, index as u32));
        }
    }
    let n_positive_events = positive_events.len();
    if positive_events.is_empty() {
        return Err(TrainError::NoPositives {
            events: interactions.len(),
            threshold: params.positive_threshold,
        });
    }

    // Distinct (user, track), keeping the first occurrence, then in order of occurrence.
    positive_events.sort_unstable();
    positive_events.dedup_by_key(|&mut (u, t, _)| (u, t));
    positive_events.sort_unstable_by_key(|&(u, _, i)| (u, i));

    let mut users = Vec::new();
    let mut offsets = vec![0];
    let mut tracks = Vec::with_capacity(positive_events.len());
    for &(u, t, _) in &positive_events {
        if users.last() != Some(&u) {
            if !users.is_empty() {
                offsets.push(tracks.len());
            }
            users.push(u);
        }
        tracks.push(t);
    }
    offsets.push(tracks.len());
    let positives = Positives {
        users,
        offsets,
        tracks,
    };

    // Examples: positives of users with at least one other positive (a non-empty history).
    let mut examples: Vec<Example> = Vec::new();
    for user in 0..positives.n_users() {
        let own = positives.of(user);
        if own.len() >= 2 {
            examples.extend(own.iter().map(|&track| Example {
                user: user as u32,
                track,
            }));
        }
    }
    if examples.is_empty() {
        return Err(TrainError::NoTrainingExamples {
            positives: positives.tracks.len(),
            users: positives.n_users(),
        });
    }

    let mut rng = ChaCha8Rng::seed_from_u64(params.seed ^ 0x5EED_5B11_7000_0001);
    shuffle(&mut examples, &mut rng);
    let n_val = ((examples.len() as f64) * f64::from(params.validation_fraction)).floor() as usize;
    let n_val = n_val.min(examples.len() - 1);
    let train = examples.split_off(n_val);
    let validation = examples;

    let pop_bucket = plays
        .iter()
        .map(|&p| ((p + 1).ilog2() as usize).min(N_POP_BUCKETS - 1) as u32)
        .collect();
    let n_artists = catalogue
        .artist_of
        .iter()
        .map(|&a| a as usize + 1)
        .max()
        .unwrap_or(1);

    let negative_cdf = plays
        .iter()
        .scan(0u64, |acc, &p| {
            *acc += p + 1;
            Some(*acc)
        })
        .collect();

    Ok(Dataset {
        negative_cdf,
        items: ItemFeatures {
            artist_of: catalogue.artist_of.to_vec(),
            pop_bucket,
            n_artists,
        },
        positives,
        train,
        validation,
        n_interactions: interactions.len(),
        n_positive_events,
    })
}

/// Fisher-Yates with our own draws (stable across rand versions' shuffle algorithms).
pub(crate) fn shuffle<T>(items: &mut [T], rng: &mut ChaCha8Rng) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

/// `k` random tracks different from `positive` (the catalogue has >= 2 tracks), each
/// drawn with probability proportional to `1 + plays` (`cdf` as
/// [`Dataset::negative_cdf`]).
///
/// Why not uniform: positives are mostly played tracks, uniform negatives mostly
/// never-played ones, so "was played a lot" alone separates them and the model learned
/// popularity (its top-100 averaged 207 plays per track on the seminar logs, near
/// top-pop's). Negatives as popular as the positives leave the user's own taste (artists,
/// co-played tracks) as what separates them; the `+ 1` keeps unplayed tracks as negatives.
pub(crate) fn draw_negatives(
    positive: u32,
    k: usize,
    cdf: &[u64],
    rng: &mut ChaCha8Rng,
    out: &mut Vec<u32>,
) {
    let total = *cdf.last().expect("a non-empty catalogue");
    for _ in 0..k {
        loop {
            let x = rng.random_range(0..total);
            let t = cdf.partition_point(|&c| c <= x) as u32;
            if t != positive {
                out.push(t);
                break;
            }
        }
    }
}
