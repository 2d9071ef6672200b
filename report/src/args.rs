//! The `sim report` command: arguments and entry point.

use super::{
    AnalysisOptions, analyze, analyze_days, default_out_dir, render_terminal, write_by_day,
    write_outputs,
};
use botify_sim_core::experiment::plan::{Guardrail, Plan, parse_guardrail_flag};
use std::path::{Path, PathBuf};

/// Arguments of `sim report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Event logs (our events.jsonl, the botify service's data.json) or directories of
    /// them (*.jsonl, *.json); several are read as one log.
    #[arg(required = true, value_name = "LOG_OR_DIR")]
    pub inputs: Vec<PathBuf>,
    /// Experiment to analyse [default: the only experiment in the log].
    #[arg(long, value_name = "NAME")]
    pub experiment: Option<String>,
    /// Control arm [default: C].
    #[arg(long, value_name = "ARM")]
    pub control: Option<String>,
    /// Output directory [default: runs/<experiment>/].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Count and skip malformed lines instead of failing on the first one.
    #[arg(long)]
    pub skip_bad_lines: bool,
    /// Two-sided significance level.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Power of the minimum detectable effect column.
    #[arg(long, default_value_t = 0.8)]
    pub power: f64,
    /// Only print the table; write no files.
    #[arg(long)]
    pub no_files: bool,
    /// One A/B table per day of the log (24 h from its first session), the looks of
    /// sequential monitoring (after each day, every session so far by the always-valid
    /// interval, and whether stopping there is safe), and a chart of each metric by day:
    /// by_day.md, by_day.json, by_day_<metric>.svg/.png.
    #[arg(long)]
    pub by_day: bool,
    /// Add `mean_time_per_session_without_first_track`: session time without each
    /// session's first track, the course table's definition (the other rows' Holm
    /// correction then counts its comparisons too).
    #[arg(long)]
    pub without_first_track: bool,
    /// The metric that decides [default: the run's experiment's (run.json beside the
    /// logs), else mean_time_per_session]; with --guardrail, replaces the run's plan
    #[arg(long, value_name = "METRIC")]
    pub primary: Option<String>,
    /// A guardrail and how far it may move the wrong way, e.g.
    /// `mean_request_latency=+2ms` or `mean_tracks_per_session=-5%` (repeatable); with
    /// --primary, replaces the run's plan
    #[arg(long, value_name = "METRIC=THRESHOLD", value_parser = guardrail_flag)]
    pub guardrail: Vec<(String, Guardrail)>,
    /// Logs of a pre-period (say the service's logs of an earlier day): each user's
    /// metrics there are the covariates of CUPED [default: the run's pre-period, if
    /// `sim run --pre-days` made one]
    #[arg(long, value_name = "LOG_OR_DIR")]
    pub covariate: Vec<PathBuf>,
    /// Decide by the always-valid (sequential) interval: for a run that was looked at as
    /// it went [default: on for the logs of a multi-day run]
    #[arg(long)]
    pub sequential: bool,
    /// Users (pairs in a paired log) at which the always-valid interval is narrowest
    /// [default: those of the whole log]
    #[arg(long, value_name = "UNITS")]
    pub sequential_tuning: Option<f64>,
    /// Print the report (ab.json's document) as JSON on stdout instead of the table
    #[arg(long)]
    pub json: bool,
}

fn guardrail_flag(text: &str) -> Result<(String, Guardrail), String> {
    parse_guardrail_flag(text)
}

impl ReportArgs {
    /// The options these arguments ask for.
    pub fn options(&self) -> AnalysisOptions {
        let plan = (self.primary.is_some() || !self.guardrail.is_empty()).then(|| Plan {
            primary: self.primary.clone(),
            guardrails: self.guardrail.iter().cloned().collect(),
            paired: false,
        });
        AnalysisOptions {
            experiment: self.experiment.clone(),
            control: self.control.clone(),
            skip_bad_lines: self.skip_bad_lines,
            alpha: self.alpha,
            power: self.power,
            split: None,
            without_first_track: self.without_first_track,
            plan,
            covariate: self.covariate.clone(),
            sequential: self.sequential,
            sequential_tuning: self.sequential_tuning,
            stopped_early: None,
            run_record: true,
        }
    }
}

/// Runs `sim report`: prints the table, writes the report files.
pub fn run(args: &ReportArgs) -> anyhow::Result<()> {
    let mut named = std::collections::BTreeSet::new();
    for (metric, _) in &args.guardrail {
        if !named.insert(metric) {
            anyhow::bail!("--guardrail {metric}=... is given twice; give each metric once");
        }
    }
    let opts = args.options();
    if let Some(out) = args.out.as_deref().filter(|_| !args.no_files) {
        refuse_outputs_over_logs(&args.inputs, out)?;
    }
    if args.by_day {
        return run_by_day(args, &opts);
    }
    let started = std::time::Instant::now();
    let analysis = analyze(&args.inputs, &opts)?;
    let elapsed = started.elapsed().as_secs_f64();
    if args.json {
        botify_sim_core::terminal::print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&analysis)?
        ));
    } else {
        botify_sim_core::terminal::print(&render_terminal(
            &analysis,
            botify_sim_core::terminal::color_for_stdout(),
        ));
    }
    botify_sim_core::note!(
        "analysed {} events in {:.2} s ({:.0} events/s)",
        analysis.log.events,
        elapsed,
        analysis.log.events as f64 / elapsed.max(1e-9)
    );
    if !args.no_files {
        let dir = args
            .out
            .clone()
            .unwrap_or_else(|| default_out_dir(&analysis.experiment));
        let written = write_outputs(&analysis, &dir)?;
        botify_sim_core::note!("wrote {} files to {}", written.len(), dir.display());
    }
    Ok(())
}

/// Whether `name` is one of the files a report writes (`report.md`, `ab.json`, the
/// charts, the report by day...).
pub fn is_report_output(name: &str) -> bool {
    const FILES: [&str; 6] = [
        "report.md",
        "report.html",
        "report.txt",
        "ab.csv",
        "ab.json",
        "by_day.md",
    ];
    const CHARTS: [&str; 3] = ["forest", "session_time", "running_mean"];
    FILES.contains(&name)
        || name.starts_with("by_day")
        || CHARTS.iter().any(|c| {
            name.strip_prefix(c)
                .is_some_and(|ext| ext == ".svg" || ext == ".png")
        })
}

/// Refuses, before any log is read, an `--out` where the report would overwrite one of
/// the logs it reads (a log named like a report file in that folder, links resolved).
fn refuse_outputs_over_logs(inputs: &[PathBuf], out: &Path) -> anyhow::Result<()> {
    let files = botify_sim_core::log::reader::expand_inputs(inputs)?.files;
    for file in &files {
        let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let folder = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let real = botify_sim_core::overwrite::resolved(file);
        let real_name = real.file_name().and_then(|n| n.to_str()).unwrap_or(name);
        let real_folder = real.parent().unwrap_or(folder);
        let lands_on_it = (is_report_output(name)
            && botify_sim_core::overwrite::same_file(folder, out))
            || (is_report_output(real_name)
                && botify_sim_core::overwrite::same_file(real_folder, out));
        if lands_on_it {
            anyhow::bail!(
                "--out {}: the report would overwrite the log {} it reads; give another --out",
                out.display(),
                file.display()
            );
        }
    }
    Ok(())
}

/// `sim report --by-day`: prints each day's table, writes the report by day.
fn run_by_day(args: &ReportArgs, opts: &AnalysisOptions) -> anyhow::Result<()> {
    let by_day = analyze_days(
        &args.inputs,
        opts,
        crate::run_days::run_day_count(&args.inputs)?,
    )?;
    let days = &by_day.days;
    let color = botify_sim_core::terminal::color_for_stdout();
    let mut tables = String::new();
    for (day, analysis) in days {
        tables.push_str(&format!(
            "day {day}\n{}\n",
            render_terminal(analysis, color)
        ));
    }
    tables.push_str(
        "Sequential monitoring (every session up to each day, always-valid intervals):\n",
    );
    for line in crate::monitor::look_lines(&by_day.looks) {
        tables.push_str(&line);
        tables.push('\n');
    }
    botify_sim_core::terminal::print(&tables);
    if !args.no_files
        && let Some((_, first)) = days.first()
    {
        let dir = args
            .out
            .clone()
            .unwrap_or_else(|| default_out_dir(&first.experiment));
        let path = write_by_day(&by_day, &dir)?;
        botify_sim_core::note!(
            "wrote the report by day ({} days): {}",
            days.len(),
            path.display()
        );
    }
    Ok(())
}
