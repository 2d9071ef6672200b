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
