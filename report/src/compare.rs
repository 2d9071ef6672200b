//! Every arm against the control on every metric, by every method the log allows: Welch
//! always (the course's rows), paired when every episode was played under every arm,
//! CUPED when there is a pre-period, and the always-valid (sequential) interval of the
//! best of those. The same code serves `sim report` and `sim calibrate`.

use super::analysis::Row;
use super::cuped::{self, Covariates};
use super::design::{Method, Role, RowResult};
use super::metrics::{Metric, UserTotals};
use super::stats::{self, Comparison, Estimate, Moments};

/// One arm's users, sorted, with their totals.
#[derive(Debug, Clone, Default)]
pub struct ArmUnits {
    pub users: Vec<u64>,
    pub totals: Vec<UserTotals>,
}

impl ArmUnits {
    pub fn values(&self, metric: Metric) -> Vec<f64> {
        self.totals.iter().map(|t| t.value(metric)).collect()
    }
}

/// The sessions of a paired log's complete pairs: `sessions[arm][i]` is pair `i`'s
/// session under `arm` (pairs in id order), each totalled as a user of one session.
#[derive(Debug, Clone, Default)]
pub struct PairedEpisodes {
    pub sessions: Vec<Vec<UserTotals>>,
    /// Pairs without a session under some arm (left out of the paired rows).
    pub incomplete: u64,
}

/// What the comparisons of one table are made from.
pub struct Comparisons<'a> {
    pub arms: &'a [ArmUnits],
    pub names: &'a [String],
    pub control: usize,
    pub metrics: &'a [Metric],
    /// Present for a paired log: then the arms hold the same users.
    pub paired: Option<&'a PairedEpisodes>,
    pub covariates: Option<&'a Covariates>,
    /// The units (users; a paired log's users) at which the always-valid interval is
    /// narrowest: one value for the whole table.
    pub tuning: f64,
    pub alpha: f64,
    pub power: f64,
}

/// A method's estimate, with what the row shows of the arms.
struct Measured {
    method: Method,
    estimate: Estimate,
    comparison: Comparison,
    control_n: usize,
    treatment_n: usize,
    /// The units the sequential interval counts.
    units: f64,
    variance_reduction: f64,
}

impl Comparisons<'_> {
    /// The method whose estimate the sequential interval (and, unless monitored, the
    /// verdict) uses: paired over CUPED over Welch.
    pub fn base_method(&self) -> Method {
        if self.paired.is_some() {
            Method::Paired
        } else if self.covariates.is_some() {
            Method::Cuped
        } else {
            Method::Welch
        }
    }

    /// `theta` of each metric (CUPED on every arm pooled), when there is a covariate.
    pub fn thetas(&self) -> Vec<(Metric, f64)> {
        let Some(covariates) = self.covariates else {
            return Vec::new();
        };
        let users: Vec<&[u64]> = self.arms.iter().map(|a| a.users.as_slice()).collect();
        self.metrics
            .iter()
            .filter_map(|&m| {
                let values: Vec<Vec<f64>> = self.arms.iter().map(|a| a.values(m)).collect();
                cuped::adjust(&values, &users, covariates, m).map(|a| (m, a.theta))
            })
            .collect()
    }

    /// Every row, method by method (Welch first: the notebook's table), each block by
    /// metric and then arm, both descending (as the course); Holm, roles and results are
    /// left to the caller.
    pub fn rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        for &metric in self.metrics {
            let values: Vec<Vec<f64>> = self.arms.iter().map(|a| a.values(metric)).collect();
            let adjusted = self.covariates.and_then(|covariates| {
                let users: Vec<&[u64]> = self.arms.iter().map(|a| a.users.as_slice()).collect();
                cuped::adjust(&values, &users, covariates, metric)
            });
            for (a, name) in self.names.iter().enumerate() {
                if a == self.control {
                    continue;
                }
                for m in self.measure(metric, &values, adjusted.as_ref(), a) {
                    rows.push(row(name, metric, &m));
                }
            }
        }
        rows.sort_by(|x, y| {
            (x.method, y.metric.name(), y.treatment.as_str()).cmp(&(
                y.method,
                x.metric.name(),
                x.treatment.as_str(),
            ))
        });
        rows
    }

    /// The estimates of arm `a` against the control on `metric`, one per method.
    fn measure(
        &self,
        metric: Metric,
        values: &[Vec<f64>],
        adjusted: Option<&cuped::Adjusted>,
        a: usize,
    ) -> Vec<Measured> {
        let c = self.control;
        let (mc, mt) = (Moments::of(&values[c]), Moments::of(&values[a]));
        let welch = stats::welch(&mc, &mt);
        let mut out = vec![self.measured(Method::Welch, welch, mc.n, mt.n, f64::NAN)];
        let welch_var = welch.se * welch.se;
        let reduction = |e: &Estimate| 1.0 - e.se * e.se / welch_var;
        if self.paired.is_some() {
            let (vc, vt) = self.same_users(values, a);
            let e = stats::paired(&vc, &vt);
            out.push(self.measured(Method::Paired, e, vc.len(), vt.len(), reduction(&e)));
        }
        if let Some(pairs) = self.paired {
            let vc: Vec<f64> = pairs.sessions[c].iter().map(|t| t.value(metric)).collect();
            let vt: Vec<f64> = pairs.sessions[a].iter().map(|t| t.value(metric)).collect();
            let e = stats::paired(&vc, &vt);
            // Against the same sessions analysed as independent arms.
            let unpaired = stats::welch(&Moments::of(&vc), &Moments::of(&vt));
            let r = 1.0 - e.se * e.se / (unpaired.se * unpaired.se);
            out.push(self.measured(Method::PairedEpisode, e, vc.len(), vt.len(), r));
        }
        if let Some(adjusted) = adjusted
            && self.paired.is_none()
        {
            let (yc, yt) = (&adjusted.values[c], &adjusted.values[a]);
            let e = stats::welch(&Moments::of(yc), &Moments::of(yt));
            out.push(self.measured(Method::Cuped, e, yc.len(), yt.len(), reduction(&e)));
        }
        let base = self.base_method();
        if let Some(b) = out.iter().find(|m| m.method == base) {
            let comparison =
                stats::sequential(&b.estimate, b.units, self.tuning, self.alpha, self.power);
            out.push(Measured {
                method: Method::Sequential,
                comparison,
                ..*b
            });
        }
        out
    }

    fn measured(
        &self,
        method: Method,
        estimate: Estimate,
        control_n: usize,
        treatment_n: usize,
        variance_reduction: f64,
    ) -> Measured {
        let paired = matches!(method, Method::Paired | Method::PairedEpisode);
        Measured {
            method,
            comparison: stats::interval(&estimate, self.alpha, self.power),
            estimate,
            control_n,
            treatment_n,
            units: if paired {
                control_n as f64
            } else {
                (control_n + treatment_n) as f64
            },
            variance_reduction,
        }
    }

    /// The values of the users found in both the control and arm `a`, in user order.
    fn same_users(&self, values: &[Vec<f64>], a: usize) -> (Vec<f64>, Vec<f64>) {
        let (uc, ut) = (&self.arms[self.control].users, &self.arms[a].users);
        let (mut i, mut j) = (0, 0);
        let (mut vc, mut vt) = (Vec::new(), Vec::new());
        while i < uc.len() && j < ut.len() {
            match uc[i].cmp(&ut[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    vc.push(values[self.control][i]);
                    vt.push(values[a][j]);
                    i += 1;
                    j += 1;
                }
            }
        }
        (vc, vt)
    }
}

fn row(treatment: &str, metric: Metric, m: &Measured) -> Row {
    let c = &m.comparison;
    Row {
        treatment: treatment.to_string(),
        metric,
        effect: c.effect,
        upper: c.upper,
        lower: c.lower,
        control_mean: m.estimate.control_mean,
        treatment_mean: m.estimate.treatment_mean,
        significant: c.significant,
        control_n: m.control_n,
        treatment_n: m.treatment_n,
        dof: c.dof,
        p_value: c.p_value,
        p_holm: f64::NAN,
        significant_holm: false,
        delta_lower: c.delta_lower,
        delta_upper: c.delta_upper,
        mde: c.mde,
        method: m.method,
        role: Role::Secondary,
        direction: metric.natural_direction(),
        guardrail: String::new(),
        threshold: f64::NAN,
        result: RowResult::NotSignificant,
        variance_reduction: m.variance_reduction,
        se: c.se,
    }
}
