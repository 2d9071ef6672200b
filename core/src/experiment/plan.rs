//! What an experiment decides by, as its file declares it: the primary metric, the
//! guardrails with their practical thresholds, and whether its arms are paired.
//!
//! Metric names are checked by the report, which knows the metrics; this module only
//! reads the file.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;

/// The decision plan of an experiment (all optional in its file).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The metric that decides (`primary: mean_time_per_session`); the report's default
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
    /// Guardrail metrics and how far they may move the wrong way.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub guardrails: BTreeMap<String, Guardrail>,
    /// Play every episode under every arm (`sim run --paired`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paired: bool,
}

impl Plan {
    pub fn is_default(&self) -> bool {
        *self == Plan::default()
    }
}

/// How far a guardrail may move the wrong way: `{max_increase: 2 ms}` or
/// `{max_decrease: 5 %}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "GuardrailKeys", into = "GuardrailKeys")]
pub enum Guardrail {
    /// An increase is bad; up to this much is acceptable.
    MaxIncrease(Threshold),
    /// A decrease is bad; up to this much is acceptable.
    MaxDecrease(Threshold),
}

/// A guardrail as its file writes it: exactly one of the keys. (A map rather than an
/// enum: the YAML parser reads enum variants only as `!tags`.)
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GuardrailKeys {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_increase: Option<Threshold>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_decrease: Option<Threshold>,
}

impl TryFrom<GuardrailKeys> for Guardrail {
    type Error = String;

    fn try_from(keys: GuardrailKeys) -> Result<Guardrail, String> {
        match (keys.max_increase, keys.max_decrease) {
            (Some(t), None) => Ok(Guardrail::MaxIncrease(t)),
            (None, Some(t)) => Ok(Guardrail::MaxDecrease(t)),
            _ => Err(
                "a guardrail takes one of max_increase or max_decrease, e.g. {max_increase: 2 ms}"
                    .to_string(),
            ),
        }
    }
}

impl From<Guardrail> for GuardrailKeys {
    fn from(guardrail: Guardrail) -> GuardrailKeys {
        let (max_increase, max_decrease) = match guardrail {
            Guardrail::MaxIncrease(t) => (Some(t), None),
            Guardrail::MaxDecrease(t) => (None, Some(t)),
        };
        GuardrailKeys {
            max_increase,
            max_decrease,
        }
    }
}

impl Guardrail {
    pub fn threshold(self) -> Threshold {
        match self {
            Guardrail::MaxIncrease(t) | Guardrail::MaxDecrease(t) => t,
        }
    }

    /// `max_increase 2 ms`, as the file says it.
    pub fn describe(self) -> String {
        match self {
            Guardrail::MaxIncrease(t) => format!("max_increase {t}"),
            Guardrail::MaxDecrease(t) => format!("max_decrease {t}"),
        }
    }
}

/// A practical threshold: an amount in the metric's own unit, in milliseconds, or in
/// percent of the control mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    /// Non-negative and finite.
    pub amount: f64,
    pub unit: Unit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// The metric's own unit (a bare number).
    Metric,
    /// Milliseconds (`ms`; `us`, `µs` and `s` are converted).
    Milliseconds,
    /// Percent of the control mean (`%`).
    Percent,
}

impl std::fmt::Display for Threshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.unit {
            Unit::Metric => write!(f, "{}", self.amount),
            Unit::Milliseconds => write!(f, "{} ms", self.amount),
            Unit::Percent => write!(f, "{} %", self.amount),
        }
    }
}

impl std::str::FromStr for Threshold {
    type Err = String;

    /// `2 ms`, `2ms`, `500 us`, `0.1 s`, `5 %`, `5%` or a bare number.
    fn from_str(text: &str) -> Result<Threshold, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')))
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let bad = || {
            format!(
                "expected a threshold such as `2 ms`, `5 %` or a number in the metric's unit, got {text:?}"
            )
        };
        let amount: f64 = number.trim().parse().map_err(|_| bad())?;
        let (scale, unit) = match unit.trim() {
            "" => (1.0, Unit::Metric),
            "%" => (1.0, Unit::Percent),
            "ms" => (1.0, Unit::Milliseconds),
            "us" | "µs" => (1e-3, Unit::Milliseconds),
            "s" => (1e3, Unit::Milliseconds),
            _ => return Err(bad()),
        };
        let amount = amount * scale;
        if !(amount.is_finite() && amount >= 0.0) {
            return Err(format!(
                "a threshold is a finite amount >= 0 (the direction is in its key), got {text:?}"
            ));
        }
        Ok(Threshold { amount, unit })
    }
}

impl Serialize for Threshold {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ThresholdVisitor;
        impl Visitor<'_> for ThresholdVisitor {
            type Value = Threshold;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a threshold such as `2 ms`, `5 %` or a number")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Threshold, E> {
                text.parse().map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Threshold, E> {
                self.visit_str(&value.to_string())
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Threshold, E> {
                self.visit_str(&value.to_string())
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Threshold, E> {
                self.visit_str(&value.to_string())
            }
        }
        deserializer.deserialize_any(ThresholdVisitor)
    }
}

/// `METRIC=THRESHOLD` of `sim report --guardrail`: `mean_request_latency=+2ms` (an
/// increase up to 2 ms is acceptable) or `mean_tracks_per_session=-5%` (a decrease up to
/// 5 %); without a sign, an increase.
pub fn parse_guardrail_flag(text: &str) -> Result<(String, Guardrail), String> {
    let Some((metric, threshold)) = text.split_once('=') else {
        return Err(format!(
            "expected METRIC=THRESHOLD such as mean_request_latency=+2ms, got {text:?}"
        ));
    };
    let threshold = threshold.trim();
    let (guardrail, amount): (fn(Threshold) -> Guardrail, &str) = match threshold.strip_prefix('-')
    {
        Some(rest) => (Guardrail::MaxDecrease, rest),
        None => (
            Guardrail::MaxIncrease,
            threshold.strip_prefix('+').unwrap_or(threshold),
        ),
    };
    let threshold: Threshold = amount.parse().map_err(|e| format!("{text:?}: {e}"))?;
    Ok((metric.trim().to_string(), guardrail(threshold)))
}
