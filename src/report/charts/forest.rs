//! Forest plot: effect (percent of control) with its interval per metric and arm;
//! significant rows highlighted, a line at zero.

use super::{Chart, bold, font, padded, plot_err};
use crate::report::Analysis;
use plotters::coord::Shift;
use plotters::prelude::*;

const ROW_HEIGHT: u32 = 30;

pub struct ForestPlot<'a> {
    analysis: &'a Analysis,
}

impl<'a> ForestPlot<'a> {
    pub fn new(analysis: &'a Analysis) -> Self {
        Self { analysis }
    }

    /// Rows with a finite interval, in table order.
    fn rows(&self) -> Vec<&'a crate::report::Row> {
        self.analysis
            .rows
            .iter()
            .filter(|r| r.lower.is_finite() && r.upper.is_finite() && r.effect.is_finite())
            .collect()
    }
}

const POSITIVE: RGBColor = RGBColor(0, 140, 60);
const NEGATIVE: RGBColor = RGBColor(200, 30, 30);
const NEUTRAL: RGBColor = RGBColor(120, 120, 120);

impl Chart for ForestPlot<'_> {
    fn stem(&self) -> &'static str {
        "forest"
    }

    fn title(&self) -> String {
        format!(
            "Effect vs {} (% of control mean, {:.0}% interval)",
            self.analysis.control,
            (1.0 - self.analysis.alpha) * 100.0
        )
    }

    fn size(&self) -> (u32, u32) {
        (1000, 140 + ROW_HEIGHT * self.rows().len().max(1) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        area.fill(&WHITE).map_err(plot_err)?;
        let rows = self.rows();
        let n = rows.len().max(1) as i32;
        let (lo, hi) = rows.iter().fold((0.0f64, 0.0f64), |(lo, hi), r| {
            (lo.min(r.lower), hi.max(r.upper))
        });
        let (lo, hi) = padded(lo, hi);
        let labels: Vec<String> = rows
            .iter()
            .map(|r| format!("{}  {}", r.metric.name(), r.treatment))
            .collect();
        let mut chart = ChartBuilder::on(area)
            .caption(self.title(), bold(22.0))
            .margin(15)
            .x_label_area_size(50)
            .y_label_area_size(260)
            .build_cartesian_2d(lo..hi, (0..n).into_segmented())
            .map_err(plot_err)?;
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
            .x_desc("effect, % of control mean")
            .x_label_formatter(&|x| format!("{x:+.0}%"))
            .label_style(font(16.0))
            .axis_desc_style(font(16.0))
            .draw()
            .map_err(plot_err)?;
        // Zero line.
        chart
            .draw_series(LineSeries::new(
                [(0.0, SegmentValue::Exact(0)), (0.0, SegmentValue::Exact(n))],
                BLACK.stroke_width(2),
            ))
            .map_err(plot_err)?;
        for (k, r) in rows.iter().enumerate() {
            // Top row first.
            let y = SegmentValue::CenterOf(n - 1 - k as i32);
            let colour = match (r.significant, r.effect > 0.0) {
                (true, true) => POSITIVE,
                (true, false) => NEGATIVE,
                _ => NEUTRAL,
            };
            let width = if r.significant { 3 } else { 1 };
            chart
                .draw_series(std::iter::once(ErrorBar::new_horizontal(
                    y.clone(),
                    r.lower,
                    r.effect,
                    r.upper,
                    colour.stroke_width(width),
                    12,
                )))
                .map_err(plot_err)?;
            chart
                .draw_series(std::iter::once(Circle::new(
                    (r.effect, y),
                    if r.significant { 6 } else { 4 },
                    colour.filled(),
                )))
                .map_err(plot_err)?;
        }
        Ok(())
    }
}
