//! A/A calibration: over many seeded A/A logs (two arms, the same session distribution)
//! the share of runs flagged significant on `mean_time_per_session` must be alpha = 5 %.
//!
//! With R runs the share's standard error is sqrt(0.05 * 0.95 / R): 1.09 % for the default
//! R = 400 (band 5 % +- 2.5 % = +- 2.3 standard errors), 0.69 % for R = 1000 (+- 3.6).
//! More runs, e.g. for a tighter check:
//!
//!     BOTIFY_AA_RUNS=2000 cargo test --release report_aa -- --nocapture

use botify_sim::report::{AnalysisOptions, Metric, analyze};
use chacha20::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use std::fmt::Write as _;

/// Default number of A/A runs (fast enough for CI in a debug build).
const RUNS: u64 = 400;
const USERS: u64 = 120;

/// One A/A log in the botify format: users assigned to A or B by a fair coin, 1-6 sessions
/// each, sessions of 1-15 events, listen times from one skewed distribution.
fn aa_log(seed: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = String::new();
    for user in 0..USERS {
        let arm = if rng.random_range(0..2) == 0 {
            "A"
        } else {
            "B"
        };
        // A per-user taste: some users listen much longer (heterogeneous users).
        let taste: f64 = rng.random_range(0.2..1.0);
        let mut ts = 1_700_000_000_000u64 + user * 10_000_000;
        for _ in 0..rng.random_range(1..7u32) {
            let len = rng.random_range(1..16u32);
            for i in 0..len {
                ts += rng.random_range(1..5000u64);
                let last = i + 1 == len;
                let time: f64 = if i == 0 {
                    1.0
                } else if rng.random_range(0.0..1.0) < taste {
                    rng.random_range(0.0..1.0)
                } else {
                    0.0
                };
                writeln!(
                    out,
                    r#"{{"message":"{}","timestamp":{ts},"user":{user},"track":0,"time":{time},"latency":0.001,"recommendation":null,"experiments":{{"aa":"{arm}"}}}}"#,
                    if last { "last" } else { "next" }
                )
                .unwrap();
            }
        }
    }
    out
}

#[test]
fn aa_false_positive_rate_is_alpha() {
    let runs: u64 = std::env::var("BOTIFY_AA_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(RUNS);
    let dir = tempfile::tempdir().unwrap();
    let flagged: u64 = (0..runs)
        .into_par_iter()
        .map(|run| {
            let path = dir.path().join(format!("aa{run}.json"));
            std::fs::write(&path, aa_log(run)).unwrap();
            let opts = AnalysisOptions {
                control: Some("A".into()),
                ..AnalysisOptions::default()
            };
            let a = analyze(std::slice::from_ref(&path), &opts).unwrap();
            std::fs::remove_file(&path).unwrap();
            let row = a
                .rows
                .iter()
                .find(|r| r.metric == Metric::MeanTimePerSession)
                .unwrap();
            // The course's rule and the p-value must agree.
            assert_eq!(row.significant, row.p_value < 0.05, "run {run}");
            u64::from(row.significant)
        })
        .sum();
    let share = flagged as f64 / runs as f64;
    eprintln!(
        "A/A: {flagged} of {runs} runs significant ({:.1} %)",
        share * 100.0
    );
    assert!(
        (0.025..=0.075).contains(&share),
        "A/A false-positive share {share} outside 5 % +- 2.5 %"
    );
}
