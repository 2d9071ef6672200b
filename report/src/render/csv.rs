//! `ab.csv`: one row per comparison, full precision (shortest round-trip), the course's
//! columns first.

use super::{Renderer, ReportContent};

pub struct Csv;

/// The CSV columns, in order.
pub const COLUMNS: [&str; 17] = [
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
];

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn float(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else {
        format!("{x}")
    }
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
            ];
            out.push_str(&fields.join(","));
            out.push('\n');
        }
        Ok(out.into_bytes())
    }
}
