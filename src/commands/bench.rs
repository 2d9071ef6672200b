//! `sim bench`: logged steps per second for 1 and 2 workers, and start-up time.

use super::setup::{ArtifactOptions, prepare};
use crate::cli::BenchArgs;
use crate::log::writer::LogWriter;
use crate::pipeline::progress_bar;
use crate::sim::episode::{EpisodeSetup, arm_treatments};
use crate::sim::runner::{self, RunEnd, RunOptions};
use crate::sim::summary::RunTotals;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// Runs `episodes` episodes (seed 1) into `log`, without a progress bar: the episodes'
/// totals and the wall time in seconds.
pub fn timed_run(
    setup: &EpisodeSetup,
    episodes: u64,
    workers: usize,
    log: &Path,
    stop: &AtomicBool,
) -> anyhow::Result<(RunTotals, f64)> {
    let writer = LogWriter::create(log)?;
    let options = RunOptions {
        first_episode: 0,
        episodes,
        seed: 1,
        workers,
    };
    let clock = Instant::now();
    let outcome = runner::run(setup, &options, writer, &progress_bar(0), stop)?;
    let seconds = clock.elapsed().as_secs_f64();
    if let RunEnd::Failed(e) = outcome.end {
        return Err(e.into());
    }
    Ok((outcome.totals, seconds))
}

pub fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let clock = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let artifacts = ArtifactOptions {
        cache_dir: args.cache_dir.clone(),
        rebuild: false,
        workers: 2,
        stop: Arc::clone(&stop),
    };
    let prepared = prepare(&args.experiment, args.config.as_deref(), &artifacts)?;
    let startup = clock.elapsed().as_secs_f64();
    println!("start-up (config, world generation, recommenders): {startup:.3} s");
    let dir = tempfile::tempdir()?;
    let user_arm = prepared.experiment.assign_users(prepared.world.users.len());
    let setup = EpisodeSetup {
        world: &prepared.world,
        arms: &prepared.arms,
        treatments: &arm_treatments(&prepared.experiment.name, &prepared.arms),
        user_arm: &user_arm,
        simulation: &prepared.config.simulation,
        seed: 1,
    };
    // A first pass fills the neighbour caches, as a long run would have them.
    let warm = Instant::now();
    timed_run(
        &setup,
        args.episodes,
        2,
        &dir.path().join("warm.jsonl"),
        &stop,
    )?;
    println!(
        "first pass (fills neighbour caches): {:.3} s",
        warm.elapsed().as_secs_f64()
    );
    let mut best = Vec::new();
    for workers in [1usize, 2] {
        let mut rates = Vec::new();
        for _ in 0..args.repeats {
            let path = dir.path().join(format!("bench-{workers}.jsonl"));
            let (totals, seconds) = timed_run(&setup, args.episodes, workers, &path, &stop)?;
            let steps = totals.steps();
            let bytes = std::fs::metadata(&path)?.len();
            rates.push(steps as f64 / seconds);
            println!(
                "workers {workers}: {} episodes, {steps} steps, {:.1} MB log in {seconds:.3} s = {:.0} steps/s",
                args.episodes,
                bytes as f64 / 1e6,
                steps as f64 / seconds
            );
        }
        best.push(rates.iter().cloned().fold(0.0, f64::max));
    }
    println!(
        "best: 1 worker {:.0} steps/s, 2 workers {:.0} steps/s (x{:.2})",
        best[0],
        best[1],
        best[1] / best[0]
    );
    Ok(ExitCode::SUCCESS)
}
