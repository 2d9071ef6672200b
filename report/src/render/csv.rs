//! `ab.csv`: one row per comparison, numbers in their shortest exact form (ryu's
//! shortest round-trip digits, `5.98e-89` rather than 154 digits of zeros), the course's
//! columns first, then this report's.

use super::{Renderer, ReportContent};

pub struct Csv;

/// The CSV columns, in order.
pub const COLUMNS: [&str; 25] = [
    "treatment",
    "metric",
    "effect",
    "upper",
    "lower",
    "control_mean",
    "treatment_mean",
    "significant",
    "control_n",
    "treatment_n",
    "dof",
    "p_value",
    "p_holm",
    "significant_holm",
    "delta_lower",
    "delta_upper",
    "mde",
    "method",
    "role",
    "direction",
    "guardrail",
    "threshold",
    "result",
    "variance_reduction",
    "se",
];

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Shortest round-trip digits (as JSON writes them); empty when undefined, `inf`/`-inf`
/// for infinities (as pandas reads them).
fn float(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        ryu::Buffer::new().format_finite(x).to_string()
    }
}

/// A serde enum's JSON name (`welch`, `not_movable`), as `ab.json` writes it.
fn word<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl Renderer for Csv {
    fn file_name(&self) -> &'static str {
        "ab.csv"
    }

    fn render(&self, content: &ReportContent<'_>) -> anyhow::Result<Vec<u8>> {
        let mut out = COLUMNS.join(",");
        out.push('\n');
        for r in &content.analysis.rows {
            let fields = [
                field(&r.treatment),
                r.metric.name().to_string(),
                float(r.effect),
                float(r.upper),
                float(r.lower),
                float(r.control_mean),
                float(r.treatment_mean),
                r.significant.to_string(),
                r.control_n.to_string(),
                r.treatment_n.to_string(),
                float(r.dof),
                float(r.p_value),
                float(r.p_holm),
                r.significant_holm.to_string(),
                float(r.delta_lower),
                float(r.delta_upper),
                float(r.mde),
                r.method.name().to_string(),
                word(&r.role),
                word(&r.direction),
                field(&r.guardrail),
                float(r.threshold),
                word(&r.result),
                float(r.variance_reduction),
                float(r.se),
            ];
            out.push_str(&fields.join(","));
            out.push('\n');
        }
        Ok(out.into_bytes())
    }
}
