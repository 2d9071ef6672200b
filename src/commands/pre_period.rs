//! The pre-period of `sim run --pre-days D`: before day 1, D days of the control arm for
//! every user, each user on streams of their own, logged to `events-pre.jsonl` under the
//! experiment `pre-period`; the report uses each user's metrics there as CUPED's
//! covariates.

use super::run_folder::RunFolder;
use super::setup::Prepared;
use crate::config::Config;
use crate::experiment::{ArmSpec, Experiment};
use crate::interrupt::Interrupted;
use crate::pipeline::simulate;
use crate::sim::days::pre_period_plan;
use crate::sim::runner::{RunEnd, RunOptions};
use anyhow::{Context, bail};
use std::sync::atomic::AtomicBool;

/// The pre-period's log in the run folder.
pub const PRE_PERIOD_LOG: &str = "events-pre.jsonl";
/// The experiment of its events: a name of its own, so that reading the pre-period with the
/// experiment's logs by mistake asks which experiment is meant rather than mixing them.
pub const PRE_PERIOD_EXPERIMENT: &str = "pre-period";

/// What `run.json` records of the pre-period.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PrePeriod {
    pub log: String,
    pub days: u32,
    pub episodes: u64,
    pub seed: u64,
    pub start_timestamp_ms: u64,
    pub end_timestamp_ms: u64,
}

/// Simulates the pre-period into the staged run folder. Any failure or Ctrl-C stops the
/// run before the experiment starts.
pub fn run_pre_period(
    prepared: &Prepared,
    days: u32,
    options: &RunOptions,
    folder: &RunFolder,
    stop: &AtomicBool,
) -> anyhow::Result<PrePeriod> {
    let simulation = &prepared.config.simulation;
    let plan = pre_period_plan(days, options.episodes, options.seed, simulation)
        .map_err(anyhow::Error::msg)?;
    let experiment = &prepared.experiment;
    let control = experiment
        .arms
        .iter()
        .position(|a| a.name == experiment.control)
        .context("the control arm is not among the arms")?;
    // One arm, the control's: every user is assigned to it.
    let pre = Experiment {
        name: PRE_PERIOD_EXPERIMENT.to_string(),
        control: experiment.control.clone(),
        arms: vec![ArmSpec {
            name: experiment.control.clone(),
            spec: experiment.arms[control].spec.clone(),
        }],
        plan: Default::default(),
        base_dir: experiment.base_dir.clone(),
    };
    let config = Config {
        simulation: plan.simulation,
        ..prepared.config.clone()
    };
    let episodes = options.episodes * u64::from(days);
    let run = RunOptions {
        first_episode: 0,
        episodes,
        seed: plan.seed,
        paired: false,
        ..*options
    };
    crate::note!("pre-period: {days} days, {episodes} episodes of the control arm");
    let outcome = simulate(
        &prepared.world,
        &pre,
        std::slice::from_ref(&prepared.arms[control]),
        &config,
        &run,
        &folder.staged(PRE_PERIOD_LOG),
        stop,
    )?;
    match outcome.end {
        RunEnd::Finished => {}
        RunEnd::Interrupted => {
            return Err(anyhow::Error::new(Interrupted).context("in the pre-period"));
        }
        RunEnd::Quit => bail!("the pre-period was ended at the console"),
        RunEnd::Failed(e) => bail!("the pre-period failed: {e}"),
    }
    Ok(PrePeriod {
        log: PRE_PERIOD_LOG.to_string(),
        days,
        episodes,
        seed: plan.seed,
        start_timestamp_ms: plan.start_timestamp_ms,
        end_timestamp_ms: plan.end_timestamp_ms,
    })
}
