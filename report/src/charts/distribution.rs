//! Distribution of session time: a histogram per arm, one panel each, on shared bins and
//! axes so the panels compare at a glance. The bins come from the data (Freedman-Diaconis
//! over all arms' sessions, Sturges when the spread is zero); the range runs from the
//! shortest session to the 99.5th percentile, and each panel says how many longer
//! sessions it leaves out instead of piling them into the last bar.

use super::{Chart, arm_colour, bold, font, plot_err};
use crate::Analysis;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Upper bound of the number of bins: more are thinner than a few pixels at this width.
const MAX_BINS: usize = 120;
const PANEL_HEIGHT: u32 = 190;
/// Height of the title and of the x axis description.
const HEADER: u32 = 45;
const FOOTER: u32 = 45;

/// Bins shared by every arm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bins {
    pub lo: f64,
    pub hi: f64,
    pub count: usize,
}

/// The values at ranks `round((n - 1) p)` of `values` in `total_cmp` order, for rising
/// `ps`: what indexing the sorted values gives, by selection (a sort of every session's
/// time, twice per report, was 2 % of the instructions of `sim run --episodes 300000`).
/// `values` is left reordered; it must not be empty.
fn quantiles<const N: usize>(values: &mut [f64], ps: [f64; N]) -> [f64; N] {
    let last = (values.len() - 1) as f64;
    let mut from = 0;
    ps.map(|p| {
        let rank = ((last * p).round() as usize).max(from);
        let (_, &mut value, _) = values[from..].select_nth_unstable_by(rank - from, f64::total_cmp);
        from = rank;
        value
    })
}

impl Bins {
    /// Bins for `values` (finite ones; any order).
    pub fn of(values: &[f64]) -> Bins {
        let mut v: Vec<f64> = values.iter().copied().filter(|t| t.is_finite()).collect();
        let (Some(min), Some(max)) = (
            v.iter().copied().min_by(f64::total_cmp),
            v.iter().copied().max_by(f64::total_cmp),
        ) else {
            return Bins {
                lo: 0.0,
                hi: 1.0,
                count: 1,
            };
        };
        let q = quantiles(&mut v, [0.25, 0.75, 0.995]);
        let (q25, q75, mut hi) = (q[0], q[1], q[2]);
        if hi <= min {
            hi = max;
        }
        if hi <= min {
            hi = min + 1.0;
        }
        let n = v.len() as f64;
        let fd_width = 2.0 * (q75 - q25) / n.cbrt();
        let count = if fd_width > 0.0 {
            ((hi - min) / fd_width).ceil() as usize
        } else {
            n.log2().ceil() as usize + 1
        };
        Bins {
            lo: min,
            hi,
            count: count.clamp(1, MAX_BINS),
        }
    }

    fn width(&self) -> f64 {
        (self.hi - self.lo) / self.count as f64
    }

    /// Counts per bin and how many values lie above the range.
    pub fn count(&self, values: &[f64]) -> (Vec<u64>, u64) {
        let mut counts = vec![0u64; self.count];
        let mut above = 0;
        for &t in values.iter().filter(|t| t.is_finite()) {
            if t > self.hi {
                above += 1;
            } else {
                let b = (((t - self.lo) / self.width()) as usize).min(self.count - 1);
                counts[b] += 1;
            }
        }
        (counts, above)
    }
}

pub struct SessionTimeDistribution<'a> {
    analysis: &'a Analysis,
}

impl<'a> SessionTimeDistribution<'a> {
    pub fn new(analysis: &'a Analysis) -> Self {
        Self { analysis }
    }

    fn bins(&self) -> Bins {
        let all: Vec<f64> = self
            .analysis
            .session_times
            .iter()
            .flat_map(|a| a.times.iter().copied())
            .collect();
        Bins::of(&all)
    }
}

impl Chart for SessionTimeDistribution<'_> {
    fn stem(&self) -> &'static str {
        "session_time"
    }

    fn title(&self) -> String {
        "Distribution of session time per arm (first track included)".to_string()
    }

    fn size(&self) -> (u32, u32) {
        let arms = self.analysis.session_times.len().max(1) as u32;
        (1000, HEADER + FOOTER + PANEL_HEIGHT * arms)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> anyhow::Result<()> {
        area.fill(&WHITE).map_err(plot_err)?;
        let bins = self.bins();
        let width = bins.width();
        let counted: Vec<(Vec<f64>, u64, usize)> = self
            .analysis
            .session_times
            .iter()
            .map(|arm| {
                let (counts, above) = bins.count(&arm.times);
                let total = arm.times.len().max(1) as f64;
                let shares = counts.iter().map(|&c| c as f64 / total * 100.0).collect();
                (shares, above, arm.times.len())
            })
            .collect();
        let y_max = counted
            .iter()
            .flat_map(|(s, _, _)| s.iter().copied())
            .fold(0.0f64, f64::max)
            .max(1.0)
            * 1.1;
        let (header, rest) = area.split_vertically(HEADER);
        let (body, footer) = rest.split_vertically(rest.dim_in_pixel().1 - FOOTER);
        header
            .draw_text(
                &format!("{}: {} bins of {:.3}", self.title(), bins.count, width),
                &bold(20.0).into(),
                (15, 12),
            )
            .map_err(plot_err)?;
        footer
            .draw_text(
                "session time: sum of the session's listen times, the first track's 1.0 included",
                &font(15.0).into(),
                (300, 12),
            )
            .map_err(plot_err)?;
        let panels = body.split_evenly((counted.len().max(1), 1));
        for (i, ((shares, above, sessions), panel)) in counted.iter().zip(&panels).enumerate() {
            let arm = &self.analysis.session_times[i].treatment;
            let mut caption = format!("{arm}: {sessions} sessions");
            if *above > 0 {
                caption.push_str(&format!(" ({above} longer than {:.2} not drawn)", bins.hi));
            }
            let mut chart = ChartBuilder::on(panel)
                .caption(caption, font(15.0))
                .margin(6)
                .margin_right(30)
                .x_label_area_size(25)
                .y_label_area_size(70)
                .build_cartesian_2d(bins.lo..bins.hi, 0.0..y_max)
                .map_err(plot_err)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .y_labels(4)
                .max_light_lines(1)
                .y_desc("% of sessions")
                .y_label_formatter(&|y| format!("{y:.0}"))
                .label_style(font(13.0))
                .axis_desc_style(font(13.0))
                .draw()
                .map_err(plot_err)?;
            let colour = arm_colour(i);
            chart
                .draw_series(
                    shares
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| **s > 0.0)
                        .map(|(b, &s)| {
                            let x0 = bins.lo + b as f64 * width;
                            Rectangle::new([(x0, 0.0), (x0 + width, s)], colour.filled())
                        }),
                )
                .map_err(plot_err)?;
        }
        Ok(())
    }
}
