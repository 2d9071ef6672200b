//! `report.html`: one self-contained page, the verdicts, the tables (primary metric,
//! guardrails, other metrics) and the charts as inline SVG. Rows are classed `better`,
//! `worse` or `ns` by their result (a guardrail's pass is `better`, its fail `worse`); cells do not wrap, and the table fits a
//! 1280 px window (a narrower one scrolls the table, not the page).

use super::{COLUMNS, Column, Renderer, ReportContent, cells, preamble, sections};
use crate::design::Tone;

pub struct Html;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Prose for the page: escaped, and the Markdown code spans the notes share with the
/// terminal and `report.md` (`` `C` ``, `` `--workers 1` ``) set as `<code>` rather than
/// shown with their backticks. An unmatched backtick stays as it is.
fn prose(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    let mut out = String::with_capacity(s.len());
    for (i, part) in parts.iter().enumerate() {
        let unmatched = i + 1 == parts.len() && i % 2 == 1;
        if unmatched {
            out.push('`');
            out.push_str(&esc(part));
        } else if i % 2 == 1 {
            out.push_str(&format!("<code>{}</code>", esc(part)));
        } else {
            out.push_str(&esc(part));
        }
    }
    out
}

const STYLE: &str = "body{font-family:'DejaVu Sans',Verdana,sans-serif;margin:1.5em auto;\
max-width:1200px;padding:0 1em;color:#222;line-height:1.4}\
.table{overflow-x:auto}table{border-collapse:collapse;font-size:13px}\
th,td{border:1px solid #ccc;padding:3px 6px}th{background:#f3f3f3;vertical-align:bottom}\
td{white-space:nowrap}td.n{text-align:right;font-variant-numeric:tabular-nums}\
tr.better td{background:#e6f4ea}tr.worse td{background:#fce8e6}tr.ns td{color:#666}\
tr.better td.result{color:#0b6b2b;font-weight:bold}tr.worse td.result{color:#b3261e;font-weight:bold}\
.note{color:#444}.verdict{font-weight:bold;font-size:110%}.srm{background:#fce8e6;border:2px solid #c5221f;padding:1em;font-weight:bold}\
code{font-family:'DejaVu Sans Mono',monospace;font-size:90%;background:#f3f3f3;padding:0 .2em}\
figure{margin:2em 0}svg{max-width:100%;height:auto}";

impl Renderer for Html {
    fn file_name(&self) -> &'static str {
        "report.html"
    }

    fn render(&self, content: &ReportContent<'_>) -> anyhow::Result<Vec<u8>> {
        let a = content.analysis;
        let title = format!("A/B report: {}", a.experiment);
        let mut out = format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width\">\
             <title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
            esc(&title),
            esc(&title)
        );
        let columns: Vec<&Column> = COLUMNS.iter().collect();
        let preamble = preamble(a, &columns);
        for verdict in &preamble.verdicts {
            out.push_str(&format!("<p class=\"verdict\">{}</p>\n", prose(verdict)));
        }
        if let Some(srm) = &preamble.srm {
            out.push_str(&format!("<p class=\"srm\">WARNING: {}</p>\n", prose(srm)));
        }
        for line in preamble.facts.iter().chain(&preamble.notes) {
            out.push_str(&format!("<p class=\"note\">{}</p>\n", prose(line)));
        }
        for section in sections(a) {
            out.push_str(&format!(
                "<section id=\"{}\">\n<h2>{}</h2>\n",
                section.id,
                esc(&section.title)
            ));
            for note in &section.notes {
                out.push_str(&format!("<p class=\"note\">{}</p>\n", prose(note)));
            }
            out.push_str("<div class=\"table\"><table>\n<tr>");
            for c in &COLUMNS {
                out.push_str(&format!("<th>{}</th>", esc(c.header)));
            }
            out.push_str("</tr>\n");
            for row in &section.rows {
                let class = match row.result.tone() {
                    Tone::Good => "better",
                    Tone::Bad => "worse",
                    Tone::Neutral => "ns",
                };
                out.push_str(&format!("<tr class=\"{class}\">"));
                for (c, cell) in COLUMNS.iter().zip(cells(row)) {
                    let class = match (c.numeric, c.header) {
                        (_, "result") => " class=\"result\"",
                        (true, _) => " class=\"n\"",
                        _ => "",
                    };
                    out.push_str(&format!("<td{class}>{}</td>", esc(&cell)));
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</table></div>\n</section>\n");
        }
        if a.rows.is_empty() {
            out.push_str("<p>(no treatment besides the control)</p>\n");
        }
        for (_, title, svg) in &content.charts {
            // The SVG document without its XML declaration, if any.
            let body = svg.find("<svg").map_or(svg.as_str(), |start| &svg[start..]);
            out.push_str(&format!(
                "<figure>{body}<figcaption>{}</figcaption></figure>\n",
                esc(title)
            ));
        }
        out.push_str("</body></html>\n");
        Ok(out.into_bytes())
    }
}
