//! `sim world export` and `sim world info`.

use super::setup::load_world;
use crate::config::Config;
use crate::world::course_format;
use anyhow::Context;
use std::path::Path;
use std::process::ExitCode;

pub fn export(dir: &Path, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = Config::load_or_default(config)?;
    let world = load_world(&config)?;
    course_format::export(&world, dir)
        .with_context(|| format!("cannot export the world to {}", dir.display()))?;
    crate::console::print(&format!(
        "wrote tracks.json, tracks.npy, users.json, top_tracks.json to {}\n",
        dir.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

pub fn info(config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = Config::load_or_default(config)?;
    let world = load_world(&config)?;
    let cat = &world.catalogue;
    let mut sizes: Vec<usize> = cat.tracks_by_artist.iter().map(Vec::len).collect();
    sizes.sort_unstable();
    crate::console::print(&format!(
        "tracks {}  artists {}  users {}  dim {}\n",
        cat.len(),
        sizes.len(),
        world.users.len(),
        cat.dim
    ))?;
    crate::console::print(&format!(
        "tracks per artist: median {}  largest {}\n",
        sizes.get(sizes.len() / 2).copied().unwrap_or(0),
        sizes.last().copied().unwrap_or(0)
    ))?;
    Ok(ExitCode::SUCCESS)
}
