//! `sim bench`: logged steps per second for 1 and 2 workers, and start-up time.

use super::setup::{ArtifactOptions, prepare};
use crate::cli::BenchArgs;
use crate::log::writer::LogWriter;
use crate::pipeline::progress_bar;
use crate::sim::episode::{EpisodeSetup, arm_treatments};
use crate::sim::runner::{self, RunEnd, RunOptions};
use crate::sim::summary::RunTotals;
use serde_json::json;
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
    if !args.json {
        crate::out!("start-up (config, world generation, recommenders): {startup:.3} s");
    }
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
    let first_pass = warm.elapsed().as_secs_f64();
    if !args.json {
        crate::out!("first pass (fills neighbour caches): {first_pass:.3} s");
    }
    let mut best = Vec::new();
    let mut runs = Vec::new();
    for workers in [1usize, 2] {
        let mut rates = Vec::new();
        for _ in 0..args.repeats {
            let path = dir.path().join(format!("bench-{workers}.jsonl"));
            let (totals, seconds) = timed_run(&setup, args.episodes, workers, &path, &stop)?;
            let steps = totals.steps();
            let bytes = std::fs::metadata(&path)?.len();
            rates.push(steps as f64 / seconds);
            if !args.json {
                crate::out!(
                    "workers {workers}: {} episodes, {steps} steps, {:.1} MB log in {seconds:.3} s = {:.0} steps/s",
                    args.episodes,
                    bytes as f64 / 1e6,
                    steps as f64 / seconds
                );
            }
            runs.push(json!({
                "workers": workers,
                "episodes": args.episodes,
                "steps": steps,
                "log_bytes": bytes,
                "seconds": seconds,
                "steps_per_second": steps as f64 / seconds,
            }));
        }
        best.push(rates.iter().cloned().fold(0.0, f64::max));
    }
    if args.json {
        let record = json!({
            "experiment": prepared.experiment.name,
            "startup_seconds": startup,
            "first_pass_seconds": first_pass,
            "runs": runs,
            "best_steps_per_second": {"1": best[0], "2": best[1]},
            "speedup": best[1] / best[0],
        });
        crate::out!("{}", serde_json::to_string_pretty(&record)?);
    } else {
        crate::out!(
            "best: 1 worker {:.0} steps/s, 2 workers {:.0} steps/s (x{:.2})",
            best[0],
            best[1],
            best[1] / best[0]
        );
    }
    Ok(ExitCode::SUCCESS)
}
