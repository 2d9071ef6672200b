//! `report.md`: the table and the charts, ready to paste into a pull request.

use super::{HEADERS, Renderer, ReportContent, cells, preamble};

pub struct Markdown;

impl Renderer for Markdown {
    fn file_name(&self) -> &'static str {
        "report.md"
    }

    fn render(&self, content: &ReportContent<'_>) -> anyhow::Result<Vec<u8>> {
        let a = content.analysis;
        let mut out = format!("# A/B report: `{}`\n\n", a.experiment);
        let (srm, lines) = preamble(a);
        if let Some(srm) = srm {
            out.push_str(&format!("> **WARNING:** {srm}\n\n"));
        }
        for line in lines {
            out.push_str(&line);
            out.push_str("\n\n");
        }
        out.push_str(&format!("| {} |\n", HEADERS.join(" | ")));
        out.push_str(&format!(
            "|{}\n",
            HEADERS
                .iter()
                .enumerate()
                .map(|(i, _)| if i < 2 { " --- |" } else { " ---: |" })
                .collect::<String>()
        ));
        for row in &a.rows {
            let mut c = cells(row);
            if row.significant {
                for x in c.iter_mut().skip(2).take(1) {
                    *x = format!("**{x}**");
                }
            }
            out.push_str(&format!("| {} |\n", c.join(" | ")));
        }
        out.push('\n');
        for (stem, title, _) in &content.charts {
            out.push_str(&format!("![{title}]({stem}.png)\n\n"));
        }
        Ok(out.into_bytes())
    }
}
