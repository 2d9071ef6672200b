//! Running mean of session time per arm as sessions accumulate (in time order): shows
//! whether the arms' means have settled.

use super::{Chart, arm_colour, bold, font, padded, plot_err};
use crate::report::Analysis;
use plotters::coord::Shift;
use plotters::prelude::*;

/// At most this many points per line: more adds nothing at this width, and plotters
/// leaves gaps in wide polylines made of many sub-pixel segments.
const MAX_POINTS: usize = 500;

pub struct RunningMean<'a> {
    analysis: &'a Analysis,
}

impl<'a> RunningMean<'a> {
    pub fn new(analysis: &'a Analysis) -> Self {
        Self { analysis }
    }

    /// (sessions so far, running mean) per arm, thinned to `MAX_POINTS`.
    fn lines(&self) -> Vec<Vec<(f64, f64)>> {
        self.analysis
            .session_times
            .iter()
            .map(|arm| {
                let n = arm.times.len();
                let step = n.div_ceil(MAX_POINTS).max(1);
                let mut sum = 0.0;
                let mut points = Vec::with_capacity(n / step + 2);
                for (k, t) in arm.times.iter().enumerate() {
                    sum += t;
                    if k % step == 0 || k + 1 == n {
                        points.push(((k + 1) as f64, sum / (k + 1) as f64));
                    }
                }
                points
            })
            .collect()
    }
}

impl Chart for RunningMean<'_> {
    fn stem(&self) -> &'static str {
        "running_mean"
    }

    fn title(&self) -> String {
        "Running mean of session time per arm".to_string()
    }

    fn size(&self) -> (u32, u32) {
        (1000, 600)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        area.fill(&WHITE).map_err(plot_err)?;
        let lines = self.lines();
        let x_max = lines
            .iter()
            .filter_map(|l| l.last().map(|p| p.0))
            .fold(1.0f64, f64::max);
        // Skip the first few noisy sessions when scaling the y axis.
        let (lo, hi) = lines
            .iter()
            .flat_map(|l| {
                let skip = (l.len() / 20).min(l.len().saturating_sub(1));
                l.iter().skip(skip)
            })
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p.1), hi.max(p.1))
            });
        let (lo, hi) = padded(lo, hi);
        let mut chart = ChartBuilder::on(area)
            .caption(self.title(), bold(22.0))
            .margin(15)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..x_max, lo..hi)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("sessions of the arm so far (time order)")
            .y_desc("mean session time")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style(font(16.0))
            .axis_desc_style(font(16.0))
            .draw()
            .map_err(plot_err)?;
        for (i, points) in lines.into_iter().enumerate() {
            let colour = arm_colour(i);
            let name = self.analysis.session_times[i].treatment.clone();
            let last = points.last().map_or(f64::NAN, |p| p.1);
            chart
                // Points outside the y range are clipped by the plotting area, not dropped,
                // so no segment joins across them.
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                .map_err(plot_err)?
                .label(format!("{name} (final {last:.3})"))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 24, y)], colour.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(font(16.0))
            .draw()
            .map_err(plot_err)?;
        Ok(())
    }
}
