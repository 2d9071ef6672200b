//! `sim run`: simulate, log, summarise.

use super::setup::{ArtifactOptions, Prepared, prepare, prepare_experiment};
use crate::cli::RunArgs;
use crate::config::{Config, RemoteAddress};
use crate::experiment::{self, Experiment};
use crate::pipeline::simulate;
use crate::recommend::RecommenderSpec;
use crate::recommend::remote::{Remote, RemoteOptions};
use crate::report::{self, AnalysisOptions};
use crate::sim::runner::{RunOptions, RunOutcome};
use crate::sim::summary::{ArmSummary, summarize};
use anyhow::Context;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Exit code of a run stopped by Ctrl-C (the shell's 128 + SIGINT).
const INTERRUPTED: u8 = 130;

pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let workers = args
        .workers
        .map(|w| w as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let stop = stop_on_ctrl_c();
    let artifacts = ArtifactOptions {
        cache_dir: args.cache_dir.clone(),
        rebuild: args.rebuild,
        workers,
        stop: Arc::clone(&stop),
    };
    let prepared = match &args.remote {
        None => prepare(&args.experiment, args.config.as_deref(), &artifacts)?,
        Some(url) => prepare_remote(url, args, &artifacts)?,
    };
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| report::default_out_dir(&prepared.experiment.name));
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create output directory {}", out_dir.display()))?;
    let options = RunOptions {
        episodes: args.episodes,
        seed: args.seed,
        workers,
    };
    let clock = Instant::now();
    let log_path = out_dir.join("events.jsonl");
    let outcome = simulate(
        &prepared.world,
        &prepared.experiment,
        &prepared.arms,
        &prepared.config,
        &options,
        &log_path,
        &stop,
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "{e:#}\nthe log {} holds every finished episode",
            log_path.display()
        )
    })?;
    let wall = clock.elapsed().as_secs_f64();

    let arm_names: Vec<String> = prepared.arms.iter().map(|a| a.name.clone()).collect();
    let summary = summarize(&arm_names, &outcome.summaries);
    if !args.json {
        print_summary(&prepared, &summary, &outcome, wall);
    }
    let mut record = run_record(args, &prepared, &options, &outcome, &summary, wall)?;
    let run_json = out_dir.join("run.json");
    crate::atomic_file::write(&run_json, &serde_json::to_vec_pretty(&record)?)?;
    crate::note!("log: {}", log_path.display());
    let report = if prepared.arms.len() > 1 {
        report_ab_table(&prepared, &log_path, &out_dir, args)
    } else {
        None
    };
    if args.json {
        record["files"] = json!({
            "log": log_path,
            "run": run_json,
            "report": report,
        });
        crate::out!("{}", serde_json::to_string_pretty(&record)?);
    }
    if outcome.interrupted {
        eprintln!(
            "interrupted: {} of {} episodes finished and logged",
            outcome.summaries.len(),
            args.episodes
        );
        return Ok(ExitCode::from(INTERRUPTED));
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the run's A/B table against the experiment's control (unless `--json`) and
/// writes the report files next to the log: the path of `report.md`, if written. A failure
/// here is reported but does not fail the run: the log is complete and `sim report` can
/// be run on it again.
fn report_ab_table(
    prepared: &Prepared,
    log_path: &Path,
    out_dir: &Path,
    args: &RunArgs,
) -> Option<PathBuf> {
    let options = AnalysisOptions {
        experiment: Some(prepared.experiment.name.clone()),
        control: Some(prepared.experiment.control.clone()),
        ..AnalysisOptions::default()
    };
    let analysis = match report::analyze(&[log_path.to_path_buf()], &options) {
        Ok(analysis) => analysis,
        Err(e) => {
            eprintln!("warning: no A/B table: {e:#}");
            return None;
        }
    };
    if !args.json {
        crate::out!("");
        crate::out!(
            "{}",
            report::render_terminal(&analysis, args.color.for_stdout()).trim_end_matches('\n')
        );
    }
    match report::write_outputs(&analysis, out_dir) {
        Ok(_) => {
            let path = out_dir.join("report.md");
            crate::note!("report: {}", path.display());
            Some(path)
        }
        Err(e) => {
            eprintln!("warning: cannot write the report: {e:#}");
            None
        }
    }
}

/// Name of the one-arm experiment of `sim run --remote`: the log's `experiments` is
/// `{"remote": "C"}`, since the service assigns its own treatments and does not say which.
pub const REMOTE_EXPERIMENT: &str = "remote";

/// `sim run --remote [URL]`: one arm `C`, the service. Without a URL the config's
/// `remote_recommender: {host, port}` is used. The service is probed before the world
/// is loaded, so a service that is down fails the run at once, naming its URL.
fn prepare_remote(
    url: &str,
    args: &RunArgs,
    artifacts: &ArtifactOptions,
) -> anyhow::Result<Prepared> {
    let config = Config::load_or_default(args.config.as_deref())?;
    let url = if url.is_empty() {
        config
            .remote_recommender
            .as_ref()
            .map(RemoteAddress::url)
            .context(
                "--remote without a URL needs `remote_recommender: {host, port}` in the config",
            )?
    } else {
        url.to_string()
    };
    let o = &args.remote_options;
    let spec = RecommenderSpec::Remote {
        url: url.clone(),
        timeout_ms: o.remote_timeout_ms,
        retries: o.remote_retries,
        backoff_ms: o.remote_backoff_ms,
    };
    let remote = Remote::new(RemoteOptions {
        url,
        timeout_ms: o.remote_timeout_ms,
        retries: o.remote_retries,
        backoff_ms: o.remote_backoff_ms,
    })
    .map_err(anyhow::Error::msg)?;
    remote.probe()?;
    let experiment = Experiment::new(
        REMOTE_EXPERIMENT.to_string(),
        None,
        BTreeMap::from([("C".to_string(), spec)]),
        PathBuf::from("."),
    )?;
    prepare_experiment(experiment, config, artifacts)
}

/// Ctrl-C asks the runner to stop after the current block; a second Ctrl-C exits at once.
fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    // Fails only if a handler is already installed, and then that one stays in charge.
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(INTERRUPTED as i32);
        }
    });
    stop
}

fn print_summary(prepared: &Prepared, summary: &[ArmSummary], outcome: &RunOutcome, wall: f64) {
    let steps: u64 = outcome.summaries.iter().map(|e| e.steps as u64).sum();
    crate::out!(
        "experiment {}: {} episodes, {} steps in {:.2} s ({:.0} steps/s)",
        prepared.experiment.name,
        outcome.summaries.len(),
        steps,
        wall,
        steps as f64 / wall.max(1e-9)
    );
    crate::out!(
        "{:<4} {:<32} {:>8} {:>6} {:>18} {:>18}",
        "arm",
        "recommender",
        "episodes",
        "users",
        "reward mean±sem",
        "steps mean±sem"
    );
    for (arm, s) in prepared.experiment.arms.iter().zip(summary) {
        crate::out!(
            "{:<4} {:<32} {:>8} {:>6} {:>18} {:>18}",
            s.arm,
            truncate(&arm.spec.label(), 32),
            s.episodes,
            s.users,
            format!("{:.3} ± {:.3}", s.reward.mean, s.reward.sem),
            format!("{:.2} ± {:.2}", s.steps.mean, s.steps.sem),
        );
    }
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut t: String = text.chars().take(width - 1).collect();
        t.push('…');
        t
    }
}

/// What `run.json` records: enough to repeat the run, and which tool made it (version
/// and commit fixed at build time, not the current folder's).
fn run_record(
    args: &RunArgs,
    prepared: &Prepared,
    options: &RunOptions,
    outcome: &RunOutcome,
    summary: &[ArmSummary],
    wall: f64,
) -> anyhow::Result<serde_json::Value> {
    let experiment_file = args.remote.is_none().then_some(&args.experiment);
    let experiment_hash = match experiment_file {
        Some(path) => Some(content_hash(&experiment::source_text(path)?)?),
        None => None,
    };
    Ok(json!({
        "experiment": prepared.experiment,
        "experiment_file": experiment_file,
        "experiment_hash": experiment_hash,
        "config": prepared.config,
        "seed": options.seed,
        "episodes": options.episodes,
        "completed_episodes": outcome.summaries.len(),
        "interrupted": outcome.interrupted,
        "workers": options.workers,
        "version": env!("CARGO_PKG_VERSION"),
        "commit": env!("BOTIFY_COMMIT"),
        "wall_seconds": wall,
        "arms": summary,
    }))
}

/// murmur3 x64 128 of `text`, in hex: equal files, equal hashes (built-in or copied).
fn content_hash(text: &str) -> anyhow::Result<String> {
    let hash =
        murmur3::murmur3_x64_128(&mut text.as_bytes(), 0).context("cannot hash the experiment")?;
    Ok(format!("{hash:032x}"))
}
