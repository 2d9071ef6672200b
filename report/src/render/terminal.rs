//! The tables for a terminal: the verdicts first, then the primary metric, the guardrails
//! and the other metrics, aligned columns, at most about 120 characters wide (explanatory
//! prose wrapped at [`WIDTH`], detail columns left to the files; the lines saying what was
//! read and the verdicts stay whole). With colour, a row is green when better (or a
//! guardrail passes), red when worse (or it fails) and dim otherwise; without colour the
//! `result` column says the same.

use super::{COLUMNS, Column, Renderer, ReportContent, cells, preamble, sections};
use crate::design::Tone;

pub struct Terminal {
    pub color: bool,
}

/// Prose is wrapped at this many characters.
const WIDTH: usize = 100;

/// A text cell wider than this (`mean_time_per_session_without_first_track`, 41, would
/// make the table 130 wide) goes on over more lines, broken after an underscore.
const TEXT_CELL: usize = 24;

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const DIM: &str = "\x1b[2m";
const BOLD_RED: &str = "\x1b[1;31m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// The lines of a text cell: `text` broken after underscores into pieces of at most
/// `width` characters (a piece without an underscore to break at stays whole).
pub fn split_cell(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for piece in text.split_inclusive('_') {
        let line = lines.last_mut().expect("one line at least");
        if !line.is_empty() && line.chars().count() + piece.chars().count() > width {
            lines.push(piece.to_string());
        } else {
            line.push_str(piece);
        }
    }
    lines
}

/// `text` with its spaces turned into line breaks where a line would pass `width`
/// (a word longer than `width` stays whole).
pub fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line_len = 0;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let len = word.chars().count();
        if line_len > 0 && line_len + 1 + len > width {
            out.push('\n');
            line_len = 0;
        } else if line_len > 0 {
            out.push(' ');
            line_len += 1;
        }
        out.push_str(word);
        line_len += len;
    }
    out
}

impl Terminal {
    fn paint(&self, colour: &str, text: &str) -> String {
        if self.color {
            format!("{colour}{text}{RESET}")
        } else {
            text.to_string()
        }
    }
}

impl Renderer for Terminal {
    fn file_name(&self) -> &'static str {
        "report.txt"
    }

    fn render(&self, content: &ReportContent<'_>) -> anyhow::Result<Vec<u8>> {
        let a = content.analysis;
        let shown: Vec<usize> = (0..COLUMNS.len())
            .filter(|&i| COLUMNS[i].in_terminal)
            .collect();
        let columns: Vec<&Column> = shown.iter().map(|&i| &COLUMNS[i]).collect();
        let mut out = String::new();
        let preamble = preamble(a, &columns);
        for verdict in &preamble.verdicts {
            out.push_str(&self.paint(BOLD, verdict));
            out.push('\n');
        }
        if !preamble.verdicts.is_empty() {
            out.push('\n');
        }
        if let Some(srm) = &preamble.srm {
            out.push_str(&self.paint(BOLD_RED, &format!("WARNING: {srm}")));
            out.push_str("\n\n");
        }
        for line in &preamble.facts {
            out.push_str(line);
            out.push('\n');
        }
        for note in &preamble.notes {
            out.push_str(&wrap(note, WIDTH));
            out.push('\n');
        }
        let sections = sections(a);
        // One set of column widths for every section, so the tables line up. Each cell is
        // its lines: one, or more for a long text cell.
        let rows: Vec<Vec<Vec<String>>> = sections
            .iter()
            .flat_map(|s| &s.rows)
            .map(|r| {
                let all = cells(r);
                shown
                    .iter()
                    .map(|&i| {
                        if COLUMNS[i].numeric {
                            vec![all[i].clone()]
                        } else {
                            split_cell(&all[i], TEXT_CELL)
                        }
                    })
                    .collect()
            })
            .collect();
        let mut widths: Vec<usize> = columns.iter().map(|c| c.header.chars().count()).collect();
        for r in &rows {
            for (w, lines) in widths.iter_mut().zip(r) {
                for line in lines {
                    *w = (*w).max(line.chars().count());
                }
            }
        }
        let fmt_line = |cells: &[String]| -> String {
            cells
                .iter()
                .zip(&widths)
                .zip(&columns)
                .map(|((c, w), col)| {
                    let pad = " ".repeat(w - c.chars().count());
                    if col.numeric {
                        format!("{pad}{c}")
                    } else {
                        format!("{c}{pad}")
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        let header: Vec<String> = columns.iter().map(|c| c.header.to_string()).collect();
        let head = fmt_line(&header);
        let rule = "-".repeat(head.chars().count());
        let mut rows = rows.iter();
        for section in &sections {
            out.push('\n');
            out.push_str(&self.paint(BOLD, &section.title));
            out.push('\n');
            for note in &section.notes {
                out.push_str(&wrap(note, WIDTH));
                out.push('\n');
            }
            out.push_str(&self.paint(BOLD, &head));
            out.push('\n');
            out.push_str(&rule);
            out.push('\n');
            for (row, cells) in section.rows.iter().zip(rows.by_ref()) {
                let colour = match row.result.tone() {
                    Tone::Good => GREEN,
                    Tone::Bad => RED,
                    Tone::Neutral => DIM,
                };
                let height = cells.iter().map(Vec::len).max().unwrap_or(1);
                for n in 0..height {
                    let line: Vec<String> = cells
                        .iter()
                        .map(|lines| lines.get(n).cloned().unwrap_or_default())
                        .collect();
                    out.push_str(&self.paint(colour, &fmt_line(&line)));
                    out.push('\n');
                }
            }
        }
        if sections.is_empty() {
            out.push_str("\n(no treatment besides the control)\n");
        }
        Ok(out.into_bytes())
    }
}
