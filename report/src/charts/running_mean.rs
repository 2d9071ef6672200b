//! Running mean per arm as sessions accumulate (in time order) of the table's
//! mean_time_per_session: the mean over the users seen so far of each user's time per
//! session, so the last point of a line is the arm's mean in the table. Shows whether the
//! arms' means have settled. The y axis spans every point: no line is clipped.

use super::{Chart, arm_colour, bold, font, padded, plot_err};
use crate::Analysis;
use plotters::coord::Shift;
use plotters::prelude::*;
use rustc_hash::FxBuildHasher;
use std::collections::HashMap;

/// At most this many points per line: more adds nothing at this width, and plotters
/// leaves gaps in wide polylines made of many sub-pixel segments.
const MAX_POINTS: usize = 500;

pub struct RunningMean<'a> {
    analysis: &'a Analysis,
}

/// (sessions so far, mean over users so far of time / sessions) after each session,
/// thinned to about `max_points` (the first and the last always kept).
pub fn user_level_running_mean(times: &[f64], users: &[u64], max_points: usize) -> Vec<(f64, f64)> {
    let n = times.len();
    let step = n.div_ceil(max_points).max(1);
    let mut per_user: HashMap<u64, (f64, u64), FxBuildHasher> = HashMap::default();
    // Sum over users of each user's time per session, updated by the changed user only.
    let mut sum_of_means = 0.0;
    let mut points = Vec::with_capacity(n / step + 2);
    for (k, (&t, &u)) in times.iter().zip(users).enumerate() {
        let (time, sessions) = per_user.entry(u).or_insert((0.0, 0));
        let before = if *sessions > 0 {
            *time / *sessions as f64
        } else {
            0.0
        };
        *time += t;
        *sessions += 1;
        sum_of_means += *time / *sessions as f64 - before;
        if k % step == 0 || k + 1 == n {
            points.push(((k + 1) as f64, sum_of_means / per_user.len() as f64));
        }
    }
    points
}

impl<'a> RunningMean<'a> {
    pub fn new(analysis: &'a Analysis) -> Self {
        Self { analysis }
    }

    fn lines(&self) -> Vec<Vec<(f64, f64)>> {
        self.analysis
            .session_times
            .iter()
            .map(|arm| user_level_running_mean(&arm.times, &arm.users, MAX_POINTS))
            .collect()
    }
}

impl Chart for RunningMean<'_> {
    fn stem(&self) -> &'static str {
        "running_mean"
    }

    fn title(&self) -> String {
        "Running mean_time_per_session per arm (users so far)".to_string()
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
        let (lo, hi) = lines
            .iter()
            .flatten()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p.1), hi.max(p.1))
            });
        let (lo, hi) = padded(lo, hi);
        // The legend (about 25 px per arm of a 480 px plot) goes in the right-hand corner
        // with fewer line ends in its band.
        let ends: Vec<f64> = lines.iter().filter_map(|l| l.last().map(|p| p.1)).collect();
        let band = ((ends.len() as f64 * 25.0 + 20.0) / 480.0).min(0.5) * (hi - lo);
        let near_top = ends.iter().filter(|&&y| y > hi - band).count();
        let near_bottom = ends.iter().filter(|&&y| y < lo + band).count();
        let legend = if near_top > near_bottom {
            SeriesLabelPosition::LowerRight
        } else {
            SeriesLabelPosition::UpperRight
        };
        let mut chart = ChartBuilder::on(area)
            .caption(self.title(), bold(22.0))
            .margin(15)
            .margin_right(30)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..x_max, lo..hi)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("sessions of the arm so far (time order)")
            .y_desc("mean_time_per_session (first track included)")
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
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                .map_err(plot_err)?
                .label(format!("{name} (final {})", crate::render::num(last)))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 24, y)], colour.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .position(legend)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(font(16.0))
            .draw()
            .map_err(plot_err)?;
        Ok(())
    }
}
