//! `sim bench`: logged steps per second for 1 and 2 workers, and start-up time; with
//! `--end-to-end`, whole `sim run` processes with a cold and a warm cache.

use super::setup::{ArtifactOptions, prepare};
use crate::cli::BenchArgs;
use crate::log::writer::LogWriter;
use crate::pipeline::progress_bar;
use crate::sim::episode::{EpisodeSetup, arm_treatments};
use crate::sim::runner::{self, RunEnd, RunOptions};
use crate::sim::summary::RunTotals;
use crate::topk::InnerProductIndex;
use crate::world::{World, neighbour_file};
use anyhow::{Context, bail};
use serde_json::json;
use std::path::Path;
use std::process::{ExitCode, Stdio};
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
        shard: None,
        paired: false,
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
    if args.end_to_end {
        return end_to_end(args);
    }
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
        neighbour_search_rate(&prepared.world);
    }
    let dir = tempfile::tempdir()?;
    let user_arm = prepared.experiment.assign_users(prepared.world.users.len());
    let setup = EpisodeSetup {
        world: &prepared.world,
        arms: &prepared.arms,
        treatments: &arm_treatments(&prepared.experiment.name, &prepared.arms),
        user_arm: &user_arm,
        simulation: &prepared.config.simulation,
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

/// Times the exact neighbour search of every interest track (what a cold cache costs),
/// in GFLOP/s of the scores' product.
fn neighbour_search_rate(world: &World) {
    let cat = &world.catalogue;
    let tracks = neighbour_file::interest_tracks(world);
    let queries: Vec<f32> = tracks
        .iter()
        .flat_map(|&t| cat.embedding(t).iter().copied())
        .collect();
    let k = world.neighbours.k();
    let clock = Instant::now();
    let found = InnerProductIndex::new(&cat.embeddings, cat.dim).top_k(&queries, k);
    let seconds = clock.elapsed().as_secs_f64();
    let gflop = 2.0 * (found.len() * cat.len() * cat.dim) as f64 / 1e9;
    crate::out!(
        "exact neighbour search: {} interests x {} tracks x {} dims = {gflop:.1} GFLOP in {seconds:.2} s = {:.1} GFLOP/s (top {k})",
        found.len(),
        cat.len(),
        cat.dim,
        gflop / seconds
    );
}

/// Runs this binary with `args` to its exit: the wall time in seconds.
fn timed_process(args: &[&std::ffi::OsStr]) -> anyhow::Result<f64> {
    let exe = std::env::current_exe().context("cannot find the sim binary")?;
    let clock = Instant::now();
    let out = std::process::Command::new(&exe)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start {}", exe.display()))?;
    let seconds = clock.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "{} failed ({}): {}",
            exe.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(seconds)
}

/// A run's step times, as its `run.json` records them.
struct StepSeconds {
    simulation: f64,
    report: f64,
}

fn read_step_seconds(out: &Path) -> anyhow::Result<StepSeconds> {
    let path = out.join("run.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let record: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let field = |key: &str| {
        record[key]
            .as_f64()
            .with_context(|| format!("{}: no `{key}`", path.display()))
    };
    Ok(StepSeconds {
        simulation: field("wall_seconds")?,
        report: field("report_seconds")?,
    })
}

/// Recommendations in a log: its `"message":"next"` lines.
fn count_steps(log: &Path) -> anyhow::Result<u64> {
    let bytes = std::fs::read(log).with_context(|| format!("cannot read {}", log.display()))?;
    Ok(memchr::memmem::find_iter(&bytes, b"{\"message\":\"next\"").count() as u64)
}

/// `sim bench --end-to-end`: whole `sim run` processes, as a user waits for them, first
/// with an empty cache folder (neighbour sets and artifacts computed), then with the
/// cache it left; then the steps of the best warm run, from its `run.json`.
fn end_to_end(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let cache = dir.path().join("cache");
    let episodes = args.episodes.to_string();
    let mut warm = Vec::new();
    let mut runs = Vec::new();
    for (label, repeats) in [("cold", 1), ("warm", args.repeats)] {
        for _ in 0..repeats {
            let out = dir.path().join(label);
            let mut run: Vec<&std::ffi::OsStr> = vec![
                "run".as_ref(),
                "--experiment".as_ref(),
                args.experiment.as_os_str(),
                "--episodes".as_ref(),
                episodes.as_ref(),
                "--out".as_ref(),
                out.as_os_str(),
                "--cache-dir".as_ref(),
                cache.as_os_str(),
            ];
            if let Some(config) = &args.config {
                run.extend(["--config".as_ref(), config.as_os_str()]);
            }
            let seconds = timed_process(&run)?;
            let steps = count_steps(&out.join("events.jsonl"))?;
            let parts = read_step_seconds(&out)?;
            if !args.json {
                crate::out!(
                    "{label} cache: sim run {episodes} episodes, {steps} steps in {seconds:.2} s end to end = {:.0} steps/s",
                    steps as f64 / seconds
                );
            }
            runs.push(json!({
                "cache": label,
                "episodes": args.episodes,
                "steps": steps,
                "seconds": seconds,
                "steps_per_second": steps as f64 / seconds,
                "simulation_seconds": parts.simulation,
                "report_seconds": parts.report,
            }));
            if label == "warm" {
                warm.push((seconds, parts));
            }
        }
    }
    if args.json {
        let record = json!({"experiment": args.experiment, "end_to_end": runs});
        crate::out!("{}", serde_json::to_string_pretty(&record)?);
        return Ok(ExitCode::SUCCESS);
    }
    let Some((best, steps)) = warm.into_iter().min_by(|a, b| a.0.total_cmp(&b.0)) else {
        return Ok(ExitCode::SUCCESS);
    };
    let share = |part: f64| 100.0 * part / best;
    let start = best - steps.simulation - steps.report;
    crate::out!(
        "best warm run {best:.2} s: start (world, neighbours, artifacts) {start:.2} s = {:.0} %, simulation {:.2} s = {:.0} %, report step (A/B table, report files, charts) {:.2} s = {:.0} %",
        share(start),
        steps.simulation,
        share(steps.simulation),
        steps.report,
        share(steps.report)
    );
    Ok(ExitCode::SUCCESS)
}
