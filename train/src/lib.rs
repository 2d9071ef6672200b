//! Training from event logs -> recommendation files: the two-tower model (DSSM, this
//! module), matrix factorisation ([`mf`]) and next-track lists ([`i2i`]).
//!
//! The input is what a real service sees and nothing else: the log's
//! `(user, track, time)` triples ([`Interaction`]) and the catalogue's track ids and
//! artists ([`Catalogue`]). The simulator's embeddings and the users' hidden parameters are
//! never an input (the types have no place for them).
//!
//! # The model (SIMULATOR.md §8)
//!
//! - **Positives**: the distinct `(user, track)` pairs played with `time > 0.8`
//!   ([`DssmParams::positive_threshold`]), in order of first occurrence in the input.
//!   The first track of a session (reported with time 1.0) counts: it was played.
//! - **Item tower**: `x = T[track] + A[artist] + Q[popularity bucket]`, L2-normalised
//!   (`T`: `N x d`, `A`: artists `x d`, `Q`: 16 buckets `x d`); the bucket of a track is
//!   `min(15, floor(log2(1 + plays)))` where plays counts all its events in the input.
//!   `T` and `Q` start at a tenth of `A`'s scale, so a rarely played track starts as its
//!   artist.
//! - **User tower**: `m` = mean of the *item-tower* embeddings `T + A + Q` (shared tables,
//!   before normalisation) of up to 30 ([`DssmParams::max_history`]) of the user's most
//!   recent positives, excluding the target track during training; `a = relu(W m + b)`;
//!   `u = m + P [m ; a]` (`P`: `d x 2d`, a skip connection around the layers),
//!   L2-normalised. Sharing the tables is what lets one user's plays of an artist teach
//!   the model about every user of that artist.
//! - **Score**: `s(u, v) = u . v`, the cosine of the two towers' outputs, so the margin is
//!   scale-free and the exact top-k by inner product is the top-k by the training score.
//! - **Loss**: triplet margin loss `max(0, margin - s(u, pos) + s(u, neg))` averaged over
//!   the `negatives` random negative tracks of each positive, drawn with probability
//!   proportional to `1 + plays` (a negative equal to the positive is redrawn), and over
//!   the batch. Popularity-matched negatives keep the model from learning popularity
//!   alone (uniform negatives are mostly never-played tracks).
//! - **Optimiser**: AdamW (decoupled weight decay). The embedding tables are updated
//!   lazily: only the rows a batch touched (as PyTorch's sparse embeddings with a lazy Adam);
//!   bias correction uses the global step.
//! - **Validation**: a seeded fraction of the positives is held out; its negatives are drawn
//!   once, so the validation loss of successive epochs is comparable. Training stops after
//!   `patience` epochs without improvement and the best epoch's weights are kept.
//! - **Recommendations**: for every user with at least one positive, the `top_k` tracks
//!   with the largest inner product with the user vector (exact search; ties by lower id).
//!   Tracks the user already played are not removed.
//!
//! # Determinism
//!
//! Results depend on the seed only, not on the number of threads: a batch is cut into
//! fixed chunks of 16 examples, each chunk's gradient is computed on any thread, and the
//! chunks are summed in chunk order; all random draws happen on the calling thread.

pub mod data;
mod fit;
pub mod i2i;
pub mod input;
pub mod lists_args;
pub mod mf;
pub mod model;
pub mod optim;
pub mod output;
pub mod synthetic;

pub mod args;

pub use fit::{EpochReport, Progress, TrainSummary};
pub use output::{write_recommendations, write_summary};

use botify_sim_core::log::Event;
use thiserror::Error;

/// One play from a log: `time` is the listen time in `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interaction {
    pub user: u32,
    pub track: u32,
    pub time: f32,
}

/// What training knows of the catalogue: its size and the artist of every track.
///
/// Only ids and artists: never embeddings or the users' hidden parameters.
#[derive(Debug, Clone, Copy)]
pub struct Catalogue<'a> {
    pub n_tracks: usize,
    /// `artist_of[track]` = artist index (any `u32`; indices need not be contiguous but
    /// the table is sized by the largest one).
    pub artist_of: &'a [u32],
}

/// How the weights are initialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InitKind {
    /// Artist embeddings `N(0, 1/d)` (track and popularity rows a tenth of that), dense
    /// layers Glorot-uniform, biases zero.
    #[default]
    Xavier,
    /// Every weight `N(0, 0.1^2)` (track and popularity rows a tenth of that), biases zero.
    Normal,
    /// Embeddings `N(0, 1/d)`; `P` Glorot scaled by 0.1 and `W` Glorot: with the user
    /// tower's skip connection the user vector starts as the plain bag of its history and
    /// the layers are learned from there.
    Identity,
}

impl std::str::FromStr for InitKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "xavier" => Ok(Self::Xavier),
            "normal" => Ok(Self::Normal),
            "identity" => Ok(Self::Identity),
            _ => Err(format!(
                "unknown init scheme `{s}`: expected xavier, normal or identity"
            )),
        }
    }
}

/// Weight initialisation: a scheme and an optional seed of its own (else derived from
/// [`DssmParams::seed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct InitScheme {
    pub kind: InitKind,
    pub seed: Option<u64>,
}

impl std::str::FromStr for InitScheme {
    type Err = String;
    /// `SCHEME` or `SCHEME:SEED`, e.g. `xavier`, `identity:7`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, seed) = match s.split_once(':') {
            Some((k, seed)) => {
                let seed = seed
                    .parse::<u64>()
                    .map_err(|_| format!("init seed `{seed}` is not an unsigned integer"))?;
                (k, Some(seed))
            }
            None => (s, None),
        };
        Ok(Self {
            kind: kind.parse()?,
            seed,
        })
    }
}

/// Hyper-parameters; `Default` gives the course's values (SIMULATOR.md §8).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DssmParams {
    /// Tracks kept per user.
    pub top_k: usize,
    /// Width of both towers' outputs and of every embedding.
    pub dim: usize,
    /// Maximum number of epochs (early stopping may end sooner).
    pub epochs: usize,
    /// Random negatives per positive.
    pub negatives: usize,
    pub margin: f32,
    pub lr: f32,
    /// AdamW's decoupled weight decay (applied to the rows a step updates).
    pub weight_decay: f32,
    pub batch_size: usize,
    /// Epochs without a better validation loss before stopping.
    pub patience: usize,
    /// Fraction of the positives held out for validation (0 disables early stopping).
    pub validation_fraction: f32,
    pub seed: u64,
    pub init: InitScheme,
    /// At most this many positives form a user's history.
    pub max_history: usize,
    /// A play is a positive when `time > positive_threshold`.
    pub positive_threshold: f32,
}

impl Default for DssmParams {
    fn default() -> Self {
        Self {
            top_k: 100,
            dim: 64,
            epochs: 20,
            negatives: 10,
            margin: 0.4,
            lr: 0.01,
            weight_decay: 1e-4,
            batch_size: 256,
            patience: 2,
            validation_fraction: 0.1,
            seed: 0,
            init: InitScheme::default(),
            max_history: 30,
            positive_threshold: 0.8,
        }
    }
}

/// Why training could not run.
#[derive(Debug, Error)]
pub enum TrainError {
    #[error("training stopped")]
    Interrupted(#[from] botify_sim_core::interrupt::Interrupted),
    #[error("the log is empty: no events to train on")]
    EmptyLog,
    #[error(
        "the log has {events} events but no positive (time > {threshold}): nothing to train on"
    )]
    NoPositives { events: usize, threshold: f32 },
    #[error(
        "no user has two distinct positive tracks (a user's history must exclude the target): \
         {positives} positives of {users} users are not enough to train"
    )]
    NoTrainingExamples { positives: usize, users: usize },
    #[error(
        "interaction {index} (user {user}) has track {track}, but the catalogue has {n_tracks} tracks (ids 0..{n_tracks})"
    )]
    TrackOutOfRange {
        index: usize,
        user: u32,
        track: u32,
        n_tracks: usize,
    },
    #[error(
        "interaction {index} (user {user}, track {track}) has listen time {time}: expected a finite number"
    )]
    BadTime {
        index: usize,
        user: u32,
        track: u32,
        time: f32,
    },
    #[error("event {index}: {field} {value} does not fit in 32 bits")]
    IdTooLarge {
        index: usize,
        field: &'static str,
        value: u64,
    },
    #[error("the catalogue has {n_tracks} tracks but {artists} artists in `artist_of`")]
    CatalogueMismatch { n_tracks: usize, artists: usize },
    #[error("invalid parameter: {0}")]
    InvalidParams(String),
    /// Training ran but its result is no model (a non-finite loss, vectors all 0 or not
    /// finite): the message names the parameter to change.
    #[error("{0}")]
    Degenerate(String),
}

/// The log's plays as interactions (both `next` and `last` events carry a played track).
///
/// Fails when a user or track id does not fit in `u32` (naming the event's index).
pub fn interactions_from_events(
    events: impl IntoIterator<Item = Event>,
) -> Result<Vec<Interaction>, TrainError> {
    events
        .into_iter()
        .enumerate()
        .map(|(index, e)| {
            let id = |field, value: u64| {
                u32::try_from(value).map_err(|_| TrainError::IdTooLarge {
                    index,
                    field,
                    value,
                })
            };
            Ok(Interaction {
                user: id("user", e.user)?,
                track: id("track", e.track)?,
                time: e.time as f32,
            })
        })
        .collect()
}

/// A trained two-tower model: user and item vectors, ready for top-k search.
#[derive(Debug, Clone)]
pub struct TrainedDssm {
    dim: usize,
    /// Sorted user ids (users with at least one positive).
    users: Vec<u32>,
    /// `users.len() x dim`, L2-normalised.
    user_vectors: Vec<f32>,
    /// `n_tracks x dim`, L2-normalised.
    item_vectors: Vec<f32>,
    summary: TrainSummary,
}

impl TrainedDssm {
    /// The `top_k` (clamped to the catalogue size) best tracks of every user, best first,
    /// users in increasing id order. Exact search, parallel over users.
    pub fn recommendations(&self, top_k: usize) -> Vec<(u32, Vec<u32>)> {
        let lists =
            botify_sim_core::topk::top_k(&self.user_vectors, &self.item_vectors, self.dim, top_k);
        self.users.iter().copied().zip(lists).collect()
    }

    pub fn summary(&self) -> &TrainSummary {
        &self.summary
    }

    /// Users with a vector, in increasing id order.
    pub fn users(&self) -> &[u32] {
        &self.users
    }

    /// Embedding width.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The user's (normalised) vector, if the user had a positive.
    pub fn user_vector(&self, user: u32) -> Option<&[f32]> {
        let i = self.users.binary_search(&user).ok()?;
        Some(&self.user_vectors[i * self.dim..(i + 1) * self.dim])
    }

    /// The track's (normalised) vector.
    pub fn item_vector(&self, track: u32) -> Option<&[f32]> {
        let t = track as usize;
        self.item_vectors.get(t * self.dim..(t + 1) * self.dim)
    }
}

/// Trains the two-tower model on the interactions and computes every user's vector.
///
/// `progress` is called from the calling thread (steps and epochs); `stop` is checked
/// before every batch.
pub fn train_dssm(
    interactions: &[Interaction],
    catalogue: &Catalogue,
    params: &DssmParams,
    progress: &dyn Fn(Progress),
    stop: &std::sync::atomic::AtomicBool,
) -> Result<TrainedDssm, TrainError> {
    fit::train(interactions, catalogue, params, progress, stop)
}
