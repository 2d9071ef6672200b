//! Unit tests of `report/src/render/mod.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::experiment::plan::{Guardrail, Threshold, Unit};
use botify_sim::report::design::{Criteria, Direction, GuardrailRule, Method, Role, RowResult};
use botify_sim::report::render::*;
use botify_sim::report::verdict::Health;
use botify_sim::report::{Analysis, Design, Row};
use botify_sim::report::{ArmSessions, LogSummary, Metric, Srm};
use std::collections::BTreeMap;

/// The plan of these tests: the default primary, latency a guardrail of at most +2 ms.
fn criteria() -> Criteria {
    Criteria {
        guardrails: vec![GuardrailRule {
            metric: Metric::MeanRequestLatency,
            rule: Guardrail::MaxIncrease(Threshold {
                amount: 2.0,
                unit: Unit::Milliseconds,
            }),
        }],
        ..Criteria::default()
    }
}

/// A Welch row against control `C` with the given significance: `raw` is the course's
/// interval rule, `holm` the Holm-adjusted one; its role, direction and result as the
/// report gives them under [`criteria`].
pub(crate) fn row(arm: &str, metric: Metric, effect: f64, raw: bool, holm: bool) -> Row {
    let criteria = criteria();
    let direction = criteria.direction(metric);
    let (lower, upper, control_mean) = (effect - 5.0, effect + 5.0, 5.3812e-5);
    let guardrail = criteria.guardrail(metric);
    let result = match guardrail {
        Some(g) => g.judge(lower, upper, control_mean),
        None if !holm => RowResult::NotSignificant,
        None if direction.is_good(effect) => RowResult::Better,
        None => RowResult::Worse,
    };
    Row {
        treatment: arm.to_string(),
        metric,
        effect,
        upper,
        lower,
        control_mean,
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
        method: Method::Welch,
        role: criteria.role(metric, true),
        direction,
        guardrail: guardrail.map_or(String::new(), |g| g.rule.describe()),
        threshold: guardrail.map_or(f64::NAN, |g| g.threshold_percent(control_mean)),
        result,
        variance_reduction: f64::NAN,
        se: 0.01,
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
        criteria: criteria(),
        design: Design {
            decided_by: Method::Welch,
            paired: false,
            pairs: 0,
            incomplete_pairs: 0,
            covariate: None,
            sequential_tuning: 2000.0,
        },
        health: Health::new(Vec::new()),
        verdicts: Vec::new(),
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

/// Raw-significant only (T2), Holm-significant (T1), on the primary metric; a latency
/// increase, significant by Holm but far inside its 2 ms guardrail; an increase of tracks
/// per session (a secondary metric); sessions, which the simulator cannot move.
fn mixed() -> Analysis {
    analysis(vec![
        row("T2", Metric::MeanTimePerSession, 9.5, true, false),
        row("T1", Metric::MeanTimePerSession, 60.5, true, true),
        row("T1", Metric::MeanRequestLatency, 234.0, true, true),
        row("T1", Metric::MeanTracksPerSession, 12.0, true, true),
        row("T1", Metric::Sessions, -1.0, false, false),
    ])
}

#[test]
fn rows_read_by_holm_in_their_direction_and_guardrails_by_their_threshold() {
    let result = |effect, holm, metric| row("T", metric, effect, true, holm).result;
    assert_eq!(result(9.5, false, Metric::Time), RowResult::NotSignificant);
    assert_eq!(result(9.5, true, Metric::Time), RowResult::Better);
    assert_eq!(result(-9.5, true, Metric::Time), RowResult::Worse);
    // 2 ms of a 5.4e-5 ms control is +3.7 million percent: +234 % passes.
    assert_eq!(
        result(234.0, true, Metric::MeanRequestLatency),
        RowResult::Pass
    );
    let threshold = row("T", Metric::MeanRequestLatency, 0.0, true, true).threshold;
    assert!(
        (threshold - 2.0 / 5.3812e-5 * 100.0).abs() < 1e-6,
        "{threshold}"
    );
    // An interval holding the threshold is unclear; one beyond it fails.
    assert_eq!(
        result(threshold, true, Metric::MeanRequestLatency),
        RowResult::Unclear
    );
    assert_eq!(
        result(threshold + 10.0, true, Metric::MeanRequestLatency),
        RowResult::Fail
    );
    assert_eq!(
        criteria().direction(Metric::MeanRequestLatency),
        Direction::Decrease
    );
}

#[test]
fn sections_follow_the_role_of_each_metric() {
    let a = mixed();
    let titles: Vec<(String, Vec<Metric>)> = sections(&a)
        .into_iter()
        .map(|s| (s.title, s.rows.iter().map(|r| r.metric).collect()))
        .collect();
    assert_eq!(titles.len(), 4, "{titles:?}");
    assert!(
        titles[0]
            .0
            .starts_with("Primary metric: mean_time_per_session")
    );
    assert_eq!(titles[0].1, [Metric::MeanTimePerSession; 2]);
    assert!(titles[1].0.starts_with("Guardrails"));
    assert_eq!(titles[1].1, [Metric::MeanRequestLatency]);
    assert!(titles[2].0.contains("do not decide"));
    assert_eq!(titles[2].1, [Metric::MeanTracksPerSession]);
    assert!(titles[3].0.starts_with("Not movable in this simulator"));
    assert_eq!(titles[3].1, [Metric::Sessions]);
    assert_eq!(a.rows[4].role, Role::NotMovable);
}

#[test]
fn html_sections_and_classes_follow_the_results() {
    let html = render(&Html, &mixed());
    let primary = between(&html, "<section id=\"primary\">", "</section>");
    let guardrails = between(&html, "<section id=\"guardrails\">", "</section>");
    assert!(!primary.contains("mean_request_latency"), "{primary}");
    assert!(guardrails.contains("mean_request_latency"), "{guardrails}");
    assert!(guardrails.contains("wall time") && guardrails.contains("--workers 1"));
    let tr = |s: &str, arm: &str| {
        s.split("<tr")
            .find(|r| r.contains(&format!("<td>{arm}</td>")))
            .map(str::to_string)
    };
    assert!(tr(primary, "T2").unwrap().starts_with(" class=\"ns\""));
    assert!(tr(primary, "T1").unwrap().starts_with(" class=\"better\""));
    // A latency increase inside its guardrail is a pass, not a "worse".
    let latency = tr(guardrails, "T1").unwrap();
    assert!(latency.starts_with(" class=\"better\""), "{latency}");
    assert!(
        latency.contains("<td class=\"result\">pass</td>"),
        "{latency}"
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
fn markdown_bolds_by_result_and_keeps_the_roles_apart() {
    let md = render(&Markdown, &mixed());
    let primary = between(&md, "## Primary metric", "## Guardrails");
    let guardrails = between(&md, "## Guardrails", "## Other metrics");
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
    assert!(line(primary, "T1").contains("| welch |"));
    assert!(line(guardrails, "T1").contains("| **+234%** |"));
    assert!(line(guardrails, "T1").ends_with("| pass |"));
    assert!(!primary.contains("mean_request_latency"));
}

#[test]
fn terminal_colours_by_result_and_fits_120_columns() {
    let a = analysis(vec![
        row("T2", Metric::MeanTracksPerSession, 9.5, true, false),
        row("T1", Metric::MeanTimePerSession, -60.5, true, true),
        row("T1", Metric::MeanRequestLatency, 6e6, true, true),
    ]);
    let plain = render(&Terminal { color: false }, &a);
    for line in plain.lines() {
        assert!(line.chars().count() <= 120, "{} wide: {line}", line.len());
    }
    assert!(!plain.contains('\x1b'));
    let guardrails = between(&plain, "Guardrails", "\n\n");
    assert!(guardrails.contains("mean_request_latency"));
    assert!(guardrails.trim_end().ends_with("fail"), "{guardrails}");
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
    // p and p_holm; the terminal shows only p_holm.
    for (text, shown) in [
        (render(&Markdown, &a), 2),
        (render(&Terminal { color: false }, &a), 1),
    ] {
        assert_eq!(text.matches("< 1e-300").count(), shown, "{text}");
        assert!(!text.contains("0.0e0"), "{text}");
    }
    let html = render(&Html, &a);
    assert_eq!(html.matches("&lt; 1e-300").count(), 2, "{html}");
    let csv = render(&Csv, &a);
    let line = csv.lines().nth(1).unwrap();
    assert!(
        line.contains(",1998.0,0.0,0.0,true,"),
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

/// `ab.csv` writes each number in its shortest exact form: a p-value of 5.98e-89 is 21
/// characters that parse back to the same double, not 105 digits of zeros; the new columns
/// follow the course's and the report's.
#[test]
fn csv_numbers_are_shortest_exact_and_the_new_columns_follow() {
    let mut r = row("T1", Metric::MeanTimePerSession, 60.5, true, true);
    r.p_value = 5.982978733323921e-89;
    r.p_holm = 1.1965957466647841e-88;
    let csv = render(&Csv, &analysis(vec![r.clone()]));
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        header[17..],
        [
            "method",
            "role",
            "direction",
            "guardrail",
            "threshold",
            "result",
            "variance_reduction",
            "se"
        ]
    );
    let fields: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| fields[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(column("p_value"), "5.982978733323921e-89");
    assert_eq!(column("p_value").parse::<f64>().unwrap(), r.p_value);
    assert_eq!(column("p_holm").parse::<f64>().unwrap(), r.p_holm);
    assert_eq!(column("effect").parse::<f64>().unwrap(), r.effect);
    assert_eq!(column("method"), "welch");
    assert_eq!(column("role"), "primary");
    assert_eq!(column("direction"), "increase");
    assert_eq!(column("result"), "better");
    assert_eq!(column("threshold"), "", "no threshold: empty, as NaN");
    assert!(fields.iter().all(|f| f.len() <= 24), "{fields:?}");
}
