//! Unit tests of `report/src/charts/forest.rs` (moved out of the library: see `tests/unit/mod.rs`).

use crate::unit::report_render::{analysis, row};
use botify_sim::report::Metric;
use botify_sim::report::charts::forest::*;
use botify_sim::report::charts::render_svg;
use plotters::prelude::*;

#[test]
fn one_panel_per_metric_latency_last_coloured_by_result() {
    let a = analysis(vec![
        row("T1", Metric::MeanRequestLatency, 234.0, true, true),
        row("T2", Metric::MeanTimePerSession, 9.5, true, false),
        row("T1", Metric::MeanTimePerSession, -3.0, false, false),
        row("T1", Metric::Sessions, 1.0, false, false),
    ]);
    let plot = ForestPlot::new(&a);
    let panels: Vec<(Metric, usize)> = plot.panels().iter().map(|(m, r)| (*m, r.len())).collect();
    assert_eq!(
        panels,
        [
            (Metric::MeanTimePerSession, 2),
            (Metric::Sessions, 1),
            (Metric::MeanRequestLatency, 1)
        ]
    );
    let svg = render_svg(&plot).unwrap();
    assert!(svg.contains("mean_request_latency: guardrail (measured wall time)"));
    assert!(svg.contains("mean_time_per_session: primary, decides"));
    // The latency increase is inside its 2 ms guardrail: a pass (green); raw-only
    // significance stays grey; nothing is red.
    let hex = |c: RGBColor| format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2);
    assert!(svg.contains(&hex(BETTER)), "the guardrail's pass is green");
    assert!(!svg.contains(&hex(WORSE)), "nothing is worse here");
}

#[test]
fn ticks_keep_the_decimals_the_span_needs() {
    assert_eq!(tick(250.0, 1000.0), "+250%");
    assert_eq!(tick(-1.5, 6.0), "-1.5%");
    assert_eq!(tick(0.25, 0.8), "+0.25%");
}
