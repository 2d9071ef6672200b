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

use crate::at_least_one;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainKind {
    /// The two-tower model of `sim train dssm`.
    Dssm,
}

/// A trained per-user list, made from simulated logs.
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
