//! The days of `sim run --days`: simulate a day, run `--between-days`, retrain the
//! `retrain: daily` recipes on the logs so far, ask or go on. A one-day run is one
//! simulation into `events.jsonl`, as it always was.

use super::between_days::between_days;
use super::run_folder::RunFolder;
use super::setup::{ArtifactOptions, Prepared};
use crate::cli::RunArgs;
use crate::config::Config;
use crate::experiment::Experiment;
use crate::interrupt::{Input, Lines};
use crate::pipeline::daily::DailyArtifact;
use crate::pipeline::recipe::Retrain;
use crate::pipeline::{Pipeline, build_arms, simulate};
use crate::sim::days::{Days, day_plan};
use crate::sim::episode::LiveArm;
use crate::sim::runner::{RunEnd, RunOptions};
use crate::sim::summary::{ArmSummary, RunTotals, summarize};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// What `run.json` records of one day.
#[derive(Debug, serde::Serialize)]
pub struct DayRecord {
    pub day: u32,
    /// The day's log, in the output folder.
    pub log: String,
    /// The day's episodes are `first_episode..first_episode + episodes` (session ids).
    pub first_episode: u64,
    pub episodes: u64,
    /// The day's virtual time: `[start, end)` in ms (`end` = start of the next day).
    pub start_timestamp_ms: u64,
    pub end_timestamp_ms: u64,
    pub arms: Vec<ArmSummary>,
    /// Artifacts retrained for this day (`retrain: daily`); empty on day 1.
    pub artifacts: Vec<DailyArtifact>,
}

/// The finished days, the totals of every logged episode, and how the run ended.
pub struct DaysOutcome {
    pub days: Vec<DayRecord>,
    pub totals: RunTotals,
    pub end: DaysEnd,
}

pub enum DaysEnd {
    Finished,
    /// Ctrl-C.
    Interrupted,
    /// `q` at the console.
    Quit,
    /// A day failed, or `--between-days` or retraining did: every finished day's log is kept.
    Failed(anyhow::Error),
}

/// Runs the days of `args.days` (`options.episodes` episodes each).
pub fn run_days(
    prepared: &Prepared,
    args: &RunArgs,
    artifacts: &ArtifactOptions,
    options: &RunOptions,
    folder: &RunFolder,
    stop: &Arc<AtomicBool>,
) -> DaysOutcome {
    let multi_day = args.days != Days::Count(1);
    let arm_names: Vec<String> = prepared.arms.iter().map(|a| a.name.clone()).collect();
    let mut outcome = DaysOutcome {
        days: Vec::new(),
        totals: RunTotals::new(arm_names.len()),
        end: DaysEnd::Finished,
    };
    let mut retrained: Option<Retrained> = None;
    for day in 1.. {
        let plan = match day_plan(
            day,
            options.episodes,
            options.seed,
            &prepared.config.simulation,
            multi_day,
        ) {
            Ok(plan) => plan,
            Err(e) => {
                outcome.end = DaysEnd::Failed(anyhow::anyhow!(e));
                break;
            }
        };
        let name = if multi_day {
            format!("events-day{day}.jsonl")
        } else {
            "events.jsonl".to_string()
        };
        let log = folder.staged(&name);
        let final_log = folder.final_path(&name);
        let config = Config {
            simulation: plan.simulation,
            ..prepared.config.clone()
        };
        let day_options = RunOptions {
            first_episode: plan.first_episode,
            seed: plan.seed,
            ..*options
        };
        let (experiment, arms) = match &retrained {
            Some(r) => (&r.experiment, r.arms.as_slice()),
            None => (&prepared.experiment, prepared.arms.as_slice()),
        };
        if multi_day {
            crate::note!("day {day}: {} episodes", options.episodes);
        }
        let simulated = simulate(
            &prepared.world,
            experiment,
            arms,
            &config,
            &day_options,
            &log,
            stop,
        );
        let day_outcome = match simulated {
            Ok(day_outcome) => day_outcome,
            Err(e) => {
                outcome.end = failed_or_interrupted(e.context(format!("day {day}")));
                break;
            }
        };
        outcome.totals.merge(&day_outcome.totals);
        outcome.days.push(DayRecord {
            day,
            log: name,
            first_episode: plan.first_episode,
            episodes: day_outcome.totals.episodes(),
            start_timestamp_ms: plan.start_timestamp_ms,
            end_timestamp_ms: plan.end_timestamp_ms,
            arms: summarize(&arm_names, &day_outcome.totals),
            artifacts: retrained
                .as_mut()
                .map(|r| std::mem::take(&mut r.artifacts))
                .unwrap_or_default(),
        });
        match day_outcome.end {
            RunEnd::Finished => {}
            RunEnd::Interrupted => {
                outcome.end = DaysEnd::Interrupted;
                break;
            }
            // A signal at the console's prompt ends it as `q` does: an interruption.
            RunEnd::Quit if stop.load(std::sync::atomic::Ordering::Relaxed) => {
                outcome.end = DaysEnd::Interrupted;
                break;
            }
            RunEnd::Quit => {
                outcome.end = DaysEnd::Quit;
                break;
            }
            RunEnd::Failed(e) => {
                let days = if multi_day {
                    format!("day {day}: ")
                } else {
                    String::new()
                };
                outcome.end = DaysEnd::Failed(anyhow::anyhow!(
                    "{days}{}: {e}{}",
                    final_log.display(),
                    earlier_days(day)
                ));
                break;
            }
        }
        if args.days.is_last(day) {
            break;
        }
        if args.days == Days::Ask {
            match ask_new_day(day) {
                Some(true) => {}
                Some(false) => break,
                None => {
                    outcome.end = DaysEnd::Interrupted;
                    break;
                }
            }
        }
        if let Some(command) = &args.between_days
            && let Err(e) = between_days(
                command,
                day,
                &log,
                folder.final_path("").as_path(),
                args.between_days_timeout.map(Duration::from_secs_f64),
            )
        {
            outcome.end = failed_or_interrupted(e);
            break;
        }
        let logs: Vec<PathBuf> = outcome.days.iter().map(|d| folder.staged(&d.log)).collect();
        match retrain(prepared, artifacts, &logs) {
            Ok(Some(next)) => retrained = Some(next),
            Ok(None) => {}
            Err(e) => {
                outcome.end = failed_or_interrupted(e.context(format!(
                    "cannot retrain after day {day}{}",
                    earlier_days(day + 1)
                )));
                break;
            }
        }
    }
    outcome
}

/// A signal's stop is an interruption (exit 130), not a failure.
fn failed_or_interrupted(error: anyhow::Error) -> DaysEnd {
    if crate::interrupt::is_interrupted(&error) {
        crate::note!("{}", crate::terminal::one_line(&error));
        DaysEnd::Interrupted
    } else {
        DaysEnd::Failed(error)
    }
}

/// ", the logs of days 1..d-1 are kept" when there are any.
fn earlier_days(day: u32) -> String {
    match day {
        0 | 1 => String::new(),
        2 => "; the log of day 1 is kept".into(),
        d => format!("; the logs of days 1..{} are kept", d - 1),
    }
}

/// What the arms of the coming day are, after daily retraining.
struct Retrained {
    experiment: Experiment,
    arms: Vec<LiveArm>,
    /// The artifacts made for the day, until its record takes them.
    artifacts: Vec<DailyArtifact>,
}

/// The experiment and arms for the day after `logs`, when any recipe says `retrain: daily`.
fn retrain(
    prepared: &Prepared,
    artifacts: &ArtifactOptions,
    logs: &[PathBuf],
) -> anyhow::Result<Option<Retrained>> {
    let mut daily = false;
    let mut probe = prepared.experiment.clone();
    for arm in &mut probe.arms {
        arm.spec.visit_sources(&mut |recipe, _| {
            daily |= recipe.retrain == Some(Retrain::Daily);
            Ok(())
        })?;
    }
    if !daily {
        return Ok(None);
    }
    let pipeline = Pipeline::new(
        Arc::clone(&prepared.world),
        &prepared.config,
        artifacts.cache_dir.clone(),
        artifacts.rebuild,
        artifacts.workers,
        Arc::clone(&artifacts.stop),
    )?;
    let (experiment, made) = pipeline.retrain_daily(&prepared.experiment, logs)?;
    let arms = build_arms(&experiment, &prepared.world)?;
    Ok(Some(Retrained {
        experiment,
        arms,
        artifacts: made,
    }))
}

/// The course's question after each day: `Some(true)` on "y", `Some(false)` on "n" or
/// the end of the input, `None` on Ctrl-C (which ends the wait at once).
fn ask_new_day(day: u32) -> Option<bool> {
    let mut stderr = std::io::stderr();
    loop {
        let _ = write!(
            stderr,
            "End of day {day}. Would you like to start a new day? (y/n) "
        );
        let _ = stderr.flush();
        match Lines::stdin().next() {
            Input::Interrupted => {
                let _ = writeln!(stderr);
                return None;
            }
            Input::End | Input::Failed(_) => return Some(false),
            Input::Line(line) => match String::from_utf8_lossy(&line)
                .trim()
                .to_ascii_lowercase()
                .as_str()
            {
                "y" | "yes" => return Some(true),
                "n" | "no" => return Some(false),
                _ => {
                    let _ = writeln!(stderr, "please answer y or n");
                }
            },
        }
    }
}
