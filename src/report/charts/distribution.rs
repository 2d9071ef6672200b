//! Distribution of session time per arm: the share of sessions per time bin, one line
//! (frequency polygon) per arm, which stays readable with many arms.

use super::{Chart, arm_colour, bold, font, plot_err};
use crate::report::Analysis;
use plotters::coord::Shift;
use plotters::prelude::*;

const BINS: usize = 40;

pub struct SessionTimeDistribution<'a> {
    analysis: &'a Analysis,
}

impl<'a> SessionTimeDistribution<'a> {
    pub fn new(analysis: &'a Analysis) -> Self {
        Self { analysis }
    }

    /// Upper end of the x axis: the 99th percentile of all session times.
    fn x_max(&self) -> f64 {
        let mut all: Vec<f64> = self
            .analysis
            .session_times
            .iter()
            .flat_map(|a| a.times.iter().copied())
            .filter(|t| t.is_finite())
            .collect();
        if all.is_empty() {
            return 1.0;
        }
        let k = ((all.len() - 1) as f64 * 0.99) as usize;
        let (_, v, _) = all.select_nth_unstable_by(k, f64::total_cmp);
        if *v > 0.0 { *v } else { 1.0 }
    }
}

impl Chart for SessionTimeDistribution<'_> {
    fn stem(&self) -> &'static str {
        "session_time"
    }

    fn title(&self) -> String {
        "Distribution of session time per arm".to_string()
    }

    fn size(&self) -> (u32, u32) {
        (1000, 600)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        area.fill(&WHITE).map_err(plot_err)?;
        let x_max = self.x_max();
        let width = x_max / BINS as f64;
        let shares: Vec<(usize, &str, Vec<f64>)> = self
            .analysis
            .session_times
            .iter()
            .enumerate()
            .map(|(i, arm)| {
                let mut counts = vec![0u64; BINS];
                for &t in &arm.times {
                    if t.is_finite() && t >= 0.0 {
                        let b = ((t / width) as usize).min(BINS - 1);
                        counts[b] += 1;
                    }
                }
                let total = arm.times.len().max(1) as f64;
                let shares = counts.iter().map(|&c| c as f64 / total * 100.0).collect();
                (i, arm.treatment.as_str(), shares)
            })
            .collect();
        let y_max = shares
            .iter()
            .flat_map(|(_, _, s)| s.iter().copied())
            .fold(0.0f64, f64::max)
            .max(1.0)
            * 1.08;
        let mut chart = ChartBuilder::on(area)
            .caption(self.title(), bold(22.0))
            .margin(15)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("session time (sum of listened shares)")
            .y_desc("% of the arm's sessions")
            .label_style(font(16.0))
            .axis_desc_style(font(16.0))
            .draw()
            .map_err(plot_err)?;
        for (i, name, s) in &shares {
            let colour = arm_colour(*i);
            let points = s
                .iter()
                .enumerate()
                .map(|(b, &v)| ((b as f64 + 0.5) * width, v));
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                .map_err(plot_err)?
                .label(format!(
                    "{name} ({} sessions)",
                    self.analysis.session_times[*i].times.len()
                ))
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
