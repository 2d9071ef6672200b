//! Loading what a run needs: config, world, experiment, live arms, user routing.

use crate::config::Config;
use crate::experiment::Experiment;
use crate::recommend::spec::BuildContext;
use crate::sim::episode::LiveArm;
use crate::world::World;
use anyhow::Context;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Everything an experiment run is made of.
pub struct Prepared {
    pub config: Config,
    pub world: Arc<World>,
    pub experiment: Experiment,
    pub arms: Vec<LiveArm>,
    pub user_arm: Vec<u8>,
}

/// Loads the world of `config` and says how long it took (on stderr).
pub fn load_world(config: &Config) -> anyhow::Result<World> {
    let clock = Instant::now();
    let world = World::from_config(config).context("cannot load the world")?;
    eprintln!(
        "world: {} tracks, {} artists, {} users ({:.2} s)",
        world.catalogue.len(),
        world.catalogue.artist_names.len(),
        world.users.len(),
        clock.elapsed().as_secs_f64()
    );
    Ok(world)
}

pub fn prepare(experiment: &Path, config: Option<&Path>) -> anyhow::Result<Prepared> {
    let config = Config::load_or_default(config)?;
    let experiment = Experiment::load(experiment)?;
    prepare_experiment(experiment, config)
}

/// Loads the world of `config` and builds the arms of `experiment`.
pub fn prepare_experiment(experiment: Experiment, config: Config) -> anyhow::Result<Prepared> {
    let mut world = load_world(&config)?;
    let needed = experiment.arms.iter().map(|a| a.spec.neighbours_needed());
    world.ensure_neighbours(needed.max().unwrap_or(0));
    let world = Arc::new(world);
    let ctx = BuildContext {
        world: Arc::clone(&world),
        base_dir: experiment.base_dir.clone(),
    };
    let arms = experiment
        .arms
        .iter()
        .map(|arm| {
            Ok(LiveArm {
                name: arm.name.clone(),
                recommender: arm
                    .spec
                    .build(&ctx)
                    .with_context(|| format!("experiment {}, arm {}", experiment.name, arm.name))?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let user_arm = experiment.assign_users(world.users.len());
    Ok(Prepared {
        config,
        world,
        experiment,
        arms,
        user_arm,
    })
}
