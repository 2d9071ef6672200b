//! Unit tests of `core/src/experiment/plan.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::experiment::plan::*;
use botify_sim::experiment::{Experiment, ExperimentFile};
use botify_sim::report::Criteria;
use botify_sim::report::Metric;
use botify_sim::report::design::{Direction, Role};
use std::path::PathBuf;

fn parse(yaml: &str) -> anyhow::Result<Plan> {
    let file: ExperimentFile = serde_norway::from_str(yaml)?;
    let plan = file.plan();
    Experiment::new(file.name, file.control, file.arms, PathBuf::from("."))?;
    Ok(plan)
}

const ARMS: &str = "name: x\narms:\n  C: {kind: random}\n  T1: {kind: sticky_artist}\n";

#[test]
fn thresholds_read_units_and_refuse_what_is_not_one() {
    let t = |s: &str| s.parse::<Threshold>();
    assert_eq!(
        t("2 ms").unwrap(),
        Threshold {
            amount: 2.0,
            unit: Unit::Milliseconds
        }
    );
    assert_eq!(t("2ms").unwrap(), t("2 ms").unwrap());
    assert_eq!(t("500 us").unwrap().amount, 0.5);
    assert_eq!(t("0.1 s").unwrap().amount, 100.0);
    assert_eq!(t("5 %").unwrap().unit, Unit::Percent);
    assert_eq!(t("5%").unwrap().amount, 5.0);
    assert_eq!(t("0.25").unwrap().unit, Unit::Metric);
    for bad in ["", "ms", "two ms", "2 parsecs", "-1 ms", "inf", "NaN %"] {
        assert!(t(bad).is_err(), "{bad:?} was accepted");
    }
}

#[test]
fn an_experiment_declares_its_primary_metric_guardrails_and_pairing() {
    let plan = parse(&format!(
        "{ARMS}primary: mean_time_per_session\nguardrails:\n  mean_request_latency: {{max_increase: 2 ms}}\n  mean_tracks_per_session: {{max_decrease: 5 %}}\npaired: true\n"
    ))
    .unwrap();
    assert_eq!(plan.primary.as_deref(), Some("mean_time_per_session"));
    assert!(plan.paired);
    assert_eq!(
        plan.guardrails["mean_request_latency"],
        Guardrail::MaxIncrease(Threshold {
            amount: 2.0,
            unit: Unit::Milliseconds
        })
    );
    let criteria = Criteria::from_plan(&plan).unwrap();
    assert_eq!(criteria.primary, Metric::MeanTimePerSession);
    assert_eq!(
        criteria.role(Metric::MeanRequestLatency, true),
        Role::Guardrail
    );
    assert_eq!(criteria.role(Metric::Sessions, true), Role::NotMovable);
    assert_eq!(criteria.role(Metric::Sessions, false), Role::Secondary);
    assert_eq!(
        criteria.direction(Metric::MeanTracksPerSession),
        Direction::Increase
    );
    let tracks = criteria.guardrail(Metric::MeanTracksPerSession).unwrap();
    assert_eq!(tracks.threshold_percent(8.0), -5.0);
    let latency = criteria.guardrail(Metric::MeanRequestLatency).unwrap();
    assert_eq!(latency.threshold_percent(0.5), 400.0, "2 ms of 0.5 ms");
    // The record of a run keeps the plan, as the file wrote it.
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(
        json["guardrails"]["mean_request_latency"]["max_increase"],
        "2 ms"
    );
    let back: Plan = serde_json::from_value(json).unwrap();
    assert_eq!(back, plan);
}

#[test]
fn a_bad_plan_names_the_key_and_the_value() {
    let err = |yaml: &str| {
        format!(
            "{:#}",
            parse(&format!("{ARMS}{yaml}"))
                .map(|p| Criteria::from_plan(&p))
                .and_then(|c| c.map(|_| ()))
                .unwrap_err()
        )
    };
    let e = err("guardrails:\n  mean_request_latency: {max_increase: 2 parsecs}\n");
    assert!(
        e.contains("guardrails.mean_request_latency") && e.contains("2 parsecs"),
        "{e}"
    );
    let e = err("guardrails:\n  mean_request_latency: {max_increase: 2 ms, max_decrease: 1 ms}\n");
    assert!(e.contains("one of max_increase or max_decrease"), "{e}");
    let e = err("guardrails:\n  mean_request_latency: {at_most: 2 ms}\n");
    assert!(e.contains("at_most"), "{e}");
    let e = err("primary: happiness\n");
    assert!(e.contains("primary: unknown metric `happiness`"), "{e}");
    let e = err("guardrails:\n  time: {max_decrease: 2 ms}\n");
    assert!(e.contains("guardrails.time") && e.contains("in ms"), "{e}");
    let e = err("primary: time\nguardrails:\n  time: {max_decrease: 5 %}\n");
    assert!(e.contains("is the primary metric"), "{e}");
}

#[test]
fn the_guardrail_flag_reads_a_sign_and_a_threshold() {
    let (metric, rule) = parse_guardrail_flag("mean_request_latency=+2ms").unwrap();
    assert_eq!(metric, "mean_request_latency");
    assert!(matches!(rule, Guardrail::MaxIncrease(t) if t.amount == 2.0));
    let (_, rule) = parse_guardrail_flag("mean_tracks_per_session=-5%").unwrap();
    assert!(matches!(rule, Guardrail::MaxDecrease(t) if t.unit == Unit::Percent));
    let (_, rule) = parse_guardrail_flag("time=0.5").unwrap();
    assert!(matches!(rule, Guardrail::MaxIncrease(t) if t.unit == Unit::Metric));
    assert!(parse_guardrail_flag("mean_request_latency").is_err());
    assert!(parse_guardrail_flag("x=+two").is_err());
}
