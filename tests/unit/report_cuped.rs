//! Unit tests of `report/src/cuped.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::report::Metric;
use botify_sim::report::cuped::*;
use botify_sim::report::metrics::UserTotals;

/// A user with `sessions` sessions of `time` in all in the pre-period.
fn pre(sessions: u64, time: f64) -> UserTotals {
    UserTotals {
        time,
        sessions,
        tracks: sessions,
        ..UserTotals::default()
    }
}

/// By hand: users 1-3 in C with y = [2, 4, 6], users 4-6 in T with y = [3, 7, 8]; their
/// pre-period `time` x = [1, 2, 3] and [1, 3, 4]. Pooled over both arms: mean y = 5, mean
/// x = 7/3, theta = cov(y, x) / var(x) = sum (y - 5)(x - 7/3) / sum (x - 7/3)^2.
#[test]
fn theta_is_the_pooled_regression_slope_and_adjusts_around_the_pooled_mean() {
    let mut covariates = Covariates::default();
    for (user, x) in [(1, 1.0), (2, 2.0), (3, 3.0), (4, 1.0), (5, 3.0), (6, 4.0)] {
        covariates.users.insert(user, pre(1, x));
    }
    let values = vec![vec![2.0, 4.0, 6.0], vec![3.0, 7.0, 8.0]];
    let users: [&[u64]; 2] = [&[1, 2, 3], &[4, 5, 6]];
    let a = adjust(&values, &users, &covariates, Metric::Time).unwrap();
    // sum (y - 5)(x - 7/3) = (-3)(-4/3) + (-1)(-1/3) + (1)(2/3) + (-2)(-4/3) + (2)(2/3)
    // + (3)(5/3) = 4 + 1/3 + 2/3 + 8/3 + 4/3 + 5 = 14; sum (x - 7/3)^2 = 16/9 + 1/9 + 4/9
    // + 16/9 + 4/9 + 25/9 = 66/9.
    let theta = 14.0 / (66.0 / 9.0);
    assert!((a.theta - theta).abs() < 1e-12, "{}", a.theta);
    let x = [[1.0, 2.0, 3.0], [1.0, 3.0, 4.0]];
    for arm in 0..2 {
        for i in 0..3 {
            let expected = values[arm][i] - theta * (x[arm][i] - 7.0 / 3.0);
            assert!((a.values[arm][i] - expected).abs() < 1e-12);
        }
    }
}

/// A user without pre-period sessions: 0 of a sum, the pooled observed mean of a
/// per-session mean (so that user is not adjusted); no covariate at all: no CUPED.
#[test]
fn users_without_a_pre_period_stand_in_by_the_metric_kind() {
    let mut covariates = Covariates::default();
    covariates.users.insert(1, pre(2, 3.0));
    covariates.users.insert(2, pre(1, 4.0));
    let values = vec![vec![1.0, 2.0], vec![3.0, 5.0]];
    let users: [&[u64]; 2] = [&[1, 2], &[3, 4]];
    // mean_time_per_session of users 1, 2: 1.5 and 4; users 3, 4 take their mean 2.75.
    let per_session = adjust(&values, &users, &covariates, Metric::MeanTimePerSession).unwrap();
    assert_eq!(per_session.values[1][0], 3.0, "not adjusted");
    assert_eq!(per_session.values[1][1], 5.0, "not adjusted");
    // time: users 3, 4 have 0.
    let sum = adjust(&values, &users, &covariates, Metric::Time).unwrap();
    assert_ne!(sum.values[1][0], 3.0, "adjusted as a 0");
    let nobody = Covariates::default();
    assert!(adjust(&values, &users, &nobody, Metric::Time).is_none());
}
