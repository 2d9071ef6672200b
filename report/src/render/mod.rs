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

use super::design::{Method, Role};
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
pub const COLUMNS: [Column; 14] = [
    column("arm", "", false, true),
    column("metric", "", false, true),
    column(
        "method",
        "how the interval was made: welch (independent arms, the course's), paired (every episode under every arm, differences per user), paired_episode (differences per episode), cuped (adjusted by the pre-period), sequential (always valid, however often the run was looked at)",
        false,
        true,
    ),
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
        "the interval of effect, the control mean taken as exact (the course's, for welch)",
        true,
        true,
    ),
    column(
        "delta interval",
        "delta-method interval of arm mean / control mean - 1",
        true,
        false,
    ),
    column("p", "two-sided p-value", true, false),
    column(
        "p_holm",
        "p Holm-adjusted across the method's rows (latency apart)",
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
        "var. red.",
        "variance reduction against welch on the same sessions",
        true,
        false,
    ),
    column(
        "result",
        "better / worse when p_holm < alpha, in the metric's direction, n.s. otherwise; a guardrail's pass / fail / unclear by whether its interval stays inside its threshold",
        false,
        true,
    ),
];

/// The human-readable cells of a row, in [`COLUMNS`] order.
pub fn cells(row: &Row) -> [String; 14] {
    [
        row.treatment.clone(),
        row.metric.name().to_string(),
        row.method.name().to_string(),
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
        if row.variance_reduction.is_nan() {
            "–".to_string()
        } else {
            format!("{}%", sig3(row.variance_reduction * 100.0))
        },
        row.result.word().to_string(),
    ]
}

/// The rows of a report, split for reading by the part their metric plays: the primary
/// metric, the guardrails, the other metrics, and those the simulator cannot move.
pub struct Section<'a> {
    pub title: String,
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

/// Why `sessions` cannot move in a simulated run.
const NOT_MOVABLE_NOTE: &str = "In the simulator every episode draws its user uniformly, \
whatever they were recommended before: no recommender can change how many sessions a user \
has, so these rows only show the noise of the draw (an A/A check for free).";

/// The sections with rows, in reading order.
pub fn sections(a: &Analysis) -> Vec<Section<'_>> {
    let of = |role: Role| -> Vec<&Row> { a.rows.iter().filter(|r| r.role == role).collect() };
    let latency_note = |rows: &[&Row]| -> Vec<String> {
        if rows.iter().any(|r| r.metric.is_measured()) {
            vec![LATENCY_NOTE.to_string()]
        } else {
            Vec::new()
        }
    };
    let primary = of(Role::Primary);
    let guardrails = of(Role::Guardrail);
    let secondary = of(Role::Secondary);
    let not_movable = of(Role::NotMovable);
    let sections = [
        Section {
            title: format!(
                "Primary metric: {} (decides; an increase is good)",
                a.criteria.primary
            ),
            id: "primary",
            notes: Vec::new(),
            rows: primary,
        },
        Section {
            title: "Guardrails (decide: pass when the interval stays inside the threshold)"
                .to_string(),
            id: "guardrails",
            notes: latency_note(&guardrails),
            rows: guardrails,
        },
        Section {
            title: "Other metrics (the course notebook's rows; they do not decide)".to_string(),
            id: "secondary",
            notes: latency_note(&secondary),
            rows: secondary,
        },
        Section {
            title: "Not movable in this simulator (they do not decide)".to_string(),
            id: "not-movable",
            notes: vec![NOT_MOVABLE_NOTE.to_string()],
            rows: not_movable,
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

/// What the design adds: pairing and its variance reduction, the covariate, the method
/// that decides.
fn design_facts(a: &Analysis) -> Vec<String> {
    let d = &a.design;
    let mut facts = Vec::new();
    let primary_reduction = |method: Method| {
        a.rows
            .iter()
            .filter(|r| r.method == method && r.metric == a.criteria.primary)
            .map(|r| format!("{} {}%", r.treatment, sig3(r.variance_reduction * 100.0)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if d.paired {
        facts.push(format!(
            "Paired: every episode was played under every arm ({} complete pairs, {} incomplete); \
             the paired interval's variance of {} is below the unpaired analysis of the same \
             sessions (the same simulated steps) by {}.",
            d.pairs,
            d.incomplete_pairs,
            a.criteria.primary,
            primary_reduction(Method::Paired)
        ));
    }
    if let Some(c) = &d.covariate {
        let files: Vec<String> = c.files.iter().map(|f| f.display().to_string()).collect();
        facts.push(format!(
            "CUPED: the pre-period is {} (experiment `{}`, {} sessions of {} users; {}% of \
             this experiment's users have one); the variance of {} is lower by {}.",
            files.join(", "),
            c.experiment,
            c.sessions,
            c.users,
            sig3(c.coverage * 100.0),
            a.criteria.primary,
            primary_reduction(Method::Cuped)
        ));
    }
    facts.push(format!(
        "Decided by the {} rows{}; the sequential rows are always valid, tuned for {} units.",
        d.decided_by,
        if d.decided_by == Method::Sequential {
            " (the run was looked at as it went)"
        } else {
            ""
        },
        d.sequential_tuning
    ));
    facts
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
    /// One line per treatment: the verdict, first of all.
    pub verdicts: Vec<String>,
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
    facts.extend(design_facts(a));
    let legend: Vec<String> = columns
        .iter()
        .filter(|c| !c.meaning.is_empty())
        .map(|c| format!("{}: {}", c.header, c.meaning))
        .collect();
    let mut notes = Vec::new();
    notes.push(format!(
        "Users are the unit; {:.0}% intervals, {:.0}% power; Holm corrects each method's {} comparisons together and latency apart. {}. SRM check p = {}.",
        (1.0 - a.alpha) * 100.0,
        a.power * 100.0,
        a.comparisons,
        legend.join("; "),
        pval(a.srm.p_value)
    ));
    notes.push(SESSION_TIME_NOTE.to_string());
    Preamble {
        verdicts: a.verdicts.iter().map(|v| v.line.clone()).collect(),
        srm: srm_warning,
        facts,
        notes,
    }
}
