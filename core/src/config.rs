//! `config/env.yml`: where the world comes from, the user-model defaults, the remote
//! recommender's address. Every key has a default, so an empty file is a valid config.

use crate::world::synthetic::SyntheticWorldConfig;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The whole of `config/env.yml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub world: WorldSource,
    pub user_defaults: UserDefaults,
    pub simulation: SimulationConfig,
    /// The course's `remote_recommender: {host, port}`; used by `sim run --remote` without a URL.
    pub remote_recommender: Option<RemoteAddress>,
}

/// Where the world comes from: `source: synthetic` (the seeded generator, default) or
/// `source: course` with `dir:` holding `tracks.json`, `tracks.npy` and `users.json`
/// (a relative `dir` is relative to the config file).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorldSource {
    pub source: WorldKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    pub synthetic: SyntheticWorldConfig,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorldKind {
    #[default]
    Synthetic,
    Course,
}

/// Defaults for the optional per-user keys of `users.json` (SIMULATOR.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UserDefaults {
    pub interest_neighbours: usize,
    pub consume_bias: f64,
    pub consume_sharpness: f64,
    pub session_budget: i32,
    pub artist_discount_gamma: f64,
}

impl Default for UserDefaults {
    fn default() -> Self {
        UserDefaults {
            interest_neighbours: 10,
            consume_bias: 5.0,
            consume_sharpness: 1.0,
            session_budget: 5,
            artist_discount_gamma: 0.8,
        }
    }
}

impl UserDefaults {
    /// Refuses values no user can have; `prefix` names where the keys live
    /// (`user_defaults.` in env.yml, `user 7: ` in users.json).
    pub fn validate(&self, prefix: &str) -> Result<(), String> {
        if self.interest_neighbours == 0 {
            return Err(format!(
                "{prefix}interest_neighbours must be at least 1, got 0"
            ));
        }
        if self.session_budget < 1 {
            return Err(format!(
                "{prefix}session_budget must be at least 1, got {}",
                self.session_budget
            ));
        }
        for (key, value) in [
            ("consume_bias", self.consume_bias),
            ("consume_sharpness", self.consume_sharpness),
            ("artist_discount_gamma", self.artist_discount_gamma),
        ] {
            if !value.is_finite() {
                return Err(format!(
                    "{prefix}{key} must be a finite number, got {value}"
                ));
            }
        }
        Ok(())
    }
}

/// Knobs of the runner that are not part of the user model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulationConfig {
    /// A safety cap on recommendations per session. The course model has none; a
    /// recommender whose every answer is listened to in full would never end a session.
    /// Reaching the cap ends the session as if the budget had run out.
    pub max_session_steps: u32,
    /// Virtual clock: the first event of episode `i` is stamped `start_timestamp_ms + i * episode_stride_ms`,
    /// each further event 1 ms later, so logs are byte-identical across runs.
    pub start_timestamp_ms: u64,
    pub episode_stride_ms: u64,
}

impl Default for SimulationConfig {
    fn default() -> Self {
        SimulationConfig {
            max_session_steps: 100_000,
            start_timestamp_ms: 1_700_000_000_000,
            episode_stride_ms: 1_000_000,
        }
    }
}

/// `remote_recommender: {host, port}` as in the course's config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteAddress {
    pub host: String,
    pub port: u16,
}

impl RemoteAddress {
    pub fn url(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }
}

impl Config {
    /// Reads a config file; errors name the file, line and column.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        let mut config: Config = serde_norway::from_str(&text)
            .with_context(|| format!("invalid config {}", path.display()))?;
        if let Some(dir) = &mut config.world.dir
            && dir.is_relative()
        {
            let base = path.parent().unwrap_or(Path::new("."));
            *dir = base.join(&*dir);
        }
        if config.world.source == WorldKind::Course && config.world.dir.is_none() {
            anyhow::bail!(
                "invalid config {}: world.source is course but world.dir (the directory of tracks.json, tracks.npy, users.json) is missing",
                path.display()
            );
        }
        config
            .validate()
            .map_err(|message| anyhow::anyhow!("invalid config {}: {message}", path.display()))?;
        Ok(config)
    }

    /// Refuses impossible values; the message names the key (`section.key`) and the value.
    pub fn validate(&self) -> Result<(), String> {
        self.user_defaults.validate("user_defaults.")?;
        if self.simulation.max_session_steps == 0 {
            return Err("simulation.max_session_steps must be at least 1, got 0".into());
        }
        self.world.synthetic.validate()
    }

    /// `config/env.yml` when it exists, the built-in defaults otherwise.
    pub fn load_or_default(path: Option<&Path>) -> anyhow::Result<Config> {
        match path {
            Some(p) => Config::load(p),
            None => {
                let default = Path::new("config/env.yml");
                if default.exists() {
                    Config::load(default)
                } else {
                    Ok(Config::default())
                }
            }
        }
    }
}
