//! `sim run`: simulate, log, summarise.

use super::run_folder::{RUN_JSON, RunFolder};
use super::setup::{ArtifactOptions, Prepared, prepare, prepare_experiment};
use crate::cli::RunArgs;
use crate::config::{Config, RemoteAddress};
use crate::experiment::{self, Experiment};
use crate::interrupt;
use crate::pipeline::simulate;
use crate::recommend::RecommenderSpec;
use crate::recommend::remote::{Remote, RemoteOptions};
use crate::report::{self, AnalysisOptions};
use crate::sim::runner::{RunEnd, RunOptions, RunOutcome};
use crate::sim::summary::{ArmSummary, RunTotals, summarize};
use anyhow::Context;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// The run's event log, in its output folder.
const EVENTS: &str = "events.jsonl";

pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let workers = args
        .workers
        .map(|w| w as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let shard = args
        .shard
        .map(|choice| choice.resolve(args.shards))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let stop = interrupt::stop_on_ctrl_c();
    let artifacts = ArtifactOptions {
        cache_dir: args.cache_dir.clone(),
        rebuild: args.rebuild,
        workers,
        stop: std::sync::Arc::clone(&stop),
    };
    let prepared = match &args.remote {
        None => prepare(&args.experiment, args.config.as_deref(), &artifacts)?,
        Some(url) => prepare_remote(url, args, &artifacts)?,
    };
    let out_dir = args.out.clone().unwrap_or_else(|| {
        let dir = report::default_out_dir(&prepared.experiment.name);
        match shard {
            Some(s) => dir.join(format!("shard-{}-of-{}", s.index, s.count)),
            None => dir,
        }
    });
    let folder = RunFolder::begin(&out_dir)?;
    let options = RunOptions {
        episodes: args.episodes,
        seed: args.seed,
        workers,
        shard,
    };
    let clock = Instant::now();
    let outcome = simulate(
        &prepared.world,
        &prepared.experiment,
        &prepared.arms,
        &prepared.config,
        &options,
        &folder.staged(EVENTS),
        &stop,
    )?;
    let wall = clock.elapsed().as_secs_f64();

    let arm_names: Vec<String> = prepared.arms.iter().map(|a| a.name.clone()).collect();
    let summary = summarize(&arm_names, &outcome.totals);
    if !args.json {
        print_summary(&prepared, &summary, &outcome.totals, wall);
    }
    let failed = matches!(outcome.end, RunEnd::Failed(_));
    let reported = !failed && prepared.arms.len() > 1 && outcome.totals.episodes() > 0 && {
        let experiment = &prepared.experiment;
        report_ab_table(
            &experiment.name,
            &experiment.control,
            &folder.staged(EVENTS),
            &out_dir.join(EVENTS),
            &folder.staged(""),
            (!args.json).then(|| args.color.for_stdout()),
        )
    };
    let episodes = outcome.totals.episodes();
    let written = write_run_json(&folder, args, &prepared, &options, &outcome, &summary, wall);
    let mut record = match written {
        Ok(record) => record,
        Err(e) => {
            // Without its record the new log does not replace the previous run.
            let kept = folder.keep();
            anyhow::bail!(
                "{e:#}; the new run is left in {} (its {EVENTS} holds {episodes} whole episodes); the previous run in {} is untouched",
                kept.display(),
                out_dir.display()
            );
        }
    };
    folder.commit()?;
    let log_path = out_dir.join(EVENTS);
    let report_path = reported.then(|| out_dir.join("report.md"));
    crate::note!("log: {}", log_path.display());
    if let Some(path) = &report_path {
        crate::note!("report: {}", path.display());
    }
    if args.json {
        record["files"] = json!({
            "log": log_path,
            "run": out_dir.join(RUN_JSON),
            "report": report_path,
        });
        crate::out!("{}", serde_json::to_string_pretty(&record)?);
    }
    if let Some(shard) = shard {
        crate::note!("shard {shard}: merge every shard's folder with `sim merge DIR... --out DIR`");
    }
    match outcome.end {
        RunEnd::Finished => Ok(ExitCode::SUCCESS),
        RunEnd::Interrupted => {
            crate::note!(
                "interrupted: {episodes} of {} episodes finished and logged",
                args.episodes
            );
            Ok(ExitCode::from(interrupt::EXIT_CODE))
        }
        RunEnd::Failed(e) => Err(anyhow::anyhow!(
            "{}: {e}; {} records them",
            log_path.display(),
            out_dir.join(RUN_JSON).display()
        )),
    }
}

/// Prints the run's A/B table against the experiment's control (coloured if `color` says
/// so; not at all without it, as under `--json`) and writes the report files next to the
/// log; says whether they were written. A failure here is reported but does not fail the
/// run: the log is complete and `sim report` can be run on it again.
///
/// `log` is the file read; `shown_log` is where it will be once the run is in place
/// (the path the report names).
pub fn report_ab_table(
    experiment: &str,
    control: &str,
    log: &Path,
    shown_log: &Path,
    out_dir: &Path,
    color: Option<bool>,
) -> bool {
    let options = AnalysisOptions {
        experiment: Some(experiment.to_string()),
        control: Some(control.to_string()),
        ..AnalysisOptions::default()
    };
    let mut analysis = match report::analyze(&[log.to_path_buf()], &options) {
        Ok(analysis) => analysis,
        Err(e) => {
            crate::note!("warning: no A/B table: {e:#}");
            return false;
        }
    };
    for file in &mut analysis.log.files {
        if file.path == log {
            file.path = shown_log.to_path_buf();
        }
    }
    if let Some(color) = color {
        crate::out!("");
        crate::out!(
            "{}",
            report::render_terminal(&analysis, color).trim_end_matches('\n')
        );
    }
    match report::write_outputs(&analysis, out_dir) {
        Ok(_) => true,
        Err(e) => {
            crate::note!("warning: cannot write the report: {e:#}");
            false
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
    let prepared = prepare_experiment(experiment, config, artifacts)?;
    if !o.no_catalogue_check {
        remote.check_catalogue(&prepared.world.catalogue, args.seed)?;
    }
    Ok(prepared)
}

fn print_summary(prepared: &Prepared, summary: &[ArmSummary], totals: &RunTotals, wall: f64) {
    let steps = totals.steps();
    crate::out!(
        "experiment {}: {} episodes, {} steps in {:.2} s ({:.0} steps/s)",
        prepared.experiment.name,
        totals.episodes(),
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
    crate::out!(
        "reward: per episode, without the first track's 1.0 \
         (the report's mean_time_per_session includes it, per user)"
    );
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

/// Writes `run.json` into the staged run and returns it: what ran (with the experiment
/// file's hash), how it ended, which tool made it (version and commit fixed at build
/// time, not the current folder's), and the files the run wrote (so the next run into the
/// folder can remove those it does not write again).
fn write_run_json(
    folder: &RunFolder,
    args: &RunArgs,
    prepared: &Prepared,
    options: &RunOptions,
    outcome: &RunOutcome,
    summary: &[ArmSummary],
    wall: f64,
) -> anyhow::Result<serde_json::Value> {
    let mut outputs = folder.staged_names()?;
    outputs.insert(RUN_JSON.to_string());
    let error = match &outcome.end {
        RunEnd::Failed(e) => Some(e.to_string()),
        _ => None,
    };
    let experiment_file = args.remote.is_none().then_some(&args.experiment);
    let experiment_hash = match experiment_file {
        Some(path) => Some(content_hash(&experiment::source_text(path)?)?),
        None => None,
    };
    let record = json!({
        "experiment": prepared.experiment,
        "experiment_file": experiment_file,
        "experiment_hash": experiment_hash,
        "config": prepared.config,
        "seed": options.seed,
        "episodes": options.episodes,
        "completed_episodes": outcome.totals.episodes(),
        "interrupted": matches!(outcome.end, RunEnd::Interrupted),
        "error": error,
        "workers": options.workers,
        "shard": options.shard,
        "version": env!("CARGO_PKG_VERSION"),
        "commit": env!("BOTIFY_COMMIT"),
        "wall_seconds": wall,
        "arms": summary,
        "outputs": outputs,
    });
    crate::atomic_file::write(
        &folder.staged(RUN_JSON),
        &serde_json::to_vec_pretty(&record)?,
    )?;
    Ok(record)
}

/// murmur3 x64 128 of `text`, in hex: equal files, equal hashes (built-in or copied).
fn content_hash(text: &str) -> anyhow::Result<String> {
    let hash =
        murmur3::murmur3_x64_128(&mut text.as_bytes(), 0).context("cannot hash the experiment")?;
    Ok(format!("{hash:032x}"))
}
