//! The mission's claim, end to end from an empty cache and an empty folder: on the default
//! experiment (the built-in hw2) the reference solution beats the DSSM baseline on mean
//! time per session, significantly, with a few thousand episodes; and the curated
//! `reports/hw2/` is what this run gives. Slow (it simulates and trains everything):
//! about a minute.

use crate::common::*;
use std::path::Path;

/// The command that regenerates `reports/hw2/` (docs/EXPERIMENTS.md, "The homework"), less `--out`.
const HW2_REPORT_ARGS: [&str; 5] = ["run", "--episodes", "5000", "--seed", "42"];

#[test]
fn the_reference_solution_beats_the_dssm_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let run = sim(&HW2_REPORT_ARGS, dir.path());
    assert!(run.status.success(), "{}", stderr(&run));
    let out = dir.path().join("runs/hw2");
    let ab: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("ab.json")).unwrap()).unwrap();
    assert_eq!(ab["experiment"], "hw2");
    assert_eq!(ab["control"], "C");
    let row = ab["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["treatment"] == "T1" && r["metric"] == "mean_time_per_session")
        .expect("a T1 row for mean_time_per_session");
    assert!(row["effect"].as_f64().unwrap() > 0.0, "{row}");
    assert_eq!(row["significant"], true, "{row}");
    assert_eq!(row["significant_holm"], true, "{row}");

    let fresh = ab_rows_without_latency(&out.join("ab.csv"));
    let curated = ab_rows_without_latency(&root().join("reports/hw2/ab.csv"));
    assert_eq!(
        fresh, curated,
        "reports/hw2 is stale: regenerate it with `sim run --episodes 5000 --seed 42 --out reports/hw2`"
    );
}

/// The rows of an `ab.csv` but those of latency metrics, which are measured, not
/// simulated. Every other column is compared, `p_holm` included: latency is a Holm family
/// of its own, so it cannot move the other rows' adjusted p-values.
fn ab_rows_without_latency(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let metric = header.iter().position(|h| *h == "metric").unwrap();
    lines
        .filter(|line| !line.split(',').nth(metric).unwrap().contains("latency"))
        .map(str::to_string)
        .collect()
}
