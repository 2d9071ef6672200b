//! Worlds for Python, loaded as `sim` loads them (the same config rules, the same world
//! cache) and shared: the environments of one process that name the same config read
//! one world (a vector of N `SessionEnv`s made by Gymnasium does not load it N times).

use botify_sim::config::Config;
use botify_sim::world::{World, neighbour_file};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// The artifact and world cache: `cache_dir`, else `BOTIFY_CACHE_DIR`, else the user's
/// cache folder (`sim`'s `--cache-dir` default).
pub fn cache_dir(cache_dir: Option<PathBuf>) -> PathBuf {
    cache_dir
        .or_else(|| std::env::var_os("BOTIFY_CACHE_DIR").map(PathBuf::from))
        .unwrap_or_else(botify_sim::cli::default_cache_dir)
}

/// The config and world of `config` (`None`: `config/env.yml` in the working folder if
/// it exists, else the built-in defaults, as `sim`).
pub fn load(config: Option<&Path>, cache_dir: &Path) -> anyhow::Result<(Config, Arc<World>)> {
    static LOADED: Mutex<Vec<(String, Weak<World>)>> = Mutex::new(Vec::new());
    let config = Config::load_or_default(config)?;
    // The config as loaded (paths resolved) names the world.
    let key = format!(
        "{}\n{}",
        serde_json::to_string(&config)?,
        cache_dir.display()
    );
    let mut loaded = LOADED.lock().unwrap_or_else(PoisonError::into_inner);
    loaded.retain(|(_, world)| world.strong_count() > 0);
    if let Some(world) = loaded
        .iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, w)| w.upgrade())
    {
        return Ok((config, world));
    }
    let (world, _) = World::from_config_cached(&config, cache_dir, false)?;
    // Every interest's first-track neighbourhood, from the cache `sim run` fills (or
    // computed into it): searched one reset at a time, each took milliseconds.
    neighbour_file::load_or_compute(&world, cache_dir, false, &AtomicBool::new(false))?;
    let world = Arc::new(world);
    loaded.push((key, Arc::downgrade(&world)));
    Ok((config, world))
}
