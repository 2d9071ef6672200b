//! `report.md`: the verdicts, the tables (primary metric, guardrails, other metrics) and
//! the charts, ready to paste into a pull request. Effects that read better or worse (or a
//! guardrail's pass or fail) are bold; the `result` column says which.

use super::{COLUMNS, Column, Renderer, ReportContent, cells, preamble, sections};
use crate::design::Tone;

pub struct Markdown;

impl Renderer for Markdown {
    fn file_name(&self) -> &'static str {
        "report.md"
    }

    fn render(&self, content: &ReportContent<'_>) -> anyhow::Result<Vec<u8>> {
        let a = content.analysis;
        let mut out = format!("# A/B report: `{}`\n\n", a.experiment);
        let columns: Vec<&Column> = COLUMNS.iter().collect();
        let preamble = preamble(a, &columns);
        for verdict in &preamble.verdicts {
            out.push_str(&format!("**{verdict}**\n\n"));
        }
        if let Some(srm) = &preamble.srm {
            out.push_str(&format!("> **WARNING:** {srm}\n\n"));
        }
        for line in preamble.facts.iter().chain(&preamble.notes) {
            out.push_str(line);
            out.push_str("\n\n");
        }
        let effect = COLUMNS.iter().position(|c| c.header == "effect");
        for section in sections(a) {
            out.push_str(&format!("## {}\n\n", section.title));
            for note in &section.notes {
                out.push_str(note);
                out.push_str("\n\n");
            }
            let headers: Vec<&str> = COLUMNS.iter().map(|c| c.header).collect();
            out.push_str(&format!("| {} |\n|", headers.join(" | ")));
            for c in &COLUMNS {
                out.push_str(if c.numeric { " ---: |" } else { " --- |" });
            }
            out.push('\n');
            for row in &section.rows {
                let mut c = cells(row);
                if row.result.tone() != Tone::Neutral
                    && let Some(i) = effect
                {
                    c[i] = format!("**{}**", c[i]);
                }
                out.push_str(&format!("| {} |\n", c.join(" | ")));
            }
            out.push('\n');
        }
        if a.rows.is_empty() {
            out.push_str("(no treatment besides the control)\n\n");
        }
        for (stem, title, _) in &content.charts {
            out.push_str(&format!("![{title}]({stem}.png)\n\n"));
        }
        Ok(out.into_bytes())
    }
}
