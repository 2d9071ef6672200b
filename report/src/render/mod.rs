//! Output formats of the A/B table: one [`Renderer`] trait, one implementation per format
//! (terminal, Markdown, CSV, JSON, HTML), as hyperfine's exporters.

mod csv;
mod html;
mod json;
mod markdown;
pub mod terminal;

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

/// How a row reads for a decision: significant by the Holm-adjusted p (the table corrects
/// for every comparison, so raw p would overstate), in the metric's direction (a
/// guardrail's increase is bad). Every human-readable output and the forest chart use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Better,
    Worse,
    NotSignificant,
}

impl Verdict {
    pub fn of(row: &Row) -> Verdict {
        if !row.significant_holm || !row.effect.is_finite() || row.effect == 0.0 {
            Verdict::NotSignificant
        } else if (row.effect > 0.0) != row.metric.is_guardrail() {
            Verdict::Better
        } else {
            Verdict::Worse
        }
    }

    /// The `result` cell.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::NotSignificant => "n.s.",
        }
    }

    /// The HTML class of the row.
    pub(crate) fn class(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::NotSignificant => "ns",
        }
    }
}

/// A column of the human-readable tables (terminal, Markdown, HTML).
pub struct Column {
    pub header: &'static str,
    /// What the column means, for the legend above the table.
    pub meaning: &'static str,
    /// Right-aligned.
    pub numeric: bool,
    /// Shown in the terminal too; the terminal leaves out the detail columns to fit 120
    /// columns (the files have them all).
    pub in_terminal: bool,
}

const fn column(
    header: &'static str,
    meaning: &'static str,
    numeric: bool,
    in_terminal: bool,
) -> Column {
    Column {
        header,
        meaning,
        numeric,
        in_terminal,
    }
}

/// The columns of the human-readable tables, in order; [`cells`] fills them. The CSV and
/// JSON keep the course's columns at full precision.
pub const COLUMNS: [Column; 12] = [
    column("arm", "", false, true),
    column("metric", "", false, true),
    column("control mean", "", true, true),
    column("arm mean", "", true, true),
    column(
        "effect",
        "(arm mean - control mean) / control mean, %",
        true,
        true,
    ),
    column(
        "interval",
        "the course's Welch interval of effect, the control mean taken as exact",
        true,
        true,
    ),
    column(
        "delta interval",
        "delta-method interval of arm mean / control mean - 1",
        true,
        false,
    ),
    column("p", "Welch two-sided p-value", true, true),
    column(
        "p_holm",
        "p Holm-adjusted across the primary rows (guardrails apart)",
        true,
        true,
    ),
    column(
        "significant",
        "the course's rule: the interval excludes 0",
        true,
        false,
    ),
    column("mde", "minimum detectable effect", true, true),
    column(
        "result",
        "better / worse when p_holm < alpha, in the metric's direction; n.s. otherwise",
        false,
        true,
    ),
];

/// The human-readable cells of a row, in [`COLUMNS`] order.
pub fn cells(row: &Row) -> [String; 12] {
    [
        row.treatment.clone(),
        row.metric.name().to_string(),
        num(row.control_mean),
        num(row.treatment_mean),
        pct(row.effect),
        interval(row.lower, row.upper),
        interval(row.delta_lower, row.delta_upper),
        pval(row.p_value),
        pval(row.p_holm),
        yes_no(row.significant),
        if row.mde.is_nan() {
            "–".to_string()
        } else {
            format!("{}%", sig3(row.mde))
        },
        Verdict::of(row).word().to_string(),
    ]
}

/// The rows of a report, split for reading: the primary metrics, then the guardrails in a
/// section of their own (never mixed with the primary ones).
pub struct Section<'a> {
    pub title: &'static str,
    /// HTML id of the section.
    pub id: &'static str,
    pub notes: Vec<String>,
    pub rows: Vec<&'a Row>,
}

/// Why latency moves between runs of the same recommenders.
const LATENCY_NOTE: &str = "mean_request_latency is measured wall time (the `latency` \
logged with each request, here in ms per request): it depends on the machine, its load and \
the number of workers, not only on the recommender, so it changes from run to run and can \
flip sign between a run with `--workers 1` and one with `--workers 2`. Compare arms within \
one run, on a quiet machine, before acting on it.";

/// The sections with rows: primary metrics, then guardrails.
pub fn sections(a: &Analysis) -> Vec<Section<'_>> {
    let (guardrails, primary): (Vec<&Row>, Vec<&Row>) =
        a.rows.iter().partition(|r| r.metric.is_guardrail());
    let sections = [
        Section {
            title: "Primary metrics (an increase is good)",
            id: "primary",
            notes: Vec::new(),
            rows: primary,
        },
        Section {
            title: "Guardrails (an increase is bad)",
            id: "guardrails",
            notes: vec![LATENCY_NOTE.to_string()],
            rows: guardrails,
        },
    ];
    sections
        .into_iter()
        .filter(|s| !s.rows.is_empty())
        .collect()
}

/// A number for people: 4 significant digits, or scientific when tiny/huge.
pub fn num(x: f64) -> String {
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

/// 3 significant digits (at most 3 decimals; none lost left of the point), for percents.
fn sig3(x: f64) -> String {
    let a = x.abs();
    if a != 0.0 && a < 1e-3 {
        return format!("{x:.1e}");
    }
    let decimals = if a == 0.0 {
        0
    } else {
        (2 - a.log10().floor() as i32).clamp(0, 3) as usize
    };
    format!("{x:.decimals$}")
}

/// A signed percentage for people.
pub fn pct(x: f64) -> String {
    if x.is_nan() {
        "–".to_string()
    } else if x > 0.0 {
        format!("+{}%", sig3(x))
    } else {
        format!("{}%", sig3(x))
    }
}

fn interval(lower: f64, upper: f64) -> String {
    format!("[{}, {}]", pct(lower), pct(upper))
}

/// A p-value for people: `0.0123`, or `1.4e-13` below 1e-3 (so never fewer than two
/// significant digits: `0.0004` would hide that it is 3.6e-4); `< 1e-300` for a p too
/// small for a double (the tail probability underflowed to 0), never a bare `0.0e0`.
pub fn pval(p: f64) -> String {
    if p.is_nan() {
        "–".to_string()
    } else if p == 0.0 {
        "< 1e-300".to_string()
    } else if p < 1e-3 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// What "session time" means here, and how it relates to `sim run`'s reward: one measure
/// of mean session time in the whole report, and the other figures named for what they are.
const SESSION_TIME_NOTE: &str = "Session time is the sum of a session's listen times, the \
first track's 1.0 included (as the botify log records it). mean_time_per_session, the mean \
over users of each user's time per session, is this report's one mean session time: the \
running-mean chart draws it too. `sim run`'s reward per episode leaves the first track out \
and averages over episodes, so it is lower (by about 1) and not the same measure. A measure \
that leaves the first track out says so in its name.";

/// Shown above the tables in every human-readable format.
pub struct Preamble {
    /// The sample-ratio-mismatch warning, if any.
    pub srm: Option<String>,
    /// What was read and dropped, one line each (kept whole: people and scripts grep them).
    pub facts: Vec<String>,
    /// What the shown columns mean and what session time is (prose a terminal may wrap).
    pub notes: Vec<String>,
}

/// The preamble of a table showing `columns`.
pub fn preamble(a: &Analysis, columns: &[&Column]) -> Preamble {
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
    let mut facts = Vec::new();
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
    facts.push(format!(
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
    facts.push(log);
    let files: Vec<String> = a
        .log
        .files
        .iter()
        .map(|f| format!("{} ({} events)", f.path.display(), f.events))
        .collect();
    facts.push(format!("Files read: {}.", files.join(", ")));
    if !a.log.duplicates.is_empty() {
        let total: u64 = a.log.duplicates.iter().map(|d| d.events).sum();
        let pairs: Vec<String> = a
            .log
            .duplicates
            .iter()
            .map(|d| {
                format!(
                    "{} repeats {} events of {}",
                    d.file.display(),
                    d.events,
                    d.first.display()
                )
            })
            .collect();
        facts.push(format!(
            "Dropped {total} events read twice, counted once: {}.",
            pairs.join(", ")
        ));
    }
    if !a.log.skipped_files.is_empty() {
        let skipped: Vec<String> = a
            .log
            .skipped_files
            .iter()
            .map(|f| format!("{} ({})", f.path.display(), f.reason))
            .collect();
        facts.push(format!("Files not read: {}.", skipped.join(", ")));
    }
    if a.log.sorted_by_timestamp {
        facts.push(
            "Note: events without session ids were not in time order and were sorted in memory."
                .to_string(),
        );
    }
    let legend: Vec<String> = columns
        .iter()
        .filter(|c| !c.meaning.is_empty())
        .map(|c| format!("{}: {}", c.header, c.meaning))
        .collect();
    let mut notes = Vec::new();
    notes.push(format!(
        "Users are the unit; {:.0}% intervals, {:.0}% power; Holm corrects the {} primary comparisons together and the guardrails apart. {}. SRM check p = {}.",
        (1.0 - a.alpha) * 100.0,
        a.power * 100.0,
        a.comparisons,
        legend.join("; "),
        pval(a.srm.p_value)
    ));
    notes.push(SESSION_TIME_NOTE.to_string());
    Preamble {
        srm: srm_warning,
        facts,
        notes,
    }
}
