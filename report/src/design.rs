//! What a row of the table is and what it is for: the method that made its interval, the
//! role of its metric in the decision, the direction that is good, and how it reads.

use super::metrics::Metric;
use anyhow::bail;
use botify_sim_core::experiment::plan::{Guardrail, Plan, Unit};
use serde::Serialize;

/// How a row's interval was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Independent arms, Welch's t interval: the course notebook's rows.
    Welch,
    /// Paired arms (every episode played under every arm): differences per user.
    Paired,
    /// Paired arms, differences per episode (the pair), each episode one unit.
    PairedEpisode,
    /// Independent arms, each user's value adjusted by their pre-period covariate.
    Cuped,
    /// The always-valid interval of the deciding estimator (Welch, paired or CUPED): safe
    /// to look at after every day.
    Sequential,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Welch => "welch",
            Method::Paired => "paired",
            Method::PairedEpisode => "paired_episode",
            Method::Cuped => "cuped",
            Method::Sequential => "sequential",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The part a metric plays in the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The metric that decides.
    Primary,
    /// Must not move the wrong way by more than its threshold.
    Guardrail,
    /// Shown (the notebook's rows), does not decide.
    Secondary,
    /// No recommender can move it in the simulator (`sessions`: users draw their sessions
    /// whatever they are recommended); shown, does not decide.
    NotMovable,
}

/// Which way of a metric is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Increase,
    Decrease,
}

impl Direction {
    /// Whether an effect of this sign is good.
    pub fn is_good(self, effect: f64) -> bool {
        match self {
            Direction::Increase => effect > 0.0,
            Direction::Decrease => effect < 0.0,
        }
    }
}

/// How a row reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowResult {
    /// Significant (by the Holm-adjusted p) in the good direction.
    Better,
    /// Significant in the bad direction.
    Worse,
    #[serde(rename = "n.s.")]
    NotSignificant,
    /// A guardrail whose interval stays inside its threshold.
    Pass,
    /// A guardrail whose interval lies beyond its threshold.
    Fail,
    /// A guardrail whose interval holds its threshold: more users would tell.
    Unclear,
}

impl RowResult {
    pub fn word(self) -> &'static str {
        match self {
            RowResult::Better => "better",
            RowResult::Worse => "worse",
            RowResult::NotSignificant => "n.s.",
            RowResult::Pass => "pass",
            RowResult::Fail => "fail",
            RowResult::Unclear => "unclear",
        }
    }

    /// Good, bad or neither: the colour of a row.
    pub fn tone(self) -> Tone {
        match self {
            RowResult::Better | RowResult::Pass => Tone::Good,
            RowResult::Worse | RowResult::Fail => Tone::Bad,
            RowResult::NotSignificant | RowResult::Unclear => Tone::Neutral,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Bad,
    Neutral,
}

/// A guardrail of the decision, its metric checked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GuardrailRule {
    pub metric: Metric,
    pub rule: Guardrail,
}

impl GuardrailRule {
    /// The direction that is good (the opposite of the one the threshold bounds).
    pub fn direction(&self) -> Direction {
        match self.rule {
            Guardrail::MaxIncrease(_) => Direction::Decrease,
            Guardrail::MaxDecrease(_) => Direction::Increase,
        }
    }

    /// The threshold as an effect in percent of the control mean, signed the bad way
    /// (`+x` for a maximum increase, `-x` for a maximum decrease).
    pub fn threshold_percent(&self, control_mean: f64) -> f64 {
        let t = self.rule.threshold();
        let percent = match t.unit {
            Unit::Percent => t.amount,
            Unit::Metric | Unit::Milliseconds => t.amount / control_mean.abs() * 100.0,
        };
        match self.rule {
            Guardrail::MaxIncrease(_) => percent,
            Guardrail::MaxDecrease(_) => -percent,
        }
    }

    /// Pass when the whole interval (percent) is on the good side of the threshold, fail
    /// when it is all beyond it.
    pub fn judge(&self, lower: f64, upper: f64, control_mean: f64) -> RowResult {
        let limit = self.threshold_percent(control_mean);
        if !(lower.is_finite() && upper.is_finite() && limit.is_finite()) {
            return RowResult::Unclear;
        }
        let (inside, beyond) = match self.rule {
            Guardrail::MaxIncrease(_) => (upper < limit, lower > limit),
            Guardrail::MaxDecrease(_) => (lower > limit, upper < limit),
        };
        if inside {
            RowResult::Pass
        } else if beyond {
            RowResult::Fail
        } else {
            RowResult::Unclear
        }
    }
}

/// The metric that decides when an experiment names none: the course notebook's and the
/// report's one mean session time.
pub const DEFAULT_PRIMARY: Metric = Metric::MeanTimePerSession;

/// What decides, the experiment's plan with its metric names checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Criteria {
    pub primary: Metric,
    pub guardrails: Vec<GuardrailRule>,
}

impl Default for Criteria {
    fn default() -> Self {
        Criteria {
            primary: DEFAULT_PRIMARY,
            guardrails: Vec::new(),
        }
    }
}

impl Criteria {
    /// Checks an experiment's plan: known metric names, a unit each threshold's metric
    /// has, the primary not also a guardrail. Errors name the key and the value.
    pub fn from_plan(plan: &Plan) -> anyhow::Result<Criteria> {
        let metric = |key: &str, name: &str| {
            Metric::from_name(name).ok_or_else(|| {
                let names: Vec<&str> = Metric::of_table(true).iter().map(|m| m.name()).collect();
                anyhow::anyhow!(
                    "{key}: unknown metric `{name}`; the metrics are {}",
                    names.join(", ")
                )
            })
        };
        let primary = match &plan.primary {
            Some(name) => metric("primary", name)?,
            None => DEFAULT_PRIMARY,
        };
        let mut guardrails = Vec::new();
        for (name, rule) in &plan.guardrails {
            let key = format!("guardrails.{name}");
            let m = metric(&key, name)?;
            if m == primary {
                bail!(
                    "{key}: `{name}` is the primary metric; it decides, it cannot also be a guardrail"
                );
            }
            let t = rule.threshold();
            if t.unit == Unit::Milliseconds && m.unit() != "ms" {
                bail!(
                    "{key}: a threshold in ms for `{name}`, whose unit is {}; give a number of {} or a percentage",
                    m.unit(),
                    m.unit()
                );
            }
            guardrails.push(GuardrailRule {
                metric: m,
                rule: *rule,
            });
        }
        Ok(Criteria {
            primary,
            guardrails,
        })
    }

    pub fn guardrail(&self, metric: Metric) -> Option<&GuardrailRule> {
        self.guardrails.iter().find(|g| g.metric == metric)
    }

    /// The role of `metric`; `simulated`: the log is a simulator's, where `sessions`
    /// cannot move.
    pub fn role(&self, metric: Metric, simulated: bool) -> Role {
        if metric == self.primary {
            Role::Primary
        } else if self.guardrail(metric).is_some() {
            Role::Guardrail
        } else if simulated && metric == Metric::Sessions {
            Role::NotMovable
        } else {
            Role::Secondary
        }
    }

    /// The good direction of `metric`.
    pub fn direction(&self, metric: Metric) -> Direction {
        match self.guardrail(metric) {
            Some(g) => g.direction(),
            None => metric.natural_direction(),
        }
    }
}
