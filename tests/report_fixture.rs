//! The course table, exactly: `report::analyze` against tables computed independently
//! with pandas/scipy by `tests/data/report/make_fixtures.py` (see its header to re-run).
//! Every number must agree to 1e-9 relative.

use botify_sim::report::{Analysis, AnalysisOptions, analyze};
use serde_json::Value;
use std::path::{Path, PathBuf};

const REL: f64 = 1e-9;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/report")
        .join(name)
}

fn expected(name: &str) -> Value {
    let text = std::fs::read_to_string(data(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn assert_close(what: &str, actual: f64, expected: f64) {
    let ok = if expected == 0.0 {
        actual.abs() <= 1e-300
    } else {
        ((actual - expected) / expected).abs() <= REL
    };
    assert!(ok, "{what}: got {actual:e}, pandas/scipy {expected:e}");
}

fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("fixture has no number `{key}` in {v}"))
}

fn compare(a: &Analysis, e: &Value) {
    assert_eq!(a.control, e["control"].as_str().unwrap());
    assert_eq!(a.log.events, e["events"].as_u64().unwrap(), "events");
    assert_eq!(a.log.sessions, e["sessions"].as_u64().unwrap(), "sessions");
    assert_eq!(
        a.log.unfinished_sessions,
        e["unfinished_sessions"].as_u64().unwrap(),
        "unfinished sessions"
    );
    assert_eq!(
        a.log.unfinished_events,
        e["unfinished_events"].as_u64().unwrap(),
        "unfinished events"
    );
    assert_close("srm chi2", a.srm.chi2, f(e, "srm_chi2"));
    assert_close("srm p", a.srm.p_value, f(e, "srm_p_value"));
    assert_eq!(a.comparisons as u64, e["comparisons"].as_u64().unwrap());

    let arms = e["arms"].as_object().unwrap();
    assert_eq!(a.arms.len(), arms.len());
    for arm in &a.arms {
        let ea = &arms[&arm.treatment];
        assert_eq!(
            arm.users,
            ea["users"].as_u64().unwrap(),
            "{} users",
            arm.treatment
        );
        assert_eq!(
            arm.sessions,
            ea["n_sessions"].as_u64().unwrap(),
            "{} sessions",
            arm.treatment
        );
        for (metric, m) in &arm.metrics {
            let em = &ea[metric.as_str()];
            let what = format!("{} {metric}", arm.treatment);
            assert_eq!(m.n as u64, em["n"].as_u64().unwrap(), "{what} n");
            assert_close(&format!("{what} mean"), m.mean, f(em, "mean"));
            assert_close(&format!("{what} var"), m.var, f(em, "var"));
        }
    }

    // The notebook's rows: the Welch ones, first in the table.
    let rows = e["rows"].as_array().unwrap();
    let welch: Vec<&botify_sim::report::Row> = a
        .rows
        .iter()
        .take_while(|r| r.method == botify_sim::report::Method::Welch)
        .collect();
    assert_eq!(welch.len(), rows.len());
    for (r, er) in welch.into_iter().zip(rows) {
        let what = format!("{} {}", r.treatment, r.metric);
        assert_eq!(r.treatment, er["treatment"].as_str().unwrap(), "row order");
        assert_eq!(r.metric.name(), er["metric"].as_str().unwrap(), "row order");
        assert_eq!(
            r.significant,
            er["significant"].as_bool().unwrap(),
            "{what}"
        );
        assert_eq!(
            r.significant_holm,
            er["significant_holm"].as_bool().unwrap(),
            "{what}"
        );
        assert_eq!(r.control_n as u64, er["control_n"].as_u64().unwrap());
        assert_eq!(r.treatment_n as u64, er["treatment_n"].as_u64().unwrap());
        for (name, value) in [
            ("effect", r.effect),
            ("upper", r.upper),
            ("lower", r.lower),
            ("control_mean", r.control_mean),
            ("treatment_mean", r.treatment_mean),
            ("dof", r.dof),
            ("p_value", r.p_value),
            ("p_holm", r.p_holm),
            ("delta_lower", r.delta_lower),
            ("delta_upper", r.delta_upper),
            ("mde", r.mde),
        ] {
            assert_close(&format!("{what} {name}"), value, f(er, name));
        }
    }
}

#[test]
fn our_log_with_session_ids_matches_pandas() {
    let a = analyze(&[data("events.jsonl")], &AnalysisOptions::default()).unwrap();
    assert_eq!(a.experiment, "default");
    assert!(!a.log.sorted_by_timestamp);
    compare(&a, &expected("expected_events.json"));
}

#[test]
fn two_botify_replicas_without_session_ids_match_pandas() {
    let opts = AnalysisOptions {
        control: Some("T4".into()),
        ..AnalysisOptions::default()
    };
    let a = analyze(&[data("replica_a.json"), data("replica_b.json")], &opts).unwrap();
    assert_eq!(a.experiment, "ALL");
    // Each replica is in time order: merged and sessionized in one streaming pass.
    assert!(!a.log.sorted_by_timestamp);
    compare(&a, &expected("expected_replicas.json"));
}

#[test]
fn shuffled_botify_log_is_sorted_and_matches_pandas() {
    let opts = AnalysisOptions {
        control: Some("T4".into()),
        ..AnalysisOptions::default()
    };
    let a = analyze(&[data("shuffled.json")], &opts).unwrap();
    assert!(a.log.sorted_by_timestamp);
    compare(&a, &expected("expected_replicas.json"));
}
