//! Loading what a run needs: config, world, experiment (with its artifacts built), live
//! arms, user routing.

use crate::config::Config;
use crate::experiment::Experiment;
use crate::pipeline::{Pipeline, build_arms_with};
use crate::recommend::{Recommender, RecommenderSpec};
use crate::sim::episode::LiveArm;
use crate::world::{World, neighbour_file};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// Everything an experiment run is made of.
pub struct Prepared {
    pub config: Config,
    pub world: Arc<World>,
    pub experiment: Experiment,
    pub arms: Vec<LiveArm>,
}

/// How artifacts are made while preparing.
pub struct ArtifactOptions {
    pub cache_dir: PathBuf,
    pub rebuild: bool,
    pub workers: usize,
    pub stop: Arc<AtomicBool>,
}

/// Loads the world of `config` and says how long it took (on stderr).
pub fn load_world(config: &Config) -> anyhow::Result<World> {
    let clock = Instant::now();
    let world = World::from_config(config).context("cannot load the world")?;
    note_world(&world, "", clock);
    Ok(world)
}

/// Loads the world of `config` through the world cache of `artifacts` (a synthetic world
/// is read from it when cached) and says where it came from and how long it took.
fn load_world_cached(config: &Config, artifacts: &ArtifactOptions) -> anyhow::Result<World> {
    let clock = Instant::now();
    let (world, origin) =
        World::from_config_cached(config, &artifacts.cache_dir, artifacts.rebuild)
            .context("cannot load the world")?;
    let from = match origin {
        Some(neighbour_file::Origin::Read) => ", read from the cache",
        Some(neighbour_file::Origin::Computed) => ", generated and cached",
        None => "",
    };
    note_world(&world, from, clock);
    Ok(world)
}

fn note_world(world: &World, from: &str, clock: Instant) {
    crate::note!(
        "world: {} tracks, {} artists, {} users{from} ({:.2} s)",
        world.catalogue.len(),
        world.catalogue.artist_names.len(),
        world.users.len(),
        clock.elapsed().as_secs_f64()
    );
}

/// An arm that the program running an experiment supplies in place of the file's spec
/// (the Python package's in-process recommenders).
pub struct SuppliedArm {
    /// The experiment's arm it replaces (`C`, `T1`, ...).
    pub name: String,
    /// What it is, for the run's record and summary.
    pub label: String,
    pub recommender: Box<dyn Recommender>,
}

pub fn prepare(
    experiment: &Path,
    config: Option<&Path>,
    artifacts: &ArtifactOptions,
) -> anyhow::Result<Prepared> {
    prepare_with_arms(experiment, config, artifacts, Vec::new())
}

/// [`prepare`], with the `supplied` arms in place of the experiment's specs of the same
/// names (which are then neither built nor trained for).
pub fn prepare_with_arms(
    experiment: &Path,
    config: Option<&Path>,
    artifacts: &ArtifactOptions,
    supplied: Vec<SuppliedArm>,
) -> anyhow::Result<Prepared> {
    let config = Config::load_or_default(config)?;
    let mut experiment = Experiment::load(experiment)?;
    for arm in &supplied {
        let names: Vec<&str> = experiment.arms.iter().map(|a| a.name.as_str()).collect();
        let names = names.join(", ");
        let Some(spec) = experiment.arms.iter_mut().find(|a| a.name == arm.name) else {
            anyhow::bail!(
                "experiment {} has no arm {} to supply (its arms: {names})",
                experiment.name,
                arm.name
            );
        };
        // Its file spec is neither built nor trained for: the record names what ran.
        spec.spec = RecommenderSpec::InProcess {
            label: arm.label.clone(),
        };
    }
    prepare_supplied(experiment, config, artifacts, supplied)
}

/// Loads the world of `config`, builds the artifacts and the arms of `experiment`.
pub fn prepare_experiment(
    experiment: Experiment,
    config: Config,
    artifacts: &ArtifactOptions,
) -> anyhow::Result<Prepared> {
    prepare_supplied(experiment, config, artifacts, Vec::new())
}

/// [`prepare_experiment`], with the `supplied` arms taken as they are.
fn prepare_supplied(
    mut experiment: Experiment,
    config: Config,
    artifacts: &ArtifactOptions,
    supplied: Vec<SuppliedArm>,
) -> anyhow::Result<Prepared> {
    let mut world = load_world_cached(&config, artifacts)?;
    // Experiments simulated to build artifacts share this cache, so an oracle there reads
    // at most as many neighbours as the top-level experiment asked for.
    let needed = experiment.arms.iter().map(|a| a.spec.neighbours_needed());
    world.ensure_neighbours(needed.max().unwrap_or(0));
    neighbour_file::load_or_compute(
        &world,
        &artifacts.cache_dir,
        artifacts.rebuild,
        &artifacts.stop,
    )?;
    let world = Arc::new(world);
    Pipeline::new(
        Arc::clone(&world),
        &config,
        artifacts.cache_dir.clone(),
        artifacts.rebuild,
        artifacts.workers,
        Arc::clone(&artifacts.stop),
    )?
    .resolve(&mut experiment)?;
    let supplied = supplied
        .into_iter()
        .map(|arm| LiveArm {
            name: arm.name,
            recommender: arm.recommender,
        })
        .collect();
    let arms = build_arms_with(&experiment, &world, supplied)?;
    Ok(Prepared {
        config,
        world,
        experiment,
        arms,
    })
}
