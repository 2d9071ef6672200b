//! Unit tests of `core/src/sim/summary.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::log::session::SessionTotals;
use botify_sim::sim::episode::EpisodeSummary;
use botify_sim::sim::summary::*;

fn running(values: &[f64]) -> MeanSem {
    let mut r = Running::default();
    values.iter().for_each(|&v| r.push(v));
    r.mean_sem()
}

#[test]
fn mean_and_standard_error() {
    let m = running(&[1.0, 2.0, 3.0, 4.0]);
    assert_eq!(m.mean, 2.5);
    // sample variance 5/3, sem = sqrt(5/3 / 4)
    assert!((m.sem - (5.0f64 / 12.0).sqrt()).abs() < 1e-15);
    assert_eq!(running(&[7.0]).sem, 0.0);
    assert_eq!(
        running(&[]),
        MeanSem {
            mean: 0.0,
            sem: 0.0
        }
    );
}

/// Values near 1e9 apart by 1e-3: a running sum of squares would cancel to noise.
/// The reference is two passes over the values shifted by 1e9 (exact at this scale).
#[test]
fn streaming_is_accurate_far_from_zero() {
    let values: Vec<f64> = (0..10_000).map(|i| 1e9 + (i % 7) as f64 * 1e-3).collect();
    let shifted: Vec<f64> = values.iter().map(|v| v - 1e9).collect();
    let n = values.len() as f64;
    let mean = shifted.iter().sum::<f64>() / n;
    let var = shifted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let sem = (var / n).sqrt();
    let m = running(&values);
    assert!(
        (m.mean - 1e9 - mean).abs() < 1e-6,
        "{} vs {mean}",
        m.mean - 1e9
    );
    assert!((m.sem - sem).abs() < 1e-6 * sem, "{} vs {sem}", m.sem);
}

#[test]
fn summarizes_per_arm() {
    let e = |arm, user, reward, steps| EpisodeSummary {
        index: 0,
        user,
        arm,
        reward,
        steps,
        logged: SessionTotals::new(0),
    };
    let mut totals = RunTotals::new(2);
    for episode in [e(0, 1, 1.0, 2), e(0, 1, 3.0, 4), e(1, 2, 5.0, 6)] {
        totals.add(&episode);
    }
    let s = summarize(&["C".into(), "T1".into()], &totals);
    assert_eq!((s[0].episodes, s[0].users, s[0].reward.mean), (2, 1, 2.0));
    assert_eq!((s[1].episodes, s[1].steps.mean), (1, 6.0));
    assert_eq!((totals.episodes(), totals.steps()), (3, 12));
}

#[test]
fn merged_streams_equal_one_stream() {
    let values = [1.0, 4.0, 2.5, 7.0, 0.0, 3.25, 9.5];
    for split in 0..=values.len() {
        let mut whole = Running::default();
        values.iter().for_each(|v| whole.push(*v));
        let (mut left, mut right) = (Running::default(), Running::default());
        values[..split].iter().for_each(|v| left.push(*v));
        values[split..].iter().for_each(|v| right.push(*v));
        left.merge(&right);
        assert_eq!(left.count, whole.count);
        let (m, w) = (left.mean_sem(), whole.mean_sem());
        assert!((m.mean - w.mean).abs() < 1e-12 && (m.sem - w.sem).abs() < 1e-12);
    }
}
