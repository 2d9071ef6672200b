//! The statistics of the report (AB_REPORT.md §3-4): sample moments, the course's Welch
//! interval, Welch's p-value, the delta-method interval of a ratio, Holm's correction,
//! the minimum detectable effect and the sample-ratio-mismatch chi-square test; the
//! paired interval, the always-valid (sequential) interval and Wilson's binomial interval.

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};

/// n, mean and sample variance (ddof = 1) of a sample; NaN where undefined (as pandas).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Moments {
    pub n: usize,
    pub mean: f64,
    pub var: f64,
}

impl Moments {
    /// Two-pass moments (mean first, then squared deviations) for accuracy.
    pub fn of(values: &[f64]) -> Self {
        let n = values.len();
        if n == 0 {
            return Self {
                n,
                mean: f64::NAN,
                var: f64::NAN,
            };
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = if n < 2 {
            f64::NAN
        } else {
            values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64
        };
        Self { n, mean, var }
    }
}

/// Quantile of Student's t with `dof` degrees of freedom, refined by Newton steps on the
/// CDF (statrs' inverse goes through an inverse incomplete beta that is less precise).
pub fn t_quantile(p: f64, dof: f64) -> f64 {
    if dof.is_nan() || dof <= 0.0 || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    let Ok(t) = StudentsT::new(0.0, 1.0, dof) else {
        return f64::NAN;
    };
    let mut x = t.inverse_cdf(p);
    for _ in 0..3 {
        use statrs::distribution::Continuous;
        let density = t.pdf(x);
        if density.is_nan() || density <= 0.0 || !x.is_finite() {
            break;
        }
        let step = (t.cdf(x) - p) / density;
        x -= step;
        if step.abs() <= 1e-15 * x.abs().max(1.0) {
            break;
        }
    }
    x
}

/// Standard normal quantile.
pub fn z_quantile(p: f64) -> f64 {
    Normal::standard().inverse_cdf(p)
}

/// Two-sided p-value of a t statistic.
pub fn t_two_sided_p(t: f64, dof: f64) -> f64 {
    if !t.is_finite() || dof.is_nan() || dof <= 0.0 {
        return f64::NAN;
    }
    match StudentsT::new(0.0, 1.0, dof) {
        Ok(dist) => (2.0 * dist.sf(t.abs())).min(1.0),
        Err(_) => f64::NAN,
    }
}

/// Treatment against control on one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// mean_T - mean_C.
    pub effect_abs: f64,
    /// Welch-Satterthwaite degrees of freedom.
    pub dof: f64,
    /// Standard error of the difference, sqrt(v_C/n_C + v_T/n_T).
    pub se: f64,
    /// t quantile (1 - alpha/2) times `se`.
    pub half: f64,
    /// effect_abs / mean_C * 100.
    pub effect: f64,
    pub lower: f64,
    pub upper: f64,
    /// The course's rule: the interval excludes 0.
    pub significant: bool,
    /// Welch's two-sided p-value.
    pub p_value: f64,
    /// Delta-method interval of mean_T / mean_C - 1, in percent.
    pub delta_lower: f64,
    pub delta_upper: f64,
    /// Minimum detectable effect (percent of mean_C), two-sided alpha, given power.
    pub mde: f64,
}

/// The course's Welch comparison (AB_REPORT.md §3) plus p-value, delta-method interval
/// and MDE (§4).
pub fn compare(control: &Moments, treatment: &Moments, alpha: f64, power: f64) -> Comparison {
    interval(&welch(control, treatment), alpha, power)
}

/// The difference of two independent arms' means, with Welch's standard error and
/// degrees of freedom.
pub fn welch(control: &Moments, treatment: &Moments) -> Estimate {
    let (nc, nt) = (control.n as f64, treatment.n as f64);
    let (vc, vt) = (control.var, treatment.var);
    let (mc, mt) = (control.mean, treatment.mean);
    let (ac, at) = (vc / nc, vt / nt);
    let dof =
        (ac + at).powi(2) / (vc * vc / (nc * nc * (nc - 1.0)) + vt * vt / (nt * nt * (nt - 1.0)));
    // Delta method for R = mt/mc - 1 with independent arms:
    // Var(R) ~ at / mc^2 + mt^2 * ac / mc^4.
    let se_ratio = (at / (mc * mc) + mt * mt * ac / mc.powi(4)).sqrt();
    Estimate {
        effect_abs: mt - mc,
        se: (ac + at).sqrt(),
        dof,
        control_mean: mc,
        treatment_mean: mt,
        se_ratio,
    }
}

/// A difference of means with its standard error, from which every interval of a row is
/// made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// mean_T - mean_C.
    pub effect_abs: f64,
    pub se: f64,
    /// Degrees of freedom of the t quantile.
    pub dof: f64,
    pub control_mean: f64,
    pub treatment_mean: f64,
    /// Delta-method standard error of mean_T / mean_C - 1.
    pub se_ratio: f64,
}

/// The t interval, p-value, delta-method interval and MDE of an estimate.
pub fn interval(e: &Estimate, alpha: f64, power: f64) -> Comparison {
    let (effect_abs, se, dof) = (e.effect_abs, e.se, e.dof);
    let (mc, mt) = (e.control_mean, e.treatment_mean);
    let t_crit = t_quantile(1.0 - alpha / 2.0, dof);
    let half = t_crit * se;
    let effect = effect_abs / mc * 100.0;
    let lower = (effect_abs - half) / mc * 100.0;
    let upper = (effect_abs + half) / mc * 100.0;
    let significant = (effect_abs + half) * (effect_abs - half) > 0.0;
    let p_value = t_two_sided_p(effect_abs / se, dof);
    let ratio = mt / mc - 1.0;
    let z = z_quantile(1.0 - alpha / 2.0);
    let delta_lower = (ratio - z * e.se_ratio) * 100.0;
    let delta_upper = (ratio + z * e.se_ratio) * 100.0;
    let mde = (t_crit + t_quantile(power, dof)) * se / mc.abs() * 100.0;
    Comparison {
        effect_abs,
        dof,
        se,
        half,
        effect,
        lower,
        upper,
        significant,
        p_value,
        delta_lower,
        delta_upper,
        mde,
    }
}

/// Sample covariance (ddof = 1) of two equally long samples with the given means.
pub fn covariance(x: &[f64], y: &[f64], mean_x: f64, mean_y: f64) -> f64 {
    let n = x.len().min(y.len());
    if n < 2 {
        return f64::NAN;
    }
    x.iter()
        .zip(y)
        .map(|(a, b)| (a - mean_x) * (b - mean_y))
        .sum::<f64>()
        / (n - 1) as f64
}

/// Treatment against control on the same units (common random numbers: every unit was
/// played under both arms; `control[i]` and `treatment[i]` are one unit's): the mean of
/// the differences with its one-sample standard error, and the delta method for
/// mean_T / mean_C - 1 with the arms' covariance.
pub fn paired(control: &[f64], treatment: &[f64]) -> Estimate {
    let n = control.len().min(treatment.len());
    let (c, t) = (&control[..n], &treatment[..n]);
    let (mc, mt) = (Moments::of(c), Moments::of(t));
    let differences: Vec<f64> = t.iter().zip(c).map(|(t, c)| t - c).collect();
    let d = Moments::of(&differences);
    let nf = n as f64;
    let r = mt.mean / mc.mean;
    let cov = covariance(c, t, mc.mean, mt.mean);
    let var_ratio = (mt.var - 2.0 * r * cov + r * r * mc.var) / nf / (mc.mean * mc.mean);
    Estimate {
        effect_abs: d.mean,
        se: (d.var / nf).sqrt(),
        dof: nf - 1.0,
        control_mean: mc.mean,
        treatment_mean: mt.mean,
        se_ratio: var_ratio.max(0.0).sqrt(),
    }
}

/// The mixture tuning of the always-valid intervals: `rho^2` for which the interval is
/// narrowest when `tuning` units have been seen (Waudby-Smith et al. 2023, as GrowthBook).
fn gavi_rho2(tuning: f64, alpha: f64) -> f64 {
    let l = -2.0 * alpha.ln();
    (l + (l + 1.0).ln()) / tuning
}

/// Half-width of the always-valid (1 - alpha) interval over the standard error of the
/// estimate, after `n` units, tuned for `tuning` units: the normal-mixture confidence
/// sequence `sqrt(2 (n rho^2 + 1) / (n rho^2) * ln(sqrt(n rho^2 + 1) / alpha))` of
/// Howard et al. (2021) in its asymptotic form (Waudby-Smith et al. 2023), as GrowthBook
/// documents and computes it. Above the fixed-horizon normal quantile for every `n`.
pub fn gavi_factor(n: f64, tuning: f64, alpha: f64) -> f64 {
    let nr2 = n * gavi_rho2(tuning, alpha);
    (2.0 * (nr2 + 1.0) / nr2 * ((nr2 + 1.0).sqrt() / alpha).ln()).sqrt()
}

/// The always-valid p-value of `z = estimate / se` after `n` units: the inverse of the
/// mixture e-value (Waudby-Smith et al. 2023, eq. 155), capped at 1. It is below alpha
/// exactly when the interval of [`gavi_factor`] excludes 0.
pub fn always_valid_p(z: f64, n: f64, tuning: f64, alpha: f64) -> f64 {
    if !(z.is_finite() && n > 0.0) {
        return f64::NAN;
    }
    let rho2 = gavi_rho2(tuning, alpha);
    let nr2 = n * rho2;
    let log_e = nr2 * z * z / (2.0 * (nr2 + 1.0)) - 0.5 * (nr2 + 1.0).ln();
    (-log_e).exp().min(1.0)
}

/// The always-valid interval of an estimate after `n` units (see [`gavi_factor`]): the
/// same effect, every interval widened to the confidence sequence's width, the p-value
/// always valid.
pub fn sequential(e: &Estimate, n: f64, tuning: f64, alpha: f64, power: f64) -> Comparison {
    let factor = gavi_factor(n, tuning, alpha);
    let (effect_abs, se, mc) = (e.effect_abs, e.se, e.control_mean);
    let half = factor * se;
    let ratio = e.treatment_mean / mc - 1.0;
    Comparison {
        effect_abs,
        dof: f64::NAN,
        se,
        half,
        effect: effect_abs / mc * 100.0,
        lower: (effect_abs - half) / mc * 100.0,
        upper: (effect_abs + half) / mc * 100.0,
        significant: (effect_abs + half) * (effect_abs - half) > 0.0,
        p_value: always_valid_p(effect_abs / se, n, tuning, alpha),
        delta_lower: (ratio - factor * e.se_ratio) * 100.0,
        delta_upper: (ratio + factor * e.se_ratio) * 100.0,
        mde: (factor + z_quantile(power)) * se / mc.abs() * 100.0,
    }
}

/// Wilson's score interval of a binomial proportion `successes / trials` at level
/// 1 - alpha: good coverage even for rates near 0 or 1, where the normal interval is not.
pub fn wilson(successes: u64, trials: u64, alpha: f64) -> (f64, f64) {
    if trials == 0 {
        return (f64::NAN, f64::NAN);
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z = z_quantile(1.0 - alpha / 2.0);
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Holm-adjusted p-values (step-down, monotone, capped at 1); NaN p-values stay NaN and
/// are not counted as comparisons.
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..p_values.len())
        .filter(|&i| !p_values[i].is_nan())
        .collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let m = order.len();
    let mut adjusted = vec![f64::NAN; p_values.len()];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        let value = ((m - rank) as f64 * p_values[i]).min(1.0);
        running = running.max(value);
        adjusted[i] = running;
    }
    adjusted
}

/// Chi-square goodness of fit of `observed` counts against `expected_shares`
/// (normalised here). Returns (statistic, degrees of freedom, p-value).
pub fn chi_square(observed: &[u64], expected_shares: &[f64]) -> (f64, usize, f64) {
    let total: f64 = observed.iter().map(|&o| o as f64).sum();
    let share_sum: f64 = expected_shares.iter().sum();
    let k = observed.len();
    if k < 2 || total == 0.0 || share_sum.is_nan() || share_sum <= 0.0 {
        return (f64::NAN, k.saturating_sub(1), f64::NAN);
    }
    let stat: f64 = observed
        .iter()
        .zip(expected_shares)
        .map(|(&o, &s)| {
            let e = total * s / share_sum;
            (o as f64 - e).powi(2) / e
        })
        .sum();
    let dof = k - 1;
    let p = ChiSquared::new(dof as f64).map_or(f64::NAN, |d| d.sf(stat));
    (stat, dof, p)
}
