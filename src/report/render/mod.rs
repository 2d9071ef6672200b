//! Output formats of the A/B table: one [`Renderer`] trait, one implementation per format
//! (terminal, Markdown, CSV, JSON, HTML), as hyperfine's exporters.

mod csv;
mod html;
mod json;
mod markdown;
mod terminal;

pub use csv::Csv;
pub use html::Html;
pub use json::Json;
pub use markdown::Markdown;
pub use terminal::Terminal;

use super::{Analysis, Row};

/// What a renderer gets: the analysis and the charts (file stems, titles, inline SVG).
pub struct ReportContent<'a> {
    pub analysis: &'a Analysis,
    /// (file stem, title, SVG document) of each chart; files `<stem>.svg` and `<stem>.png`
    /// sit next to the report.
    pub charts: Vec<(&'static str, String, String)>,
}

/// One output format.
pub trait Renderer {
    /// Name of the file written in the output directory.
    fn file_name(&self) -> &'static str;
    /// The bytes of the output.
    fn render(&self, content: &ReportContent<'_>) -> anyhow::Result<Vec<u8>>;
}

/// The column headers of the human-readable tables (terminal, Markdown, HTML).
pub(crate) const HEADERS: [&str; 13] = [
    "treatment",
    "metric",
    "effect",
    "lower",
    "upper",
    "delta interval",
    "control_mean",
    "treatment_mean",
    "p",
    "significant",
    "p_holm",
    "significant_holm",
    "mde",
];

/// A number for people: 4 significant digits, or scientific when tiny/huge.
pub(crate) fn num(x: f64) -> String {
    if x.is_nan() {
        return "–".to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    let a = x.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{x:.3e}");
    }
    let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
    format!("{x:.decimals$}")
}

/// A percentage for people.
pub(crate) fn pct(x: f64) -> String {
    if x.is_nan() {
        "–".to_string()
    } else {
        format!("{x:+.2}%")
    }
}

/// A p-value for people.
pub(crate) fn pval(p: f64) -> String {
    if p.is_nan() {
        "–".to_string()
    } else if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

/// The human-readable cells of a row, in [`HEADERS`] order.
pub(crate) fn cells(row: &Row) -> [String; 13] {
    [
        row.treatment.clone(),
        row.metric.name().to_string(),
        pct(row.effect),
        pct(row.lower),
        pct(row.upper),
        format!("[{}, {}]", pct(row.delta_lower), pct(row.delta_upper)),
        num(row.control_mean),
        num(row.treatment_mean),
        pval(row.p_value),
        yes_no(row.significant),
        pval(row.p_holm),
        yes_no(row.significant_holm),
        if row.mde.is_nan() {
            "–".to_string()
        } else {
            format!("{:.2}%", row.mde)
        },
    ]
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// Lines shown above the table in every human-readable format: what was read, what was
/// dropped, the SRM check and what the intervals mean.
pub(crate) fn preamble(a: &Analysis) -> (Option<String>, Vec<String>) {
    let srm_warning = a.srm.mismatch.then(|| {
        let counts: Vec<String> = a
            .srm
            .observed
            .iter()
            .map(|(arm, n)| format!("{arm}: {n}"))
            .collect();
        format!(
            "SAMPLE RATIO MISMATCH: users per arm ({}) do not match the expected split \
             (chi-square {:.2}, dof {}, p = {}). The assignment or the logging is broken; \
             do not trust the effects below.",
            counts.join(", "),
            a.srm.chi2,
            a.srm.dof,
            pval(a.srm.p_value)
        )
    });
    let mut lines = Vec::new();
    let arms: Vec<String> = a
        .arms
        .iter()
        .map(|arm| {
            format!(
                "{} {} users / {} sessions",
                arm.treatment, arm.users_with_sessions, arm.sessions
            )
        })
        .collect();
    lines.push(format!(
        "Experiment `{}`, control `{}`: {}.",
        a.experiment,
        a.control,
        arms.join(", ")
    ));
    let mut log = format!(
        "Read {} events from {} file(s); {} finished sessions; {} unfinished sessions ({} events) dropped",
        a.log.events,
        a.log.files.len(),
        a.log.sessions,
        a.log.unfinished_sessions,
        a.log.unfinished_events
    );
    if a.log.ignored_events > 0 {
        log.push_str(&format!(
            "; {} events of other experiments ignored",
            a.log.ignored_events
        ));
    }
    if a.log.bad_lines > 0 {
        log.push_str(&format!("; {} malformed lines skipped", a.log.bad_lines));
    }
    log.push('.');
    lines.push(log);
    let files: Vec<String> = a
        .log
        .files
        .iter()
        .map(|f| format!("{} ({} events)", f.path.display(), f.events))
        .collect();
    lines.push(format!("Files read: {}.", files.join(", ")));
    if !a.log.skipped_files.is_empty() {
        let skipped: Vec<String> = a
            .log
            .skipped_files
            .iter()
            .map(|f| format!("{} ({})", f.path.display(), f.reason))
            .collect();
        lines.push(format!("Files not read: {}.", skipped.join(", ")));
    }
    if a.log.sorted_by_timestamp {
        lines.push(
            "Note: events without session ids were not in time order and were sorted in memory."
                .to_string(),
        );
    }
    lines.push(format!(
        "effect/lower/upper: % of the control mean, Welch {:.0}% interval with the control mean \
         taken as exact (the course's); delta interval: delta-method {:.0}% interval of \
         mean_T/mean_C - 1. Holm correction across {} comparisons; mde: minimum detectable \
         effect at {:.0}% power. SRM check p = {}.",
        (1.0 - a.alpha) * 100.0,
        (1.0 - a.alpha) * 100.0,
        a.comparisons,
        a.power * 100.0,
        pval(a.srm.p_value)
    ));
    (srm_warning, lines)
}
