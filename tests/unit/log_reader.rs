//! Unit tests of `core/src/log/reader.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::log::reader::*;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    let mut f = File::create(&path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
    path
}

const NEXT: &str = r#"{"message":"next","timestamp":TS,"user":1,"track":2,"time":0.5,"latency":0.001,"recommendation":3,"experiments":{"e":"C"}}"#;

fn line(ts: u64) -> String {
    NEXT.replace("TS", &ts.to_string())
}

#[test]
fn reads_lines_and_interns_experiments() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{}\n\n{}\n{}", line(1), line(2), line(3));
    let path = write(dir.path(), "a.jsonl", &text);
    let mut sets = ExperimentSets::default();
    let mut seen = Vec::new();
    let stats = read_events(&[path], &ReaderOptions::default(), &mut sets, |_, e, _| {
        seen.push(e.timestamp)
    })
    .unwrap();
    assert_eq!(seen, vec![1, 2, 3]);
    assert_eq!(stats.events, 3);
    assert_eq!(sets.len(), 1);
    assert_eq!(sets.get(0), &[("e".to_string(), "C".to_string())]);
}

#[test]
fn small_blocks_keep_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..5000 {
        text.push_str(&line(i));
        text.push('\n');
    }
    text.push_str("{\"message\":\"next\"}\n");
    let path = write(dir.path(), "a.jsonl", &text);
    let options = ReaderOptions {
        block_size: 1024,
        ..ReaderOptions::default()
    };
    let err = read_events(
        &[path],
        &options,
        &mut ExperimentSets::default(),
        |_, _, _| {},
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("a.jsonl:5001:"), "{msg}");
}

#[test]
fn merges_files_by_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.json", &format!("{}\n{}\n", line(1), line(4)));
    let b = write(dir.path(), "b.json", &format!("{}\n{}\n", line(2), line(3)));
    let mut seen = Vec::new();
    read_events(
        &[a, b],
        &ReaderOptions::default(),
        &mut ExperimentSets::default(),
        |f, e, _| seen.push((f, e.timestamp)),
    )
    .unwrap();
    assert_eq!(seen, vec![(0, 1), (1, 2), (1, 3), (0, 4)]);
}

/// The fast path agrees with serde_json wherever it answers, and gives up (so that
/// serde_json decides) on what it does not handle.
#[test]
fn fast_path_agrees_with_serde() {
    let accepted = [
        r#"{"message":"next","timestamp":1,"user":2,"track":3,"time":1.0,"latency":0.00042,"recommendation":9,"experiments":{"default":"T3"},"session":12,"episode":12}"#,
        r#"{ "message" : "last", "timestamp": 10, "user": 0, "time": 0, "latency": 1e-5, "recommendation": null, "experiments": {"a": "C", "b": "T1"} } "#,
        r#"{"experiments":{"x":"{}"},"latency":-0.5E+2,"time":0.30000000000000004,"user":18446744073709551615,"timestamp":0,"message":"next","session":null}"#,
        r#"{"message":"next","timestamp":1,"user":2,"time":0.1,"latency":0.1,"experiments":{},"extra":{"nested":[1,{"a":"]}"}],"s":"q\"x"}}"#,
    ];
    for line in accepted {
        let fast = parse_fast(line).unwrap_or_else(|| panic!("fast path gave up: {line}"));
        let slow = serde_json::from_str::<Line>(line)
            .unwrap()
            .into_fast()
            .unwrap();
        assert_eq!(fast.last, slow.last, "{line}");
        assert_eq!(fast.timestamp, slow.timestamp);
        assert_eq!(fast.user, slow.user);
        assert_eq!(fast.time.to_bits(), slow.time.to_bits(), "{line}");
        assert_eq!(fast.latency.to_bits(), slow.latency.to_bits(), "{line}");
        assert_eq!(fast.experiments, slow.experiments);
        assert_eq!(fast.session, slow.session);
        assert_eq!(fast.track, slow.track, "{line}");
        assert_eq!(fast.recommendation, slow.recommendation, "{line}");
    }
    let declined = [
        r#"{"message":"ne\u0078t","timestamp":1,"user":2,"time":1,"latency":1,"experiments":{}}"#,
        r#"{"message":"next","timestamp":1.5,"user":2,"time":1,"latency":1,"experiments":{}}"#,
        r#"{"message":"next","timestamp":1,"user":2,"time":1,"latency":1}"#,
        r#"{"message":"next","timestamp":1,"user":2,"time":1,"latency":1,"experiments":{}} x"#,
        r#"{"message":"next","timestamp":1,"user":2,"user":3,"time":1,"latency":1,"experiments":{}}"#,
        r#"{"message":"skip","timestamp":1,"user":2,"time":1,"latency":1,"experiments":{}}"#,
        r#"{"message":"next","timestamp":01,"user":2,"time":1,"latency":1,"experiments":{}}"#,
        r#"{"message":"next","timestamp":1,"user":2,"time":.5,"latency":1,"experiments":{}}"#,
        r#"{"message":"next","timestamp":1,"user":2,"time":1,"latency":1,"experiments":{"#,
        r#"{"message":"next","timestamp":1,"user":2,"track":-1,"time":1,"latency":1,"experiments":{}}"#,
        r#"{"message":"next","timestamp":1,"user":2,"recommendation":2.5,"time":1,"latency":1,"experiments":{}}"#,
    ];
    for line in declined {
        assert!(parse_fast(line).is_none(), "fast path accepted: {line}");
    }
}

#[test]
fn skips_and_counts_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{}\nnot json\n{}\n", line(1), line(2));
    let path = write(dir.path(), "a.jsonl", &text);
    let options = ReaderOptions {
        skip_bad_lines: true,
        ..ReaderOptions::default()
    };
    let stats = read_events(
        &[path],
        &options,
        &mut ExperimentSets::default(),
        |_, _, _| {},
    )
    .unwrap();
    assert_eq!(stats.events, 2);
    assert_eq!(stats.bad_lines, 1);
    assert!(stats.bad_line_examples[0].contains("a.jsonl:2:"));
}

#[test]
fn impossible_values_and_ids_are_malformed_lines_naming_the_field() {
    let base = r#""message":"next","timestamp":1,"user":2,"track":3,"recommendation":4,"experiments":{"e":"C"}"#;
    let cases = [
        (
            r#""time":1e308,"latency":0.1"#,
            "`time` must be in [0, 1], got 1e308",
        ),
        (
            r#""time":-0.25,"latency":0.1"#,
            "`time` must be in [0, 1], got -0.25",
        ),
        (
            r#""time":0.5,"latency":-1"#,
            "`latency` must be a finite number of seconds >= 0, got -1.0",
        ),
        (
            r#""time":0.5,"latency":1e999"#,
            "`latency` must be a finite number of seconds >= 0, got inf",
        ),
        (
            r#""time":0.5,"latency":0.1,"session":-3"#,
            "`session` must be a non-negative integer, got -3",
        ),
        (
            r#""time":0.5,"latency":0.1,"session":"7""#,
            r#"`session` must be a non-negative integer, got "7""#,
        ),
    ];
    for (fields, expected) in cases {
        let text = format!("{{{base},{fields}}}\n");
        let parsed = parse_piece(text.as_bytes());
        assert_eq!(parsed.events.len(), 0, "{fields}");
        assert!(
            parsed.bad[0].1.contains(expected),
            "{fields}: {:?}",
            parsed.bad
        );
    }
    let ids = [
        (
            r#""user":-2"#,
            "`user` must be a non-negative integer, got -2",
        ),
        (
            r#""user":2.0"#,
            "`user` must be a non-negative integer, got 2.0",
        ),
        (
            r#""user":2,"track":1e2"#,
            "`track` must be a non-negative integer, got 1e2",
        ),
        (
            r#""user":2,"recommendation":-9"#,
            "`recommendation` must be a non-negative integer, got -9",
        ),
    ];
    for (fields, expected) in ids {
        let text = format!(
            r#"{{"message":"next","timestamp":1,{fields},"time":0.5,"latency":0.1,"experiments":{{}}}}"#
        );
        let parsed = parse_piece(text.as_bytes());
        assert_eq!(parsed.events.len(), 0, "{fields}");
        assert!(
            parsed.bad[0].1.contains(expected),
            "{fields}: {:?}",
            parsed.bad
        );
    }
    let edges = concat!(
        r#"{"message":"next","timestamp":0,"user":0,"track":0,"recommendation":null,"time":0,"latency":0,"experiments":{}}"#,
        "\n",
        r#"{"message":"last","timestamp":1,"user":0,"track":0,"recommendation":0,"time":1.0,"latency":0.0,"experiments":{}}"#,
    );
    assert_eq!(parse_piece(edges.as_bytes()).events.len(), 2);
}
