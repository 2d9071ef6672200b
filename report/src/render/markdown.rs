//! `report.md`: the tables (primary metrics, then guardrails) and the charts, ready to
//! paste into a pull request. Effects that are significant by the Holm-adjusted p are
//! bold; the `result` column says better or worse in the metric's direction.

use super::{COLUMNS, Column, Renderer, ReportContent, Verdict, cells, preamble, sections};

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
                if Verdict::of(row) != Verdict::NotSignificant
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
