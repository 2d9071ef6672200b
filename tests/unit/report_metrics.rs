//! Unit tests of `report/src/metrics.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::report::metrics::*;

#[test]
fn metrics_follow_the_course_definitions() {
    let t = UserTotals {
        time: 6.0,
        first_time: 2.0,
        sessions: 2,
        latency_ms: 3.0,
        tracks: 4,
    };
    assert_eq!(t.value(Metric::Time), 6.0);
    assert_eq!(t.value(Metric::Sessions), 2.0);
    assert_eq!(t.value(Metric::MeanRequestLatency), 0.75);
    assert_eq!(t.value(Metric::MeanTracksPerSession), 2.0);
    assert_eq!(t.value(Metric::MeanTimePerSession), 3.0);
    assert_eq!(t.value(Metric::MeanTimePerSessionWithoutFirstTrack), 2.0);
    assert_eq!(Metric::from_name("sessions"), Some(Metric::Sessions));
}
