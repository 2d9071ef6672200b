//! CUPED (Deng et al. 2013): each user's value adjusted by the same user's value of the
//! metric in a pre-period, `y - theta (x - mean x)`, with one `theta = cov(y, x) / var(x)`
//! per metric estimated on the users of every arm pooled (as tea-tasting and GrowthBook
//! do). The pre-period is before any treatment, so the adjustment removes variance, not
//! effect: the adjusted means estimate the same difference.
//!
//! A user without pre-period sessions has 0 of a sum or a count (`time`, `sessions`); a
//! per-session mean of theirs is undefined, and the pooled mean of the users who have one
//! stands in (such a user's value is then not adjusted). Either choice uses only
//! pre-treatment data, so the estimate stays unbiased.

use super::metrics::{Metric, UserTotals};
use super::stats::{Moments, covariance};
use rustc_hash::FxBuildHasher;
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;

/// The pre-period of each user: their totals over the covariate logs' sessions.
#[derive(Debug, Clone, Default)]
pub struct Covariates {
    pub files: Vec<PathBuf>,
    /// The experiment whose sessions were taken from those logs.
    pub experiment: String,
    pub sessions: u64,
    pub users: HashMap<u64, UserTotals, FxBuildHasher>,
}

/// What the report says about its covariate.
#[derive(Debug, Clone, Serialize)]
pub struct CovariateSummary {
    pub files: Vec<PathBuf>,
    pub experiment: String,
    /// Sessions and users of the pre-period.
    pub sessions: u64,
    pub users: usize,
    /// Share of the experiment's users (all arms) with pre-period sessions.
    pub coverage: f64,
    /// `theta` of each metric, on the pooled arms.
    pub theta: Vec<(String, f64)>,
}

impl Covariates {
    /// The covariate of `user` for `metric`, if the user has pre-period sessions.
    pub fn value(&self, user: u64, metric: Metric) -> Option<f64> {
        self.users
            .get(&user)
            .filter(|t| t.sessions > 0)
            .map(|t| t.value(metric))
            .filter(|x| x.is_finite())
    }
}

/// The users of each arm with their values of a metric and their covariates.
pub struct Adjusted {
    /// Per arm, each user's adjusted value (same order as the values given).
    pub values: Vec<Vec<f64>>,
    pub theta: f64,
}

/// Adjusts `values[arm][i]` (user `users[arm][i]`) by the users' covariates; `None`
/// when no user of any arm has one, or the covariate does not vary.
pub fn adjust(
    values: &[Vec<f64>],
    users: &[&[u64]],
    covariates: &Covariates,
    metric: Metric,
) -> Option<Adjusted> {
    let observed: Vec<Vec<Option<f64>>> = users
        .iter()
        .map(|arm| arm.iter().map(|&u| covariates.value(u, metric)).collect())
        .collect();
    let seen: Vec<f64> = observed.iter().flatten().flatten().copied().collect();
    if seen.is_empty() {
        return None;
    }
    let stand_in = if metric.is_per_session() {
        Moments::of(&seen).mean
    } else {
        0.0
    };
    let x: Vec<Vec<f64>> = observed
        .iter()
        .map(|arm| arm.iter().map(|x| x.unwrap_or(stand_in)).collect())
        .collect();
    let (all_y, all_x): (Vec<f64>, Vec<f64>) = values
        .iter()
        .zip(&x)
        .flat_map(|(y, x)| y.iter().copied().zip(x.iter().copied()))
        .unzip();
    let (my, mx) = (Moments::of(&all_y), Moments::of(&all_x));
    // A covariate that does not vary (or is NaN) adjusts nothing.
    if mx.var.is_nan() || mx.var <= 0.0 {
        return None;
    }
    let theta = covariance(&all_y, &all_x, my.mean, mx.mean) / mx.var;
    let values = values
        .iter()
        .zip(&x)
        .map(|(y, x)| {
            y.iter()
                .zip(x)
                .map(|(y, x)| y - theta * (x - mx.mean))
                .collect()
        })
        .collect();
    Some(Adjusted { values, theta })
}
