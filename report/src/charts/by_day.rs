//! One metric by day: each arm's user-level mean per day of the log, with its
//! (1 - alpha) normal interval (mean ± z·sd/√n), so a trend across days (an arm
//! retrained on its own traffic, say) shows with its uncertainty.

use super::{Chart, arm_colour, bold, font, padded, plot_err};
use crate::stats::z_quantile;
use crate::{Analysis, Metric};
use plotters::coord::Shift;
use plotters::prelude::*;

pub struct MetricByDay<'a> {
    days: &'a [(u64, Analysis)],
    metric: Metric,
}

/// An arm's point on a day: mean and interval.
struct Point {
    day: u64,
    mean: f64,
    lower: f64,
    upper: f64,
}

impl<'a> MetricByDay<'a> {
    pub fn new(days: &'a [(u64, Analysis)], metric: Metric) -> Self {
        Self { days, metric }
    }

    /// The arms of every day, in name order.
    fn arms(&self) -> Vec<String> {
        let mut arms: Vec<String> = self
            .days
            .iter()
            .flat_map(|(_, a)| a.arms.iter().map(|arm| arm.treatment.clone()))
            .collect();
        arms.sort();
        arms.dedup();
        arms
    }

    /// Per arm, its finite points in day order.
    fn points(&self, arms: &[String]) -> Vec<Vec<Point>> {
        arms.iter()
            .map(|arm| {
                self.days
                    .iter()
                    .filter_map(|(day, analysis)| {
                        let m = analysis.arm(arm)?.metrics.get(self.metric.name())?;
                        let half =
                            z_quantile(1.0 - analysis.alpha / 2.0) * (m.var / m.n as f64).sqrt();
                        let point = Point {
                            day: *day,
                            mean: m.mean,
                            lower: m.mean - half,
                            upper: m.mean + half,
                        };
                        (point.lower.is_finite() && point.upper.is_finite()).then_some(point)
                    })
                    .collect()
            })
            .collect()
    }
}

impl Chart for MetricByDay<'_> {
    fn stem(&self) -> &'static str {
        match self.metric {
            Metric::Time => "by_day_time",
            Metric::Sessions => "by_day_sessions",
            Metric::MeanRequestLatency => "by_day_mean_request_latency",
            Metric::MeanTracksPerSession => "by_day_mean_tracks_per_session",
            Metric::MeanTimePerSession => "by_day_mean_time_per_session",
            Metric::MeanTimePerSessionWithoutFirstTrack => {
                "by_day_mean_time_per_session_without_first_track"
            }
        }
    }

    fn title(&self) -> String {
        let alpha = self.days.first().map_or(0.05, |(_, a)| a.alpha);
        format!(
            "{} by day, per arm (user-level mean, {:.0}% interval)",
            self.metric.name(),
            (1.0 - alpha) * 100.0
        )
    }

    fn size(&self) -> (u32, u32) {
        (1000, 560)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        area.fill(&WHITE).map_err(plot_err)?;
        let arms = self.arms();
        let points = self.points(&arms);
        let last_day = self.days.last().map_or(1, |(d, _)| *d) as f64;
        let (lo, hi) = points
            .iter()
            .flatten()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p.lower), hi.max(p.upper))
            });
        let (lo, hi) = padded(lo, hi);
        let mut chart = ChartBuilder::on(area)
            .caption(self.title(), bold(22.0))
            .margin(15)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(0.5..last_day + 0.5, lo..hi)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("day")
            .y_desc(self.metric.name())
            .x_labels(last_day as usize + 1)
            .x_label_formatter(&|x| {
                if x.fract() == 0.0 && *x >= 1.0 {
                    format!("{x:.0}")
                } else {
                    String::new()
                }
            })
            .label_style(font(16.0))
            .axis_desc_style(font(16.0))
            .draw()
            .map_err(plot_err)?;
        let k = arms.len() as f64;
        for (i, (arm, points)) in arms.iter().zip(points).enumerate() {
            let colour = arm_colour(i);
            // Arms side by side around each day, so intervals do not hide each other.
            let x = |day: u64| day as f64 + (i as f64 - (k - 1.0) / 2.0) * 0.08;
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|p| (x(p.day), p.mean)),
                    colour.stroke_width(2),
                ))
                .map_err(plot_err)?
                .label(arm.clone())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 24, y)], colour.stroke_width(3))
                });
            chart
                .draw_series(points.iter().map(|p| {
                    ErrorBar::new_vertical(
                        x(p.day),
                        p.lower,
                        p.mean,
                        p.upper,
                        colour.filled().stroke_width(2),
                        10,
                    )
                }))
                .map_err(plot_err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(font(16.0))
            .draw()
            .map_err(plot_err)?;
        Ok(())
    }
}
