//! Forest plot: effect (percent of control) with its interval by the method that decides,
//! one panel per metric with its own scale (a large effect on one metric cannot squash
//! the others), the measured latency last, the primary metric and guardrails labelled so.
//! Colours follow the tables' results: green better (or pass), red worse (or fail), grey
//! neither.

use super::{Chart, bold, font, padded, plot_err};
use crate::design::{Role, Tone};
use crate::{Analysis, Metric, Row};
use plotters::coord::Shift;
use plotters::prelude::*;

const ROW_HEIGHT: u32 = 34;
/// Height of a panel besides its rows: caption and x axis.
const PANEL_CHROME: u32 = 80;
/// Height of the chart's title and colour key.
const HEADER: u32 = 70;

pub struct ForestPlot<'a> {
    analysis: &'a Analysis,
}

impl<'a> ForestPlot<'a> {
    pub fn new(analysis: &'a Analysis) -> Self {
        Self { analysis }
    }

    /// One panel per metric (in table order, the measured latency last) with its rows of
    /// finite interval, by the method that decides.
    pub fn panels(&self) -> Vec<(Metric, Vec<&'a Row>)> {
        let mut panels: Vec<(Metric, Vec<&'a Row>)> = Vec::new();
        let method = self.analysis.design.decided_by;
        let finite = |r: &&Row| {
            r.method == method && r.lower.is_finite() && r.upper.is_finite() && r.effect.is_finite()
        };
        for measured in [false, true] {
            for r in self.analysis.rows.iter().filter(finite) {
                if r.metric.is_measured() != measured {
                    continue;
                }
                match panels.iter_mut().find(|(m, _)| *m == r.metric) {
                    Some((_, rows)) => rows.push(r),
                    None => panels.push((r.metric, vec![r])),
                }
            }
        }
        panels
    }

    fn panel_height(rows: usize) -> u32 {
        PANEL_CHROME + ROW_HEIGHT * rows as u32
    }
}

pub const BETTER: RGBColor = RGBColor(0, 140, 60);
pub const WORSE: RGBColor = RGBColor(200, 30, 30);
const NEUTRAL: RGBColor = RGBColor(120, 120, 120);

/// Tick labels with as many decimals as the span of the axis needs.
pub fn tick(x: f64, span: f64) -> String {
    let decimals = if span >= 20.0 {
        0
    } else if span >= 2.0 {
        1
    } else {
        2
    };
    format!("{x:+.decimals$}%")
}

impl Chart for ForestPlot<'_> {
    fn stem(&self) -> &'static str {
        "forest"
    }

    fn title(&self) -> String {
        format!(
            "Effect vs {} (% of control mean, {:.0}% {} interval), one scale per metric",
            self.analysis.control,
            (1.0 - self.analysis.alpha) * 100.0,
            self.analysis.design.decided_by
        )
    }

    fn size(&self) -> (u32, u32) {
        let panels = self.panels();
        let body: u32 = panels
            .iter()
            .map(|(_, r)| Self::panel_height(r.len()))
            .sum();
        (1000, HEADER + body.max(Self::panel_height(1)))
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        area.fill(&WHITE).map_err(plot_err)?;
        let (header, body) = area.split_vertically(HEADER);
        header
            .draw_text(&self.title(), &bold(20.0).into(), (15, 10))
            .map_err(plot_err)?;
        header
            .draw_text(
                &format!(
                    "green: better, red: worse (Holm-adjusted p < {}, in the metric's direction; \
                     a guardrail: pass, fail); grey: neither",
                    self.analysis.alpha
                ),
                &font(15.0).into(),
                (15, 40),
            )
            .map_err(plot_err)?;
        let panels = self.panels();
        let mut breaks = Vec::new();
        let mut y = 0;
        for (_, rows) in panels.iter().take(panels.len().saturating_sub(1)) {
            y += Self::panel_height(rows.len()) as i32;
            breaks.push(y);
        }
        let areas = body.split_by_breakpoints(Vec::<i32>::new(), breaks);
        for ((metric, rows), panel) in panels.iter().zip(&areas) {
            let role = rows.first().map(|r| r.role);
            let caption = match (role, metric.is_measured()) {
                (Some(Role::Guardrail), true) => {
                    format!("{metric}: guardrail (measured wall time)")
                }
                (Some(Role::Guardrail), false) => format!("{metric}: guardrail"),
                (Some(Role::Primary), _) => format!("{metric}: primary, decides"),
                (_, true) => format!("{metric}: an increase is bad (measured wall time)"),
                _ => format!("{metric}"),
            };
            draw_panel(panel, &caption, rows)?;
        }
        Ok(())
    }
}

/// One metric: a row per arm, its own x scale, a line at zero.
fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    rows: &[&Row],
) -> anyhow::Result<()> {
    let n = rows.len() as i32;
    let (lo, hi) = rows.iter().fold((0.0f64, 0.0f64), |(lo, hi), r| {
        (lo.min(r.lower), hi.max(r.upper))
    });
    let (lo, hi) = padded(lo, hi);
    let labels: Vec<String> = rows.iter().map(|r| r.treatment.clone()).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(caption, bold(16.0))
        .margin(8)
        .margin_right(30)
        .x_label_area_size(28)
        .y_label_area_size(120)
        .build_cartesian_2d(lo..hi, (0..n).into_segmented())
        .map_err(plot_err)?;
    let span = hi - lo;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n as usize)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => labels
                .get((n - 1 - *i) as usize)
                .cloned()
                .unwrap_or_default(),
            _ => String::new(),
        })
        .x_labels(8)
        .x_label_formatter(&|x| tick(*x, span))
        .label_style(font(14.0))
        .draw()
        .map_err(plot_err)?;
    chart
        .draw_series(LineSeries::new(
            [(0.0, SegmentValue::Exact(0)), (0.0, SegmentValue::Exact(n))],
            BLACK.stroke_width(2),
        ))
        .map_err(plot_err)?;
    for (k, r) in rows.iter().enumerate() {
        // First row on top.
        let y = SegmentValue::CenterOf(n - 1 - k as i32);
        let tone = r.result.tone();
        let colour = match tone {
            Tone::Good => BETTER,
            Tone::Bad => WORSE,
            Tone::Neutral => NEUTRAL,
        };
        let significant = tone != Tone::Neutral;
        chart
            .draw_series(std::iter::once(ErrorBar::new_horizontal(
                y.clone(),
                r.lower,
                r.effect,
                r.upper,
                colour.stroke_width(if significant { 3 } else { 1 }),
                12,
            )))
            .map_err(plot_err)?;
        chart
            .draw_series(std::iter::once(Circle::new(
                (r.effect, y),
                if significant { 6 } else { 4 },
                colour.filled(),
            )))
            .map_err(plot_err)?;
    }
    Ok(())
}
