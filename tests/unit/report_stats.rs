//! Unit tests of `report/src/stats.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::report::stats::*;

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-300)
}

#[test]
fn t_quantile_matches_scipy() {
    // scipy.stats.t.ppf(0.975, df)
    assert!(close(t_quantile(0.975, 1.0), 12.706204736174694, 1e-12));
    assert!(close(t_quantile(0.975, 2.0), 4.302652729749462, 1e-12));
    assert!(close(t_quantile(0.975, 10.5), 2.2138402929187886, 1e-11));
    assert!(close(t_quantile(0.975, 300.0), 1.9679030112610865, 1e-12));
    assert!(close(t_quantile(0.8, 30.0), 0.8537672614712979, 1e-11));
}

#[test]
fn moments_match_pandas() {
    let m = Moments::of(&[1.0, 2.0, 4.0]);
    assert_eq!(m.n, 3);
    assert!(close(m.mean, 7.0 / 3.0, 1e-15));
    assert!(close(m.var, 7.0 / 3.0, 1e-15));
    assert!(Moments::of(&[1.0]).var.is_nan());
}

#[test]
fn holm_is_step_down() {
    let adj = holm(&[0.01, 0.04, 0.03, f64::NAN]);
    assert!(close(adj[0], 0.03, 1e-15));
    assert!(close(adj[2], 0.06, 1e-15));
    assert!(close(adj[1], 0.06, 1e-15));
    assert!(adj[3].is_nan());
}

#[test]
fn chi_square_matches_scipy() {
    // scipy.stats.chisquare([90, 110]) -> statistic 2.0, pvalue 0.15729920705028105
    let (stat, dof, p) = chi_square(&[90, 110], &[1.0, 1.0]);
    assert_eq!(dof, 1);
    assert!(close(stat, 2.0, 1e-15));
    assert!(close(p, 0.15729920705028105, 1e-12));
}

/// Paired differences by hand: c = [1, 2, 4], t = [2, 2, 7]; d = [1, 0, 3], mean 4/3,
/// var ((1-4/3)^2 + (4/3)^2 + (3-4/3)^2) / 2 = 7/3; se = sqrt(7/9); dof 2.
#[test]
fn paired_estimate_is_the_one_sample_interval_of_the_differences() {
    let e = paired(&[1.0, 2.0, 4.0], &[2.0, 2.0, 7.0]);
    assert!(close(e.effect_abs, 4.0 / 3.0, 1e-15));
    assert!(close(e.se, (7.0f64 / 9.0).sqrt(), 1e-15));
    assert_eq!(e.dof, 2.0);
    assert!(close(e.control_mean, 7.0 / 3.0, 1e-15));
    assert!(close(e.treatment_mean, 11.0 / 3.0, 1e-15));
    // Delta method with the covariance: r = 11/7; numpy.cov gives var_c = 7/3,
    // var_t = 25/3, cov(c, t) = 25/6; Var(R) = (25/3 - 2 r 25/6 + r^2 7/3) / 3 / (7/3)^2.
    let r: f64 = 11.0 / 7.0;
    let var = (25.0 / 3.0 - 2.0 * r * 25.0 / 6.0 + r * r * 7.0 / 3.0) / 3.0 / (49.0 / 9.0);
    assert!(close(e.se_ratio, var.sqrt(), 1e-12));
    // The one-sample t interval: t.ppf(0.975, 2) = 4.302652729749462.
    let c = interval(&e, 0.05, 0.8);
    assert!(close(
        c.half,
        4.302652729749462 * (7.0f64 / 9.0).sqrt(),
        1e-12
    ));
}

/// The always-valid half-width against GrowthBook's formula, by hand: alpha 0.05,
/// tuning 5000, n 1000: rho^2 = (-2 ln 0.05 + ln(-2 ln 0.05 + 1)) / 5000
/// = (5.991464547107982 + 1.9446900546295833) / 5000; n rho^2 = 1.587230920347513;
/// factor = sqrt(2 (n rho^2 + 1) / (n rho^2) * ln(sqrt(n rho^2 + 1) / 0.05))
/// = 3.363887725782781 (Python's math, the same formula).
#[test]
fn the_sequential_interval_is_the_normal_mixture_confidence_sequence() {
    assert!(close(
        gavi_factor(1000.0, 5000.0, 0.05),
        3.363887725782781,
        1e-13
    ));
    // Wider than the fixed-horizon 1.96 at every n, narrowest near the tuning.
    let ratio = |n: f64| gavi_factor(n, 5000.0, 0.05) / 1.959963984540054;
    for n in [10.0, 100.0, 1000.0, 5000.0, 1e5, 1e7] {
        assert!(ratio(n) > 1.0, "{n}");
    }
    assert!(ratio(5000.0) < ratio(500.0) && ratio(5000.0) < ratio(50_000.0));
    // The p-value crosses alpha exactly where the interval reaches 0.
    let f = gavi_factor(1000.0, 5000.0, 0.05);
    assert!(close(always_valid_p(f, 1000.0, 5000.0, 0.05), 0.05, 1e-12));
    assert!(always_valid_p(f * 1.01, 1000.0, 5000.0, 0.05) < 0.05);
    assert!(always_valid_p(f * 0.99, 1000.0, 5000.0, 0.05) > 0.05);
    assert_eq!(always_valid_p(0.0, 1000.0, 5000.0, 0.05), 1.0);
}

/// statsmodels.stats.proportion.proportion_confint(12, 400, method="wilson")
/// = (0.017243020965143047, 0.051698535709095675) (statsmodels 0.15).
#[test]
fn wilson_matches_statsmodels() {
    let (lo, hi) = wilson(12, 400, 0.05);
    assert!(close(lo, 0.017243020965143047, 1e-12), "{lo}");
    assert!(close(hi, 0.051698535709095675, 1e-12), "{hi}");
    assert!(wilson(0, 10, 0.05).0.abs() < 1e-15, "no successes: from 0");
    assert!(wilson(0, 0, 0.05).0.is_nan());
}
