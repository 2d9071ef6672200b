//! The mission's claim, end to end from an empty cache: on the default experiment (hw2)
//! the reference solution beats the DSSM baseline on mean time per session, significantly,
//! with a few thousand episodes. Slow (it simulates and trains everything): about a minute.

use crate::common::*;

#[test]
fn the_reference_solution_beats_the_dssm_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let out = dir.path().join("out");
    let args = [
        "run",
        "--episodes",
        "5000",
        "--seed",
        "42",
        "--cache-dir",
        cache.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let run = sim(&args, &root());
    assert!(run.status.success(), "{}", stderr(&run));
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
}
