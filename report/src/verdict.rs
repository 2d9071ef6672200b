//! The decision per treatment: ship, don't ship, or inconclusive (and how many more users
//! would settle it), from the primary metric's interval and the guardrails' thresholds;
//! or no verdict at all when the run's health check fails.

use super::analysis::Row;
use super::design::{Criteria, Method, RowResult};
use super::metrics::Metric;
use super::render::{num, pct, pval};
use super::stats::{gavi_factor, z_quantile};
use botify_sim_core::experiment::plan::Unit;
use serde::Serialize;

/// Fewer users with finished sessions in an arm than this, and no verdict is given: the
/// normal approximation behind every interval is not to be trusted on so few users of
/// metrics as skewed as session time.
pub const MIN_USERS_PER_ARM: u64 = 100;

/// Why a verdict cannot be trusted, if anything says so.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Health {
    pub ok: bool,
    /// One sentence each.
    pub problems: Vec<String>,
}

impl Health {
    pub fn new(problems: Vec<String>) -> Health {
        Health {
            ok: problems.is_empty(),
            problems,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Ship,
    DontShip,
    Inconclusive,
    /// The health check failed.
    NoVerdict,
}

impl Decision {
    pub fn word(self) -> &'static str {
        match self {
            Decision::Ship => "ship",
            Decision::DontShip => "don't ship",
            Decision::Inconclusive => "inconclusive",
            Decision::NoVerdict => "no verdict",
        }
    }
}

/// A guardrail as the verdict judged it.
#[derive(Debug, Clone, Serialize)]
pub struct GuardrailCheck {
    pub metric: Metric,
    pub result: RowResult,
    pub effect: f64,
    pub lower: f64,
    pub upper: f64,
    /// The threshold in percent of the control mean, signed the bad way.
    pub threshold: f64,
    /// As the experiment gives it (`max_increase 2 ms`).
    pub guardrail: String,
    pub control_mean: f64,
    /// The threshold is in percent of the control mean (else in the metric's unit).
    pub relative: bool,
}

/// The verdict on one treatment.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub treatment: String,
    pub control: String,
    pub decision: Decision,
    pub metric: Metric,
    pub method: Method,
    /// Confidence of the interval that decided (Bonferroni over the treatments).
    pub confidence: f64,
    pub effect: f64,
    pub lower: f64,
    pub upper: f64,
    pub p_value: f64,
    pub guardrails: Vec<GuardrailCheck>,
    /// For an inconclusive verdict: about how many more users per arm would settle it at
    /// the report's power, if the effects stay as estimated.
    pub more_users_per_arm: Option<u64>,
    /// The verdict in one line, as every output opens with it.
    pub line: String,
}

/// What the verdicts are made from.
pub struct VerdictInputs<'a> {
    /// The rows at the verdict's level: alpha over the number of treatments.
    pub rows: &'a [Row],
    pub criteria: &'a Criteria,
    pub method: Method,
    pub health: &'a Health,
    pub control: &'a str,
    pub treatments: &'a [String],
    /// The verdict's alpha (Bonferroni) and the report's power.
    pub alpha: f64,
    pub power: f64,
    /// The sequential interval's tuning in units, when it decides.
    pub tuning: Option<f64>,
    /// Paired rows count pairs: one unit covers both arms.
    pub paired: bool,
}

pub fn verdicts(v: &VerdictInputs) -> Vec<Verdict> {
    v.treatments.iter().filter_map(|t| verdict(v, t)).collect()
}

fn find<'a>(rows: &'a [Row], treatment: &str, metric: Metric, method: Method) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.treatment == treatment && r.metric == metric && r.method == method)
}

fn verdict(v: &VerdictInputs, treatment: &str) -> Option<Verdict> {
    let primary = find(v.rows, treatment, v.criteria.primary, v.method)?;
    let guardrails: Vec<GuardrailCheck> = v
        .criteria
        .guardrails
        .iter()
        .filter_map(|g| {
            let r = find(v.rows, treatment, g.metric, v.method)?;
            Some(GuardrailCheck {
                metric: g.metric,
                result: g.judge(r.lower, r.upper, r.control_mean),
                effect: r.effect,
                lower: r.lower,
                upper: r.upper,
                threshold: g.threshold_percent(r.control_mean),
                guardrail: g.rule.describe(),
                control_mean: r.control_mean,
                relative: g.rule.threshold().unit == Unit::Percent,
            })
        })
        .collect();
    let direction = v.criteria.direction(v.criteria.primary);
    let good = primary.significant && direction.is_good(primary.effect);
    let bad = primary.significant && !good;
    let failed = guardrails.iter().any(|g| g.result == RowResult::Fail);
    let passed = guardrails.iter().all(|g| g.result == RowResult::Pass);
    let decision = if !v.health.ok {
        Decision::NoVerdict
    } else if bad || failed {
        Decision::DontShip
    } else if good && passed {
        Decision::Ship
    } else {
        Decision::Inconclusive
    };
    let more_users_per_arm = (decision == Decision::Inconclusive)
        .then(|| more_users(v, primary, good, &guardrails))
        .flatten();
    let mut verdict = Verdict {
        treatment: treatment.to_string(),
        control: v.control.to_string(),
        decision,
        metric: v.criteria.primary,
        method: v.method,
        confidence: 1.0 - v.alpha,
        effect: primary.effect,
        lower: primary.lower,
        upper: primary.upper,
        p_value: primary.p_value,
        guardrails,
        more_users_per_arm,
        line: String::new(),
    };
    verdict.line = line(&verdict, v.health);
    Some(verdict)
}

/// Users per arm that would give `power` to detect a difference of `gap` (in the units
/// of `se`, the standard error with `n` users per arm), less `n`.
fn users_for(v: &VerdictInputs, n: f64, se: f64, gap: f64) -> Option<f64> {
    if !(gap.abs() > 0.0 && se.is_finite() && n > 0.0) {
        return None;
    }
    let z_power = z_quantile(v.power);
    let needed_at = |critical: f64| n * ((critical + z_power) * se / gap.abs()).powi(2);
    let mut needed = needed_at(z_quantile(1.0 - v.alpha / 2.0));
    if let Some(tuning) = v.tuning {
        // The always-valid interval's width depends on the units: iterate to a fixed point.
        let units_per_arm = if v.paired { 1.0 } else { 2.0 };
        for _ in 0..50 {
            needed = needed_at(gavi_factor(needed * units_per_arm, tuning, v.alpha));
        }
    }
    needed.is_finite().then(|| (needed - n).max(0.0))
}

fn more_users(
    v: &VerdictInputs,
    primary: &Row,
    primary_good: bool,
    guardrails: &[GuardrailCheck],
) -> Option<u64> {
    let n = if v.paired {
        primary.control_n as f64
    } else {
        (primary.control_n + primary.treatment_n) as f64 / 2.0
    };
    let mut more: Vec<f64> = Vec::new();
    if !primary_good {
        more.push(users_for(
            v,
            n,
            primary.se,
            primary.effect / 100.0 * primary.control_mean,
        )?);
    }
    for g in guardrails.iter().filter(|g| g.result == RowResult::Unclear) {
        let r = find(v.rows, &primary.treatment, g.metric, v.method)?;
        let se_percent = r.se / r.control_mean.abs() * 100.0;
        more.push(users_for(v, n, se_percent, g.threshold - g.effect)?);
    }
    let most = more.into_iter().fold(0.0f64, f64::max);
    Some(most.ceil() as u64)
}

/// `Verdict on T1 vs C: SHIP: mean_time_per_session +156% [+144%, +169%] (welch, 95%
/// interval, p = ...); guardrail mean_request_latency pass: ...`.
fn line(v: &Verdict, health: &Health) -> String {
    let head = format!(
        "Verdict on {} vs {}: {}",
        v.treatment,
        v.control,
        v.decision.word().to_uppercase()
    );
    if v.decision == Decision::NoVerdict {
        return format!("{head}: {}", health.problems.join("; "));
    }
    let mut text = format!(
        "{head}: {} {} [{}, {}] ({}, {}% interval, p = {})",
        v.metric,
        pct(v.effect),
        pct(v.lower),
        pct(v.upper),
        v.method,
        // 95, 97.5: no digits beyond the level's own.
        (v.confidence * 1e6).round() / 1e4,
        pval(v.p_value)
    );
    for g in &v.guardrails {
        // In the threshold's own terms: percent, or the metric's unit (2 ms).
        let show = |percent: f64| {
            if g.relative {
                pct(percent)
            } else {
                let amount = percent / 100.0 * g.control_mean;
                let sign = if amount > 0.0 { "+" } else { "" };
                format!("{sign}{}", num(amount))
            }
        };
        let unit = if g.relative { "" } else { g.metric.unit() };
        text.push_str(&format!(
            "; guardrail {} {}: {} [{}, {}] {unit} against {}",
            g.metric,
            g.result.word(),
            show(g.effect),
            show(g.lower),
            show(g.upper),
            g.guardrail,
        ));
    }
    match (v.decision, v.more_users_per_arm) {
        (Decision::Inconclusive, Some(more)) => text.push_str(&format!(
            "; about {more} more users per arm would settle it if the effects stay as estimated"
        )),
        (Decision::Inconclusive, None) => {
            text.push_str("; no effect visible to size a larger run on")
        }
        _ => {}
    }
    text
}
