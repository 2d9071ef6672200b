//! `report.html`: one self-contained file, the table and the charts as inline SVG.

use super::{HEADERS, Renderer, ReportContent, cells, preamble};

pub struct Html;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:'DejaVu Sans',Verdana,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;font-size:14px}th,td{border:1px solid #ccc;padding:4px 8px}\
td.n{text-align:right;font-variant-numeric:tabular-nums}tr.pos td{background:#e6f4ea}\
tr.neg td{background:#fce8e6}tr.ns td{color:#777}.srm{background:#fce8e6;border:2px solid #c5221f;\
padding:1em;font-weight:bold}figure{margin:2em 0}";

impl Renderer for Html {
    fn file_name(&self) -> &'static str {
        "report.html"
    }

    fn render(&self, content: &ReportContent<'_>) -> anyhow::Result<Vec<u8>> {
        let a = content.analysis;
        let title = format!("A/B report: {}", a.experiment);
        let mut out = format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
            esc(&title),
            esc(&title)
        );
        let (srm, lines) = preamble(a);
        if let Some(srm) = srm {
            out.push_str(&format!("<p class=\"srm\">WARNING: {}</p>\n", esc(&srm)));
        }
        for line in lines {
            out.push_str(&format!("<p>{}</p>\n", esc(&line)));
        }
        out.push_str("<table>\n<tr>");
        for h in HEADERS {
            out.push_str(&format!("<th>{}</th>", esc(h)));
        }
        out.push_str("</tr>\n");
        for row in &a.rows {
            let class = match (row.significant, row.effect > 0.0) {
                (true, true) => "pos",
                (true, false) => "neg",
                _ => "ns",
            };
            out.push_str(&format!("<tr class=\"{class}\">"));
            for (i, c) in cells(row).iter().enumerate() {
                let cls = if i < 2 { "" } else { " class=\"n\"" };
                out.push_str(&format!("<td{cls}>{}</td>", esc(c)));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
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
