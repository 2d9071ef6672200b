//! The table for a terminal: aligned columns; with colour, significant effects are green
//! (positive) or red (negative) and non-significant rows dim.

use super::{HEADERS, Renderer, ReportContent, cells, preamble};

pub struct Terminal {
    pub color: bool,
}

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const DIM: &str = "\x1b[2m";
const BOLD_RED: &str = "\x1b[1;31m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

impl Renderer for Terminal {
    fn file_name(&self) -> &'static str {
        "report.txt"
    }

    fn render(&self, content: &ReportContent<'_>) -> anyhow::Result<Vec<u8>> {
        let a = content.analysis;
        let mut out = String::new();
        let (srm, lines) = preamble(a);
        if let Some(srm) = srm {
            if self.color {
                out.push_str(&format!("{BOLD_RED}WARNING: {srm}{RESET}\n\n"));
            } else {
                out.push_str(&format!("WARNING: {srm}\n\n"));
            }
        }
        for line in lines {
            out.push_str(&line);
            out.push('\n');
        }
        out.push('\n');
        let rows: Vec<[String; 13]> = a.rows.iter().map(cells).collect();
        let mut widths: Vec<usize> = HEADERS.iter().map(|h| h.chars().count()).collect();
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r.iter()) {
                *w = (*w).max(c.chars().count());
            }
        }
        let fmt_line = |cells: &[String]| -> String {
            cells
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (c, w))| {
                    let pad = w - c.chars().count();
                    if i < 2 {
                        format!("{c}{}", " ".repeat(pad))
                    } else {
                        format!("{}{c}", " ".repeat(pad))
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
        };
        let header: Vec<String> = HEADERS.iter().map(|h| h.to_string()).collect();
        let head = fmt_line(&header);
        if self.color {
            out.push_str(&format!("{BOLD}{head}{RESET}\n"));
        } else {
            out.push_str(&head);
            out.push('\n');
        }
        out.push_str(&"-".repeat(head.chars().count()));
        out.push('\n');
        for (row, cells) in a.rows.iter().zip(&rows) {
            let line = fmt_line(cells);
            if self.color {
                let colour = match (row.significant, row.effect > 0.0) {
                    (true, true) => GREEN,
                    (true, false) => RED,
                    _ => DIM,
                };
                out.push_str(&format!("{colour}{line}{RESET}\n"));
            } else {
                out.push_str(&line);
                out.push('\n');
            }
        }
        if a.rows.is_empty() {
            out.push_str("(no treatment besides the control)\n");
        }
        Ok(out.into_bytes())
    }
}
