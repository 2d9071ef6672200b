//! Recipes: how to make a recommendation file from scratch instead of naming one.
//!
//! ```yaml
//! source:
//!   train: dssm
//!   logs_from:                         # simulated in order, concatenated for training
//!     - {experiment: seminar.yml, episodes: 20000, seed: 1}
//!   top_k: 100
//!   seed: 1
//!   init: "normal:7"                   # optional, xavier by default
//!   retrain: daily                     # optional: retrain between the days of a run
//! ```
//!
//! `train: mf` (per-user lists) and `train: i2i` (per-track lists, `one_per_artist`
//! optional) take the same `logs_from`, `top_k` and `seed`.

use crate::at_least_one;
use anyhow::bail;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainKind {
    /// The two-tower model of `sim train dssm` (per-user lists).
    Dssm,
    /// The matrix factorisation of `sim train mf` (per-user lists).
    Mf,
    /// The next-track lists of `sim train i2i` (per-track lists, for `contextual`).
    I2i,
}

impl TrainKind {
    pub fn name(self) -> &'static str {
        match self {
            TrainKind::Dssm => "dssm",
            TrainKind::Mf => "mf",
            TrainKind::I2i => "i2i",
        }
    }
}

/// A trained recommendation file, made from simulated logs. `dim` and `epochs` (the
/// iterations of `mf`) override the trainer's defaults; `init` is `dssm`'s only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainRecipe {
    pub train: TrainKind,
    pub logs_from: Vec<LogSource>,
    #[serde(default = "default_top_k", deserialize_with = "at_least_one::required")]
    pub top_k: usize,
    #[serde(default)]
    pub seed: u64,
    /// Weight initialisation, as `sim train dssm --init` takes it (`xavier`, `normal:7`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<String>,
    /// Overrides of the trainer's defaults.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "at_least_one::optional"
    )]
    pub dim: Option<usize>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "at_least_one::optional"
    )]
    pub epochs: Option<usize>,
    /// `i2i` only: at most one track per artist in a list.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub one_per_artist: bool,
    /// `i2i` only: a follower counts when listened to at least this much (default 0.8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_time: Option<f32>,
    /// `daily`: in a multi-day run (`sim run --days`), the artifact of day d + 1 is trained
    /// on `logs_from` plus the run's logs of days 1..d (see `daily.rs`). Day 1's artifact
    /// is the recipe's ordinary one, so this key is left out of the artifact key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrain: Option<Retrain>,
}

/// When a recipe's artifact is trained again during a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Retrain {
    Daily,
}

impl TrainRecipe {
    /// Refuses recipe keys the named trainer does not read (they would change the cache key
    /// and nothing else), and a product that does not fit the spec it feeds.
    pub fn check(&self, per_track: bool) -> anyhow::Result<()> {
        let name = self.train.name();
        if self.init.is_some() && self.train != TrainKind::Dssm {
            bail!("recipe `train: {name}`: `init` is an option of `train: dssm` only");
        }
        if self.one_per_artist && self.train != TrainKind::I2i {
            bail!("recipe `train: {name}`: `one_per_artist` is an option of `train: i2i` only");
        }
        if self.min_time.is_some() && self.train != TrainKind::I2i {
            bail!("recipe `train: {name}`: `min_time` is an option of `train: i2i` only");
        }
        if self.dim.is_some() && self.train == TrainKind::I2i {
            bail!("recipe `train: i2i`: `dim` is an option of `train: dssm` and `train: mf`");
        }
        if self.top_k == 0 {
            bail!("recipe `train: {name}`: top_k must be at least 1");
        }
        match (per_track, self.train) {
            (true, TrainKind::I2i) | (false, TrainKind::Dssm | TrainKind::Mf) => Ok(()),
            (true, _) => bail!(
                "`contextual` needs per-track lists: its recipe must be `train: i2i`, not `train: {name}`"
            ),
            (false, _) => bail!(
                "`train: i2i` makes per-track lists, for `contextual`; `indexed` and `history` need `train: dssm` or `train: mf`"
            ),
        }
    }
}

/// Logs of `episodes` episodes of an experiment (path relative to the file naming it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSource {
    pub experiment: PathBuf,
    #[serde(deserialize_with = "at_least_one::required")]
    pub episodes: u64,
    #[serde(default)]
    pub seed: u64,
}

fn default_top_k() -> usize {
    100
}
