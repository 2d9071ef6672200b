//! The `sim report` command: arguments and entry point.

use super::{
    AnalysisOptions, analyze, analyze_by_day, default_out_dir, render_terminal, write_by_day,
    write_outputs,
};
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
    /// One A/B table per day of the log (24 h from its first session), and a chart of each
    /// metric by day: by_day.md, by_day.json, by_day_<metric>.svg/.png.
    #[arg(long)]
    pub by_day: bool,
    /// Add `mean_time_per_session_without_first_track`: session time without each
    /// session's first track, the course table's definition (the other rows' Holm
    /// correction then counts its comparisons too).
    #[arg(long)]
    pub without_first_track: bool,
}

/// Runs `sim report`: prints the table, writes the report files.
pub fn run(args: &ReportArgs) -> anyhow::Result<()> {
    let opts = AnalysisOptions {
        experiment: args.experiment.clone(),
        control: args.control.clone(),
        skip_bad_lines: args.skip_bad_lines,
        alpha: args.alpha,
        power: args.power,
        split: None,
        without_first_track: args.without_first_track,
    };
    if let Some(out) = args.out.as_deref().filter(|_| !args.no_files) {
        refuse_outputs_over_logs(&args.inputs, out)?;
    }
    if args.by_day {
        return run_by_day(args, &opts);
    }
    let started = std::time::Instant::now();
    let analysis = analyze(&args.inputs, &opts)?;
    let elapsed = started.elapsed().as_secs_f64();
    botify_sim_core::terminal::print(&render_terminal(
        &analysis,
        botify_sim_core::terminal::color_for_stdout(),
    ));
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
    let days = analyze_by_day(
        &args.inputs,
        opts,
        crate::run_days::run_day_count(&args.inputs)?,
    )?;
    let color = botify_sim_core::terminal::color_for_stdout();
    let mut tables = String::new();
    for (day, analysis) in &days {
        tables.push_str(&format!(
            "day {day}\n{}\n",
            render_terminal(analysis, color)
        ));
    }
    botify_sim_core::terminal::print(&tables);
    if !args.no_files
        && let Some((_, first)) = days.first()
    {
        let dir = args
            .out
            .clone()
            .unwrap_or_else(|| default_out_dir(&first.experiment));
        let path = write_by_day(&days, &dir)?;
        botify_sim_core::note!(
            "wrote the report by day ({} days): {}",
            days.len(),
            path.display()
        );
    }
    Ok(())
}
