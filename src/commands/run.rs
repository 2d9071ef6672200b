//! `sim run`: simulate, log, summarise.

use super::days::{DaysEnd, DaysOutcome, run_days};
use super::pre_period::{PrePeriod, run_pre_period};
use super::run_folder::{RUN_JSON, RunFolder};
use super::setup::{ArtifactOptions, Prepared, SuppliedArm, prepare_experiment, prepare_with_arms};
use crate::cli::RunArgs;
use crate::config::{Config, RemoteAddress};
use crate::experiment::{self, Experiment};
use crate::interrupt;
use crate::recommend::RecommenderSpec;
use crate::recommend::remote::{Remote, RemoteOptions};
use crate::report::{self, AnalysisOptions, WrittenLog};
use crate::sim::days::Days;
use crate::sim::runner::RunOptions;
use crate::sim::summary::{ArmSummary, RunTotals, summarize};
use anyhow::Context;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let stop = interrupt::stop_on_ctrl_c();
    let ran = execute(args, Vec::new(), &stop, !args.json)?;
    if args.json {
        crate::out!("{}", serde_json::to_string_pretty(&ran.record)?);
    }
    match ran.failure {
        Some(e) => Err(e),
        None => Ok(ran.exit),
    }
}

/// What a run did: its record (`run.json`, with the files written under `files`) and
/// how it ended.
pub struct Ran {
    pub record: serde_json::Value,
    pub exit: ExitCode,
    /// Why the run failed, after its finished episodes were logged and recorded.
    pub failure: Option<anyhow::Error>,
}

/// Runs `args` with the `supplied` arms in place of the experiment's specs of the same
/// names; Ctrl-C is `stop` (set by whoever watches for it). `tables`: print the summary
/// and the A/B table, as `sim run` does on a terminal.
pub fn execute(
    args: &RunArgs,
    supplied: Vec<SuppliedArm>,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
    tables: bool,
) -> anyhow::Result<Ran> {
    if args.days == Days::Ask && !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "--days ask asks after each day whether to start a new one, but standard input is not a terminal; give a number of days instead (e.g. --days 3)"
        );
    }
    let workers = args
        .workers
        .map(|w| w as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let shard = args
        .shard
        .map(|choice| choice.resolve(args.shards))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    if shard.is_some() && args.days != Days::Count(1) {
        // `sim merge` joins one events.jsonl per shard folder.
        anyhow::bail!(
            "--shard runs one day: `sim merge` joins one log per shard; run --days {} without --shard",
            args.days
        );
    }
    if let Some(out) = &args.out {
        refuse_outputs_over_inputs(args, out)?;
    }
    if shard.is_some() && (args.paired || args.pre_days > 0) {
        anyhow::bail!(
            "--shard runs unpaired and without a pre-period: `sim merge` joins only the shards' events.jsonl"
        );
    }
    let artifacts = ArtifactOptions {
        cache_dir: args.cache_dir.clone(),
        rebuild: args.rebuild,
        workers,
        stop: std::sync::Arc::clone(stop),
    };
    if !supplied.is_empty() && (args.console || args.remote.is_some()) {
        anyhow::bail!("arms are supplied to an experiment, not to --console or --remote");
    }
    // The experiment's plan and pairing are checked before anything is built or
    // simulated: an error names the key and the value, or the arm that cannot be paired.
    let paired = match (&args.remote, args.console) {
        (None, false) => {
            let experiment = Experiment::load(&args.experiment)?;
            report::Criteria::from_plan(&experiment.plan)
                .with_context(|| format!("invalid experiment {}", args.experiment.display()))?;
            let paired = args.paired || experiment.plan.paired;
            if paired {
                check_pairable(&experiment, args)?;
            }
            paired
        }
        _ => false,
    };
    let prepared = match &args.remote {
        None if args.console => prepare_console(args, &artifacts)?,
        None => prepare_with_arms(
            &args.experiment,
            args.config.as_deref(),
            &artifacts,
            supplied,
        )?,
        Some(url) => prepare_remote(url, args, &artifacts)?,
    };
    // A person answers one session at a time.
    let console = prepared
        .experiment
        .arms
        .iter()
        .any(|a| a.spec.uses_console());
    let workers = if console { 1 } else { workers };
    let out_dir = args.out.clone().unwrap_or_else(|| {
        let dir = report::default_out_dir(&prepared.experiment.name);
        match shard {
            Some(s) => dir.join(format!("shard-{}-of-{}", s.index, s.count)),
            None => dir,
        }
    });
    let folder = RunFolder::begin(&out_dir)?;
    let options = RunOptions {
        first_episode: 0,
        episodes: args.episodes,
        seed: args.seed,
        workers,
        shard,
        paired,
    };
    let clock = Instant::now();
    let pre_period = match args.pre_days {
        0 => None,
        days => Some(run_pre_period(&prepared, days, &options, &folder, stop)?),
    };
    let outcome = run_days(&prepared, args, &artifacts, &options, &folder, stop);
    let wall = clock.elapsed().as_secs_f64();
    // A paired run's totals count sessions, one per arm of each episode.
    let sessions_per_episode = sessions_per_episode(&options, &prepared);

    let arm_names: Vec<String> = prepared.arms.iter().map(|a| a.name.clone()).collect();
    let summary = summarize(&arm_names, &outcome.totals);
    if tables {
        print_summary(&prepared, &summary, &outcome, wall, sessions_per_episode);
    }
    let failed = matches!(outcome.end, DaysEnd::Failed(_));
    let episodes = outcome.totals.episodes() / sessions_per_episode;
    let logs: Vec<PathBuf> = outcome.days.iter().map(|d| folder.staged(&d.log)).collect();
    let report_clock = Instant::now();
    let report_options = AnalysisOptions {
        experiment: Some(prepared.experiment.name.clone()),
        control: Some(prepared.experiment.control.clone()),
        plan: Some(prepared.experiment.plan.clone()),
        covariate: pre_period.iter().map(|p| folder.staged(&p.log)).collect(),
        sequential: outcome.days.len() > 1,
        stopped_early: stopped_early(&outcome, episodes, args),
        ..AnalysisOptions::default()
    };
    let reported = !failed
        && prepared.arms.len() > 1
        && episodes > 0
        && report_ab_table_with(
            &report_options,
            &logs,
            // A paired log's pairs are read back from it.
            (!paired).then_some((arm_names.as_slice(), &outcome.totals)),
            &folder.staged(""),
            &out_dir,
            tables.then(crate::terminal::color_for_stdout),
        );
    if reported && outcome.days.len() > 1 {
        report_by_day(&report_options, &folder, &logs);
    }
    let seconds = Seconds {
        simulation: wall,
        report: report_clock.elapsed().as_secs_f64(),
    };
    let written = write_run_json(
        &folder,
        args,
        &prepared,
        &options,
        &Done {
            outcome: &outcome,
            summary: &summary,
            seconds,
            pre_period: pre_period.as_ref(),
        },
    );
    let mut record = match written {
        Ok(record) => record,
        Err(e) => {
            // Without its record the new logs do not replace the previous run.
            let kept = folder.keep();
            anyhow::bail!(
                "{}; the new run is left in {} (its logs hold {episodes} whole episodes); the previous run in {} is untouched",
                crate::terminal::one_line(&e),
                kept.display(),
                out_dir.display()
            );
        }
    };
    folder.commit()?;
    let log_paths: Vec<PathBuf> = outcome.days.iter().map(|d| out_dir.join(&d.log)).collect();
    for log in &log_paths {
        crate::note!("log: {}", log.display());
    }
    let report_path = reported.then(|| out_dir.join("report.md"));
    if let Some(path) = &report_path {
        crate::note!("report: {}", path.display());
    }
    record["files"] = json!({
        "logs": log_paths,
        "run": out_dir.join(RUN_JSON),
        "report": report_path,
    });
    if let Some(shard) = shard {
        crate::note!("shard {shard}: merge every shard's folder with `sim merge DIR... --out DIR`");
    }
    let record_path = out_dir.join(RUN_JSON);
    let (exit, failure) = match outcome.end {
        DaysEnd::Finished => (ExitCode::SUCCESS, None),
        DaysEnd::Quit => {
            crate::note!("ended at the console: {episodes} finished episodes logged");
            (ExitCode::SUCCESS, None)
        }
        DaysEnd::Interrupted => {
            if args.days != Days::Count(1) {
                crate::note!(
                    "interrupted: {episodes} finished episodes logged ({} per day asked)",
                    args.episodes
                );
            } else {
                crate::note!(
                    "interrupted: {episodes} of {} episodes finished and logged",
                    args.episodes
                );
            }
            (ExitCode::from(interrupt::EXIT_CODE), None)
        }
        DaysEnd::Failed(e) => (
            ExitCode::FAILURE,
            Some(anyhow::anyhow!(
                "{}; {} records them",
                crate::terminal::one_line(&e),
                record_path.display()
            )),
        ),
    };
    Ok(Ran {
        record,
        exit,
        failure,
    })
}

/// Refuses, before any work, an `--out` where the run would write over a file it reads:
/// the experiment, the config or the course world's files named as a run's output there.
fn refuse_outputs_over_inputs(args: &RunArgs, out: &Path) -> anyhow::Result<()> {
    let mut inputs: Vec<PathBuf> = vec![args.experiment.clone()];
    inputs.extend(args.config.clone());
    let config = Config::load_or_default(args.config.as_deref())?;
    if let Some(dir) = &config.world.dir {
        for name in ["tracks.json", "tracks.npy", "users.json", "top_tracks.json"] {
            inputs.push(dir.join(name));
        }
    }
    let written_by_a_run = |name: &str| {
        name == RUN_JSON
            || (name.starts_with("events") && name.ends_with(".jsonl"))
            || report::is_report_output(name)
    };
    for input in inputs.iter().filter(|p| p.is_file()) {
        let real = crate::overwrite::resolved(input);
        let (Some(name), Some(folder)) = (real.file_name().and_then(|n| n.to_str()), real.parent())
        else {
            continue;
        };
        if written_by_a_run(name) && crate::overwrite::same_file(folder, out) {
            anyhow::bail!(
                "--out {}: the run would write over {}, which it reads; give another --out",
                out.display(),
                input.display()
            );
        }
    }
    Ok(())
}

/// Why a run's logs are not the whole run, if it stopped early (no verdict then).
fn stopped_early(outcome: &DaysOutcome, episodes: u64, args: &RunArgs) -> Option<String> {
    match outcome.end {
        DaysEnd::Finished => None,
        DaysEnd::Interrupted => Some(format!(
            "the run was interrupted after {episodes} episodes ({} a day asked)",
            args.episodes
        )),
        DaysEnd::Quit => Some("the run was ended at the console".to_string()),
        DaysEnd::Failed(_) => Some("the run failed".to_string()),
    }
}

/// `--paired` plays every episode under every arm: a service assigns its own treatments,
/// and a person cannot answer one session several times.
fn check_pairable(experiment: &Experiment, args: &RunArgs) -> anyhow::Result<()> {
    let source = if args.paired {
        "--paired"
    } else {
        "`paired: true` of the experiment"
    };
    if let Some(arm) = experiment.arms.iter().find(|a| a.spec.uses_remote()) {
        anyhow::bail!(
            "{source}: arm {} asks a remote service, which assigns its own treatments; remote arms keep the murmur3 assignment: run without pairing",
            arm.name
        );
    }
    if let Some(arm) = experiment.arms.iter().find(|a| a.spec.uses_console()) {
        anyhow::bail!(
            "{source}: arm {} is the console, which cannot answer every episode once per arm",
            arm.name
        );
    }
    // Session ids are `index * arms + arm`, over every day a run may have.
    let arms = experiment.arms.len() as u64;
    let most = u64::MAX / (arms << 20);
    if args.episodes > most {
        anyhow::bail!(
            "{source}: {} episodes of {arms} arms overflow the session ids (index * arms + arm); at most {most} episodes a day",
            args.episodes
        );
    }
    Ok(())
}

/// Writes one A/B table per day and the metrics-by-day charts next to the logs.
fn report_by_day(options: &AnalysisOptions, folder: &RunFolder, logs: &[PathBuf]) {
    let staged = folder.staged("");
    let out_dir = folder.final_path("");
    match report::analyze_days(logs, options, Some(logs.len() as u64)).and_then(|mut by_day| {
        for (_, analysis) in by_day.days.iter_mut().chain(by_day.looks.iter_mut()) {
            name_final_paths(analysis, &staged, &out_dir);
        }
        report::write_by_day(&by_day, &staged)
    }) {
        Ok(_) => crate::note!(
            "report by day: {}",
            folder.final_path("by_day.md").display()
        ),
        Err(e) => crate::problem!(
            "warning: no report by day: {}",
            crate::terminal::one_line(&e)
        ),
    }
}

/// Names the logs that `analysis` read in the staging folder `staged` where they will be
/// once the run is in place, in `final_dir`.
fn name_final_paths(analysis: &mut report::Analysis, staged: &Path, final_dir: &Path) {
    for file in &mut analysis.log.files {
        if let Ok(name) = file.path.strip_prefix(staged) {
            file.path = final_dir.join(name);
        }
    }
}

/// Prints the run's A/B table against the experiment's control (coloured if `color` says
/// so; not at all without it, as under `--json`) and writes the report files into
/// `out_dir`; says whether they were written. A failure here is reported but does not
/// fail the run: the logs are complete and `sim report` can be run on them again.
///
/// The report names the logs where they will be once the run is in place: under
/// `final_dir` instead of the staging `out_dir`.
///
/// `written`, the run's arm names and totals, saves reading back a single log: its
/// sessions are tabulated as they were logged (when the run kept them all).
pub fn report_ab_table(
    experiment: &str,
    control: &str,
    logs: &[PathBuf],
    written: Option<(&[String], &RunTotals)>,
    out_dir: &Path,
    final_dir: &Path,
    color: Option<bool>,
) -> bool {
    // The run record beside the logs says what decides (`sim merge` writes it first).
    let options = AnalysisOptions {
        experiment: Some(experiment.to_string()),
        control: Some(control.to_string()),
        run_record: true,
        ..AnalysisOptions::default()
    };
    report_ab_table_with(&options, logs, written, out_dir, final_dir, color)
}

/// [`report_ab_table`] with the options given.
pub fn report_ab_table_with(
    options: &AnalysisOptions,
    logs: &[PathBuf],
    written: Option<(&[String], &RunTotals)>,
    out_dir: &Path,
    final_dir: &Path,
    color: Option<bool>,
) -> bool {
    let experiment = options.experiment.as_deref().unwrap_or_default();
    let sessions = written.and_then(|(arms, totals)| Some((arms, totals, totals.sessions.all()?)));
    let analyzed = match (logs, sessions) {
        ([log], Some((arms, totals, sessions))) => std::fs::metadata(log)
            .with_context(|| format!("cannot read {}", log.display()))
            .and_then(|meta| {
                report::analyze_written(
                    &WrittenLog {
                        path: log.clone(),
                        bytes: meta.len(),
                        events: totals.steps() + totals.episodes(),
                        experiment,
                        arms,
                        sessions,
                    },
                    options,
                )
            }),
        _ => report::analyze(logs, options),
    };
    let mut analysis = match analyzed {
        Ok(analysis) => analysis,
        Err(e) => {
            crate::problem!("warning: no A/B table: {}", crate::terminal::one_line(&e));
            return false;
        }
    };
    name_final_paths(&mut analysis, out_dir, final_dir);
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
            crate::problem!(
                "warning: cannot write the report: {}",
                crate::terminal::one_line(&e)
            );
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
    let wait_ms = (o.remote_wait * 1000.0).round() as u64;
    let spec = RecommenderSpec::Remote {
        url: url.clone(),
        timeout_ms: o.remote_timeout_ms,
        retries: o.remote_retries,
        backoff_ms: o.remote_backoff_ms,
        wait_ms,
    };
    let remote = Remote::new(RemoteOptions {
        url,
        timeout_ms: o.remote_timeout_ms,
        retries: o.remote_retries,
        backoff_ms: o.remote_backoff_ms,
        wait_ms,
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

/// Name of the one-arm experiment of `sim run --console`.
pub const CONSOLE_EXPERIMENT: &str = "console";

/// `sim run --console`: one arm `C`, the person at the terminal.
fn prepare_console(args: &RunArgs, artifacts: &ArtifactOptions) -> anyhow::Result<Prepared> {
    let config = Config::load_or_default(args.config.as_deref())?;
    let experiment = Experiment::new(
        CONSOLE_EXPERIMENT.to_string(),
        None,
        BTreeMap::from([("C".to_string(), RecommenderSpec::Console)]),
        PathBuf::from("."),
    )?;
    prepare_experiment(experiment, config, artifacts)
}

/// The run's summary: one row per arm, or per day and arm for a multi-day run.
fn print_summary(
    prepared: &Prepared,
    summary: &[ArmSummary],
    outcome: &DaysOutcome,
    wall: f64,
    sessions_per_episode: u64,
) {
    let totals = &outcome.totals;
    let steps = totals.steps();
    let days = match outcome.days.len() {
        1 => String::new(),
        n => format!(" over {n} days"),
    };
    let paired = match sessions_per_episode {
        1 => String::new(),
        arms => format!(
            " each played under all {arms} arms ({} sessions)",
            totals.episodes()
        ),
    };
    crate::out!(
        "experiment {}: {} episodes{paired}{days}, {} steps in {:.2} s ({:.0} steps/s)",
        prepared.experiment.name,
        totals.episodes() / sessions_per_episode,
        steps,
        wall,
        steps as f64 / wall.max(1e-9)
    );
    let per_day = outcome.days.len() > 1;
    let rows: Vec<(Option<u32>, &ArmSummary)> = if per_day {
        outcome
            .days
            .iter()
            .flat_map(|d| d.arms.iter().map(move |s| (Some(d.day), s)))
            .collect()
    } else {
        summary.iter().map(|s| (None, s)).collect()
    };
    let day_column = |day: &str| {
        if per_day {
            format!("{day:<4} ")
        } else {
            String::new()
        }
    };
    crate::out!(
        "{}{:<4} {:<32} {:>8} {:>6} {:>18} {:>18}",
        day_column("day"),
        "arm",
        "recommender",
        "episodes",
        "users",
        "reward mean±sem",
        "steps mean±sem"
    );
    for (day, s) in rows {
        let label = prepared
            .experiment
            .arms
            .iter()
            .find(|a| a.name == s.arm)
            .map_or_else(String::new, |a| a.spec.label());
        crate::out!(
            "{}{:<4} {:<32} {:>8} {:>6} {:>18} {:>18}",
            day_column(&day.map_or_else(String::new, |d| d.to_string())),
            s.arm,
            truncate(&label, 32),
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

/// Wall times of a run's steps, in seconds.
#[derive(Debug, Clone, Copy)]
struct Seconds {
    /// Simulating and logging the episodes (every day).
    simulation: f64,
    /// The A/B table, the report files and charts (`sim bench --end-to-end` reads it).
    report: f64,
}

/// What a run did, for its record.
struct Done<'a> {
    outcome: &'a DaysOutcome,
    summary: &'a [ArmSummary],
    seconds: Seconds,
    pre_period: Option<&'a PrePeriod>,
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
    done: &Done,
) -> anyhow::Result<serde_json::Value> {
    let Done {
        outcome,
        summary,
        seconds,
        pre_period,
    } = *done;
    let mut outputs = folder.staged_names()?;
    outputs.insert(RUN_JSON.to_string());
    let error = match &outcome.end {
        DaysEnd::Failed(e) => Some(crate::terminal::one_line(e)),
        _ => None,
    };
    // `sim merge` refuses a shard whose log no longer has this hash.
    let log_hash = match (options.shard, outcome.days.as_slice()) {
        (Some(_), [day]) => Some(crate::log::fingerprint::content_hash(
            &folder.staged(&day.log),
        )?),
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
        "completed_episodes": outcome.totals.episodes() / sessions_per_episode(options, prepared),
        "paired": options.paired,
        "pre_period": pre_period,
        "interrupted": matches!(outcome.end, DaysEnd::Interrupted),
        "ended_at_console": matches!(outcome.end, DaysEnd::Quit),
        "days_asked": args.days.to_string(),
        "days": outcome.days,
        "error": error,
        "workers": options.workers,
        "shard": options.shard,
        "log_hash": log_hash,
        "version": env!("CARGO_PKG_VERSION"),
        "commit": env!("BOTIFY_COMMIT"),
        "wall_seconds": seconds.simulation,
        "report_seconds": seconds.report,
        "arms": summary,
        "outputs": outputs,
    });
    crate::atomic_file::write(
        &folder.staged(RUN_JSON),
        &serde_json::to_vec_pretty(&record)?,
    )?;
    Ok(record)
}

/// Sessions in the log per episode run: one, or one per arm of a paired run.
fn sessions_per_episode(options: &RunOptions, prepared: &Prepared) -> u64 {
    if options.paired {
        prepared.arms.len() as u64
    } else {
        1
    }
}

/// murmur3 x64 128 of `text`, in hex: equal files, equal hashes (built-in or copied).
fn content_hash(text: &str) -> anyhow::Result<String> {
    let hash =
        murmur3::murmur3_x64_128(&mut text.as_bytes(), 0).context("cannot hash the experiment")?;
    Ok(format!("{hash:032x}"))
}
