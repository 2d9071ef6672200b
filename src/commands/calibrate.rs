//! `sim calibrate`: prepares the experiment as `sim run` does, runs the replicates in
//! memory, prints the calibration (a table, or JSON).

use super::setup::{ArtifactOptions, prepare};
use crate::calibrate::{Calibration, Calibrator, Options, Rate};
use crate::cli::CalibrateArgs;
use crate::interrupt;
use crate::report::Criteria;
use crate::report::render::{num, pct};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use std::process::ExitCode;

pub fn run(args: &CalibrateArgs) -> anyhow::Result<ExitCode> {
    for (name, level) in [("--alpha", args.alpha), ("--power", args.power)] {
        if !(level > 0.0 && level < 1.0) {
            anyhow::bail!("{name} must be in (0, 1), got {level}");
        }
    }
    let workers = args
        .workers
        .map(|w| w as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let stop = interrupt::stop_on_ctrl_c();
    let artifacts = ArtifactOptions {
        cache_dir: args.cache_dir.clone(),
        rebuild: false,
        workers,
        stop: std::sync::Arc::clone(&stop),
    };
    let prepared = prepare(&args.experiment, args.config.as_deref(), &artifacts)?;
    let criteria = Criteria::from_plan(&prepared.experiment.plan)
        .with_context(|| format!("invalid experiment {}", args.experiment.display()))?;
    let options = Options {
        episodes: args.episodes,
        replicates: args.replicates,
        seed: args.seed,
        pre_days: args.pre_days,
        looks: args.looks,
        truth_episodes: args.truth_episodes,
        paired: !args.no_paired,
        alpha: args.alpha,
        power: args.power,
        workers,
        primary: criteria.primary,
    };
    let name = prepared.experiment.name.clone();
    let calibrator = Calibrator::new(
        std::sync::Arc::clone(&prepared.world),
        prepared.config.simulation,
        &prepared.experiment,
        prepared.arms,
        options,
    )?;
    let progress = bar(args.replicates);
    let calibration = calibrator.run(&progress, &stop)?;
    progress.finish_and_clear();
    if args.json {
        crate::out!("{}", serde_json::to_string_pretty(&calibration)?);
    } else {
        crate::out!("{}", table(&name, &calibration).trim_end());
    }
    if calibration.interrupted {
        crate::note!(
            "interrupted: {} of {} replicates counted",
            calibration.replicates,
            args.replicates
        );
        return Ok(ExitCode::from(interrupt::EXIT_CODE));
    }
    Ok(ExitCode::SUCCESS)
}

fn bar(replicates: u64) -> ProgressBar {
    if crate::terminal::is_quiet() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(replicates);
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{bar:40}] {pos}/{len} replicates ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// `5.1% [4.2, 6.1]`.
fn rate(r: Option<&Rate>) -> String {
    match r {
        Some(r) => format!(
            "{:.1}% [{:.1}, {:.1}]",
            r.rate * 100.0,
            r.lower * 100.0,
            r.upper * 100.0
        ),
        None => "–".to_string(),
    }
}

/// The calibration for people: what was run, the true effects, one line per method and
/// metric, the episodes each design needs, the throughput.
fn table(experiment: &str, c: &Calibration) -> String {
    let mut out = format!(
        "calibration of {experiment}: {} replicates of {} episodes (seed {}), {}% intervals; \
         CUPED on {} day(s) of pre-period; sequential looked at {} times\n",
        c.replicates,
        c.episodes,
        c.seed,
        (1.0 - c.alpha) * 100.0,
        c.pre_days,
        c.looks
    );
    out.push_str(&format!(
        "true effects (user level; a paired run of {} episodes):",
        c.truth.episodes
    ));
    for e in &c.truth.effects {
        out.push_str(&format!(
            " {} {} {};",
            e.treatment,
            e.metric,
            pct(e.user_level)
        ));
    }
    out.push('\n');
    out.push_str(
        "false positives: the A/A replicates' rejections (nominal alpha); rejections: the real \
         arms' (the power where the true effect is not 0); coverage: the real arms' intervals \
         (the control mean taken as exact) holding the true relative effect; delta cov.: the \
         same of the delta-method interval; [95% Wilson intervals]\n\n",
    );
    let line = |cells: [&str; 8]| {
        format!(
            "{:<14} {:<23} {:<3} {:>20} {:>20} {:>20} {:>20} {:>8}\n",
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6], cells[7]
        )
    };
    out.push_str(&line([
        "method",
        "metric",
        "arm",
        "false positives",
        "rejections",
        "coverage",
        "delta cov.",
        "sd eff.",
    ]));
    for r in &c.rows {
        out.push_str(&line([
            r.method.name(),
            r.metric.name(),
            &r.treatment,
            &rate(r.false_positives.as_ref()),
            &rate(r.rejections.as_ref()),
            &rate(r.coverage.as_ref()),
            &rate(r.delta_coverage.as_ref()),
            &format!("{}%", num(r.sd_effect)),
        ]));
    }
    out.push('\n');
    for cost in &c.episodes_for_power {
        out.push_str(&format!(
            "{}: {} episodes ({} sessions simulated) to detect {} on {} at {:.0}% power\n",
            cost.design,
            num(cost.episodes.ceil()),
            num(cost.sessions.ceil()),
            cost.treatment,
            cost.metric,
            c.power * 100.0
        ));
    }
    out.push_str(&format!(
        "{} replicates in {:.2} s on {} workers: {:.0} replicate experiments/s, {:.0} sessions/s\n",
        c.replicates, c.seconds, c.workers, c.experiments_per_second, c.sessions_per_second
    ));
    out
}
