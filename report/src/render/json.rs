//! `ab.json`: the whole analysis (log counters, arms with n/mean/var per metric, SRM
//! check, rows); undefined numbers are `null`.

use super::{Renderer, ReportContent};

pub struct Json;

impl Renderer for Json {
    fn file_name(&self) -> &'static str {
        "ab.json"
    }

    fn render(&self, content: &ReportContent<'_>) -> anyhow::Result<Vec<u8>> {
        let mut out = serde_json::to_vec_pretty(content.analysis)?;
        out.push(b'\n');
        Ok(out)
    }
}
