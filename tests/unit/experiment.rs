//! Unit tests of `core/src/experiment/mod.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::experiment::*;
use botify_sim::recommend::RecommenderSpec;
use std::path::PathBuf;

fn parse(yaml: &str) -> anyhow::Result<Experiment> {
    let file: ExperimentFile = serde_norway::from_str(yaml)?;
    Experiment::new(file.name, file.control, file.arms, PathBuf::from("."))
}

#[test]
fn arms_come_in_bucket_order_and_control_defaults_to_c() {
    let e = parse("name: x\narms:\n  T1: {kind: sticky_artist}\n  C: {kind: random}\n").unwrap();
    assert_eq!(e.arms[0].name, "C");
    assert_eq!(
        e.arms[1].spec,
        RecommenderSpec::StickyArtist { no_repeat: false }
    );
    assert_eq!(e.control, "C");
}

#[test]
fn misnamed_arms_unknown_kinds_and_unknown_controls_are_errors() {
    let err = parse("name: x\narms:\n  C: {kind: random}\n  T2: {kind: random}\n").unwrap_err();
    assert!(err.to_string().contains("arm T1 is missing"), "{err}");
    let err = parse("name: x\narms:\n  C: {kind: telepathy}\n").unwrap_err();
    assert!(err.to_string().contains("telepathy"), "{err}");
    let err = parse("name: x\ncontrol: T9\narms:\n  C: {kind: random}\n").unwrap_err();
    assert!(err.to_string().contains("control T9"), "{err}");
}

#[test]
fn top_pop_k_defaults_to_100() {
    let e = parse("name: x\narms:\n  C: {kind: top_pop}\n").unwrap();
    assert_eq!(
        e.arms[0].spec,
        RecommenderSpec::TopPop {
            k: 100,
            file: None,
            no_repeat: false
        }
    );
}

#[test]
fn an_error_in_an_arm_names_the_arm_the_key_and_its_line() {
    let head = "name: x\narms:\n  C: {kind: random}\n";
    let cases = [
        (
            "  T1:\n    kind: top_pop\n    k: 0\n",
            "arms.T1.k: invalid value: integer `0`, expected an integer >= 1 at line 6",
        ),
        (
            "  T1:\n    kind: oracle\n    candidates: -2\n",
            "arms.T1.candidates: invalid type: integer `-2`, expected an integer >= 1 at line 6",
        ),
        (
            "  T1:\n    kind: telepathy\n",
            "arms.T1.kind: unknown variant `telepathy`",
        ),
        (
            "  T1:\n    kind: history\n    file: a.jsonl\n    attempts: 0\n",
            "arms.T1.attempts: invalid value: integer `0`, expected an integer >= 1 at line 7",
        ),
        (
            "  T1:\n    kind: history\n    file: a.jsonl\n    fallback:\n      kind: top_pop\n      kk: 3\n",
            "arms.T1.fallback: unknown field `kk`, expected one of `k`, `file`, `no_repeat` at line 9",
        ),
        (
            "  T1:\n    kind: indexed\n    source:\n      train: dssm\n      logs_from: [{experiment: a.yml, episodes: 0}]\n",
            "arms.T1.source.logs_from[0].episodes: invalid value: integer `0`, expected an integer >= 1 at line 8",
        ),
        (
            "  T1:\n    kind: indexed\n    source: {train: dssm, logs_from: [], top_k: 0}\n",
            "arms.T1.source.top_k: invalid value: integer `0`, expected an integer >= 1 at line 6",
        ),
        (
            "  T1:\n    kind: indexed\n    source: {train: dssm, logs_from: [], dim: 0}\n",
            "arms.T1.source.dim: invalid value: integer `0`",
        ),
        (
            "  T1:\n    kind: indexed\n    source: {train: dssm, logs_from: [], epochs: 0}\n",
            "arms.T1.source.epochs: invalid value: integer `0`",
        ),
        (
            "  T1:\n    kind: remote\n    url: http://x\n    timeout_ms: 0\n",
            "arms.T1.timeout_ms: invalid value: integer `0`",
        ),
        (
            "  T1:\n    kind: sticky_artist\n    k: 3\n",
            "arms.T1: unknown field `k`, expected `no_repeat` at line 6",
        ),
        // `kind` not first: read buffered, the error still names the arm.
        (
            "  T1: {k: 0, kind: top_pop}\n",
            "arms.T1: invalid value: integer `0`, expected an integer >= 1 at line 4",
        ),
    ];
    for (arm, expected) in cases {
        let err = parse(&format!("{head}{arm}")).unwrap_err().to_string();
        assert!(err.contains(expected), "{arm}: {err}");
    }
}

#[test]
fn specs_read_with_kind_anywhere_and_write_kind_first() {
    let e = parse("name: x\narms:\n  C: {k: 7, kind: top_pop}\n  T1: {kind: random}\n").unwrap();
    assert_eq!(
        e.arms[0].spec,
        RecommenderSpec::TopPop {
            k: 7,
            file: None,
            no_repeat: false
        }
    );
    let json = serde_json::to_string(&e.arms[0].spec).unwrap();
    assert_eq!(json, r#"{"kind":"top_pop","k":7}"#);
    let back: RecommenderSpec = serde_json::from_str(&json).unwrap();
    assert_eq!(back, e.arms[0].spec);
    assert_eq!(
        serde_json::to_string(&e.arms[1].spec).unwrap(),
        r#"{"kind":"random"}"#
    );
}
