//! Unit tests of `report/src/render/mod.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::report::render::*;
use botify_sim::report::{Analysis, Row};
use botify_sim::report::{ArmSessions, LogSummary, Metric, Srm};
use std::collections::BTreeMap;

/// A row against control `C` with the given significance: `raw` is the course's
/// interval rule, `holm` the Holm-adjusted one.
pub(crate) fn row(arm: &str, metric: Metric, effect: f64, raw: bool, holm: bool) -> Row {
    Row {
        treatment: arm.to_string(),
        metric,
        effect,
        upper: effect + 5.0,
        lower: effect - 5.0,
        control_mean: 5.3812e-5,
        treatment_mean: 2.50312,
        significant: raw,
        control_n: 1000,
        treatment_n: 1000,
        dof: 1998.0,
        p_value: if raw { 1.4e-13 } else { 0.5 },
        p_holm: if holm { 8.04e-103 } else { 0.0628 },
        significant_holm: holm,
        delta_lower: effect - 1106.44,
        delta_upper: effect + 1106.44,
        mde: 712.74,
    }
}

pub(crate) fn analysis(rows: Vec<Row>) -> Analysis {
    Analysis {
        experiment: "ux".to_string(),
        control: "C".to_string(),
        alpha: 0.05,
        power: 0.8,
        log: LogSummary::default(),
        arms: Vec::new(),
        srm: Srm {
            observed: BTreeMap::new(),
            expected_shares: BTreeMap::new(),
            chi2: 0.5,
            dof: 1,
            p_value: 0.48,
            mismatch: false,
        },
        comparisons: rows.len(),
        rows,
        session_times: vec![ArmSessions {
            treatment: "C".to_string(),
            times: vec![1.0, 2.5, 3.0],
            users: vec![1, 2, 1],
        }],
    }
}

fn render(renderer: &dyn Renderer, a: &Analysis) -> String {
    let content = ReportContent {
        analysis: a,
        charts: Vec::new(),
    };
    String::from_utf8(renderer.render(&content).unwrap()).unwrap()
}

/// The part of `text` from `start` up to the next `end` (or its end).
fn between<'t>(text: &'t str, start: &str, end: &str) -> &'t str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {text}"));
    let rest = &text[from..];
    rest[start.len()..]
        .find(end)
        .map_or(rest, |to| &rest[..start.len() + to])
}

/// Raw-significant only (T2), Holm-significant (T1), on a primary metric; a latency
/// increase, significant by Holm.
fn mixed() -> Analysis {
    analysis(vec![
        row("T2", Metric::MeanTimePerSession, 9.5, true, false),
        row("T1", Metric::MeanTimePerSession, 60.5, true, true),
        row("T1", Metric::MeanRequestLatency, 234.0, true, true),
    ])
}

#[test]
fn verdict_follows_holm_and_the_metric_direction() {
    let v = |effect, raw, holm, metric| Verdict::of(&row("T", metric, effect, raw, holm));
    assert_eq!(v(9.5, true, false, Metric::Time), Verdict::NotSignificant);
    assert_eq!(v(9.5, true, true, Metric::Time), Verdict::Better);
    assert_eq!(v(-9.5, true, true, Metric::Time), Verdict::Worse);
    assert_eq!(
        v(234.0, true, true, Metric::MeanRequestLatency),
        Verdict::Worse
    );
    assert_eq!(
        v(-30.0, true, true, Metric::MeanRequestLatency),
        Verdict::Better
    );
    assert_eq!(
        v(f64::NAN, false, true, Metric::Time),
        Verdict::NotSignificant
    );
}

#[test]
fn html_sections_and_classes_follow_holm_and_direction() {
    let html = render(&Html, &mixed());
    let primary = between(&html, "<section id=\"primary\">", "</section>");
    let guardrails = between(&html, "<section id=\"guardrails\">", "</section>");
    assert!(!primary.contains("mean_request_latency"), "{primary}");
    assert!(guardrails.contains("mean_request_latency"), "{guardrails}");
    assert!(guardrails.contains("an increase is bad"), "{guardrails}");
    assert!(guardrails.contains("wall time") && guardrails.contains("--workers 1"));
    let tr = |s: &str, arm: &str| {
        s.split("<tr")
            .find(|r| r.contains(&format!("<td>{arm}</td>")))
            .map(str::to_string)
    };
    assert!(tr(primary, "T2").unwrap().starts_with(" class=\"ns\""));
    assert!(tr(primary, "T1").unwrap().starts_with(" class=\"better\""));
    assert!(
        tr(guardrails, "T1")
            .unwrap()
            .starts_with(" class=\"worse\"")
    );
    assert!(
        html.contains("td{white-space:nowrap}"),
        "cells must not wrap"
    );
}

/// The notes' Markdown code spans (`` `C` ``, `` `--workers 1` ``) are `<code>` on the
/// page, not backticks a reader sees; their text is still escaped.
#[test]
fn html_sets_code_spans_as_code() {
    let mut a = mixed();
    a.experiment = "a<b>".to_string();
    let html = render(&Html, &a);
    let body = between(&html, "<body>", "</body>");
    assert!(!body.contains('`'), "{body}");
    assert!(body.contains("<code>--workers 1</code>"), "{body}");
    assert!(body.contains("<code>a&lt;b&gt;</code>"), "{body}");
}

#[test]
fn markdown_bolds_by_holm_and_keeps_guardrails_apart() {
    let md = render(&Markdown, &mixed());
    let primary = between(&md, "## Primary metrics", "## Guardrails");
    let guardrails = between(&md, "## Guardrails (an increase is bad)", "\n\n![");
    let line = |s: &str, arm: &str| {
        s.lines()
            .find(|l| l.starts_with(&format!("| {arm} |")))
            .unwrap()
            .to_string()
    };
    assert!(
        !line(primary, "T2").contains("**"),
        "raw p alone is not bold"
    );
    assert!(line(primary, "T2").ends_with("| n.s. |"));
    assert!(line(primary, "T1").contains("| **+60.5%** |"));
    assert!(line(guardrails, "T1").contains("| **+234%** |"));
    assert!(line(guardrails, "T1").ends_with("| worse |"));
    assert!(!primary.contains("mean_request_latency"));
}

#[test]
fn terminal_colours_by_holm_and_fits_120_columns() {
    let a = analysis(vec![
        row("T2", Metric::MeanTracksPerSession, 9.5, true, false),
        row("T1", Metric::MeanTimePerSession, -60.5, true, true),
        row("T1", Metric::MeanRequestLatency, 607.72, true, true),
    ]);
    let plain = render(&Terminal { color: false }, &a);
    for line in plain.lines() {
        assert!(line.chars().count() <= 120, "{} wide: {line}", line.len());
    }
    assert!(!plain.contains('\x1b'));
    let guardrails = between(&plain, "Guardrails (an increase is bad)", "\n\n");
    assert!(guardrails.contains("mean_request_latency"));
    assert!(guardrails.contains("+608%") && guardrails.trim_end().ends_with("worse"));
    let colour = render(&Terminal { color: true }, &a);
    let line_of = |arm: &str, metric: &str| {
        colour
            .lines()
            .find(|l| l.contains(metric) && l.contains(&format!("{arm} ")))
            .unwrap()
            .to_string()
    };
    assert!(line_of("T2", "mean_tracks_per_session").starts_with("\x1b[2m"));
    assert!(line_of("T1", "mean_time_per_session").starts_with("\x1b[31m"));
    assert!(line_of("T1", "mean_request_latency").starts_with("\x1b[31m"));
}

/// A p that underflowed to 0 reads `< 1e-300` wherever people read it; the CSV, for
/// programs, keeps the number.
/// `--without-first-track` adds a 41-character metric name: the table still fits 120
/// columns, the name going on over a second line of its row, whole when joined.
#[test]
fn terminal_fits_120_columns_with_the_course_tables_metric() {
    let a = analysis(vec![
        row(
            "T1",
            Metric::MeanTimePerSessionWithoutFirstTrack,
            -60.5,
            true,
            true,
        ),
        row("T1", Metric::MeanTimePerSession, -60.5, true, true),
    ]);
    let plain = render(&Terminal { color: false }, &a);
    for line in plain.lines() {
        assert!(line.chars().count() <= 120, "{} wide: {line}", line.len());
    }
    let lines: Vec<&str> = plain.lines().collect();
    let first = lines
        .iter()
        .position(|l| l.starts_with("T1   mean_time_per_session_ "))
        .unwrap_or_else(|| panic!("{plain}"));
    assert!(lines[first].ends_with("worse"), "{}", lines[first]);
    assert_eq!(lines[first + 1].trim(), "without_first_track", "{plain}");
    let colour = render(&Terminal { color: true }, &a);
    assert_eq!(
        colour.matches("\x1b[31m").count(),
        3,
        "both lines of a row coloured"
    );
}

#[test]
fn split_cell_breaks_after_underscores() {
    use botify_sim::report::render::terminal::split_cell;
    assert_eq!(split_cell("mean_time", 24), ["mean_time"]);
    assert_eq!(split_cell("aa_bb_cc", 5), ["aa_", "bb_cc"]);
    assert_eq!(split_cell("averylongname_b", 4), ["averylongname_", "b"]);
}

#[test]
fn underflowed_p_values_read_as_bounds_not_zero() {
    let mut zero = row("T1", Metric::MeanTimePerSession, 60.5, true, true);
    (zero.p_value, zero.p_holm) = (0.0, 0.0);
    let a = analysis(vec![zero]);
    for text in [
        render(&Markdown, &a),
        render(&Terminal { color: false }, &a),
    ] {
        assert_eq!(text.matches("< 1e-300").count(), 2, "{text}");
        assert!(!text.contains("0.0e0"), "{text}");
    }
    let html = render(&Html, &a);
    assert_eq!(html.matches("&lt; 1e-300").count(), 2, "{html}");
    let csv = render(&Csv, &a);
    let line = csv.lines().nth(1).unwrap();
    assert!(
        line.contains(",1998,0,0,true,"),
        "dof, p, p_holm, significant_holm: {line}"
    );
}

#[test]
fn numbers_for_people_have_3_to_4_significant_digits() {
    assert_eq!(pct(607.72), "+608%");
    assert_eq!(pct(1106.44), "+1106%");
    assert_eq!(pct(58.514), "+58.5%");
    assert_eq!(pct(-8.4412), "-8.44%");
    assert_eq!(pct(0.2346), "+0.235%");
    assert_eq!(pct(0.0), "0%");
    assert_eq!(num(2.50312), "2.503");
    assert_eq!(num(5.3812e-5), "5.381e-5");
    assert_eq!(pval(1.4e-13), "1.4e-13");
    assert_eq!(pval(0.0506), "0.0506");
    assert_eq!(pval(0.0012), "0.0012");
    assert_eq!(pval(3.64e-4), "3.6e-4", "not 0.0004: one significant digit");
    assert_eq!(pval(0.0), "< 1e-300");
    assert_eq!(pval(2e-300), "2.0e-300");
}
