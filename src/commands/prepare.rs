//! `sim prepare`: build an experiment's artifacts and neighbour cache once, so that the
//! shards of a run (`sim run --shard K/N --cache-dir` the same folder) only read them.

use super::setup::{ArtifactOptions, prepare};
use crate::cli::PrepareArgs;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub fn run(args: &PrepareArgs) -> anyhow::Result<ExitCode> {
    let artifacts = ArtifactOptions {
        cache_dir: args.cache_dir.clone(),
        rebuild: args.rebuild,
        workers: args
            .workers
            .map(|w| w as usize)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        stop: Arc::new(AtomicBool::new(false)),
    };
    let prepared = prepare(&args.experiment, args.config.as_deref(), &artifacts)?;
    crate::out!(
        "prepared experiment {} ({} arms) in {}",
        prepared.experiment.name,
        prepared.arms.len(),
        args.cache_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
