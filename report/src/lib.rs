//! `sim report`: A/B tables with confidence intervals, and charts, from event logs.
//!
//! Data flows one way: [`botify_sim_core::log::reader`] (streaming, parallel parse) ->
//! [`sessionize`] (events -> sessions) -> [`metrics`] (user-level metrics) -> [`compare`]
//! (every method's rows: Welch, paired, CUPED with [`cuped`], sequential; the formulas in
//! [`stats`]) -> [`design`] and [`verdict`] (what each row is for, the decision, the health
//! check) -> [`render`] (one trait, one implementation per format) and [`charts`] (one
//! trait, SVG and PNG back ends). [`monitor`] looks at a log day by day; [`run_record`]
//! reads `run.json` beside the logs.
//!
//! The library API used by `sim run`: [`analyze`], [`render_terminal`], [`write_outputs`];
//! by `sim calibrate`: [`compare::Comparisons`].

pub mod analysis;
pub mod args;
pub mod charts;
pub mod compare;
pub mod cuped;
pub mod design;
pub mod metrics;
pub mod monitor;
pub mod render;
mod run_days;
pub mod run_record;
pub mod sessionize;
pub mod stats;
pub mod verdict;

pub use analysis::{
    Analysis, AnalysisOptions, ArmSessions, ArmSummary, Design, LogSummary, Row, SRM_THRESHOLD,
    Srm, WrittenLog, analyze, analyze_written,
};
pub use args::{ReportArgs, is_report_output, run};
pub use design::{Criteria, Method};
pub use metrics::Metric;
pub use monitor::{ByDay, analyze_days};

use anyhow::Context;
use charts::Chart;
use render::{Renderer, ReportContent};
use std::path::{Path, PathBuf};

/// The A/B table and its preamble for a terminal; `color` adds ANSI colours by
/// significance (pass `std::io::stdout().is_terminal()`).
pub fn render_terminal(analysis: &Analysis, color: bool) -> String {
    let content = ReportContent {
        analysis,
        charts: Vec::new(),
    };
    let bytes = render::Terminal { color }
        .render(&content)
        .unwrap_or_else(|e| format!("cannot render the table: {e}").into_bytes());
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Writes `report.md`, `ab.csv`, `ab.json`, `report.html` and the charts (SVG and PNG)
/// into `out_dir` (created if needed); returns the paths written.
pub fn write_outputs(analysis: &Analysis, out_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("{}: cannot create the output directory", out_dir.display()))?;
    let (mut files, svgs) = charts::ChartSet::new(analysis).render_all(out_dir)?;
    let content = ReportContent {
        analysis,
        charts: svgs,
    };
    let renderers: [&dyn Renderer; 4] = [
        &render::Markdown,
        &render::Csv,
        &render::Json,
        &render::Html,
    ];
    for renderer in renderers {
        files.push((
            out_dir.join(renderer.file_name()),
            renderer.render(&content)?,
        ));
    }
    // Written all at once: each file's fsync was most of the report step.
    botify_sim_core::atomic_file::write_many(&files)?;
    Ok(files.into_iter().map(|(path, _)| path).collect())
}

/// Writes the report by day into `out_dir`: `by_day.md` (the looks of sequential
/// monitoring, each day's table, then one chart per metric), `by_day.json` (each day's
/// whole analysis and the look at the days so far) and the charts
/// `by_day_<metric>.svg/.png`. Returns the path of `by_day.md`.
pub fn write_by_day(by_day: &ByDay, out_dir: &Path) -> anyhow::Result<PathBuf> {
    let days = &by_day.days;
    let Some((_, first)) = days.first() else {
        anyhow::bail!("the log holds no day with finished sessions");
    };
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("{}: cannot create the output directory", out_dir.display()))?;
    let mut md = format!("# A/B report by day: `{}`\n\n", first.experiment);
    md.push_str(
        "## Sequential monitoring\n\nAfter each day, every session so far, decided by the \
         always-valid interval (one tuning for every look): looking after every day does not \
         make a false ship likelier than alpha, and a day whose verdict is ship or don't ship \
         is a safe day to stop.\n\n",
    );
    for line in monitor::look_lines(&by_day.looks) {
        md.push_str(&format!("- {line}\n"));
    }
    md.push('\n');
    for (day, analysis) in days {
        let content = ReportContent {
            analysis,
            charts: Vec::new(),
        };
        let table = String::from_utf8(render::Markdown.render(&content)?)?;
        // The day's heading replaces the report's title line.
        let body = table.split_once('\n').map_or("", |(_, rest)| rest);
        md.push_str(&format!("## Day {day}\n{body}"));
    }
    md.push_str("## Each metric by day\n\n");
    // The opt-in metric is charted when the tables hold it (`--without-first-track`).
    let without_first_track = first.arms.iter().any(|a| {
        a.metrics
            .contains_key(Metric::MeanTimePerSessionWithoutFirstTrack.name())
    });
    for metric in Metric::of_table(without_first_track) {
        let chart = charts::MetricByDay::new(days, metric);
        for format in charts::ImageFormat::ALL {
            let path = out_dir.join(format!("{}.{}", chart.stem(), format.extension()));
            format.render(&chart, &path)?;
        }
        md.push_str(&format!("![{}]({}.png)\n\n", chart.title(), chart.stem()));
    }
    let json: Vec<serde_json::Value> = days
        .iter()
        .zip(&by_day.looks)
        .map(|((day, analysis), (_, so_far))| {
            serde_json::json!({"day": day, "analysis": analysis, "so_far": so_far})
        })
        .collect();
    botify_sim_core::atomic_file::write(
        &out_dir.join("by_day.json"),
        &serde_json::to_vec_pretty(&json)?,
    )?;
    let path = out_dir.join("by_day.md");
    botify_sim_core::atomic_file::write(&path, md.as_bytes())?;
    Ok(path)
}

/// The default output directory: `runs/<experiment>/` (ignored by git; `reports/` holds
/// curated reports only).
pub fn default_out_dir(experiment: &str) -> PathBuf {
    Path::new("runs").join(sanitize(experiment))
}

/// An experiment name usable as a directory name.
fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("_{s}")
    } else {
        s
    }
}
