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
        // Not JSON, though every field the report reads is.
        r#"{"message":"next","timestamp":1,"user":2,"time":1,"latency":1,"experiments":{},"extra":1-2-3}"#,
        // Objects and arrays of other fields are serde_json's to check.
        r#"{"message":"next","timestamp":1,"user":2,"time":0.1,"latency":0.1,"experiments":{},"extra":{"nested":[1,{"a":"]}"}],"s":"q\"x"}}"#,
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
            "`latency` must be a number of seconds in [0, 86400], got -1.0",
        ),
        (r#""time":0.5,"latency":1e999"#, "number out of range"),
        (
            r#""time":0.5,"latency":1e308"#,
            "`latency` must be a number of seconds in [0, 86400], got 1e308",
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

/// What the fast path reads of a line equals what serde_json reads, or the fast path
/// declines it; serde_json rejects nothing the fast path accepts. Checked on many lines
/// made by mutating valid ones: characters inserted, deleted or replaced, numbers
/// replaced by near-numbers, extra fields of every kind.
#[test]
fn the_fast_path_accepts_only_what_serde_json_accepts_with_its_values() {
    use rand::{RngExt, SeedableRng};
    let templates = [
        r#"{"message":"next","timestamp":1700000000001,"user":17,"track":4211,"time":0.37,"latency":0.00042,"recommendation":977,"experiments":{"default":"T3"},"session":12,"episode":12}"#,
        r#"{"message":"last","timestamp":1712345679012,"user":17,"track":977,"time":0.0,"latency":0.00001,"recommendation":null,"experiments":{"ALL":"T3"}}"#,
        r#"{ "message" : "next" , "timestamp" : 5 , "user" : 0 , "time" : 1 , "latency" : 2.5e-7 , "experiments" : { "a" : "C" , "b" : "T1" } }"#,
    ];
    let near_numbers = [
        "1-2-3",
        "01",
        "-0",
        "1.",
        ".5",
        "1e",
        "1e+",
        "1E-2",
        "-",
        "+1",
        "1.5e308",
        "1e400",
        "1e-400",
        "123456789012345678901234567890",
        "4.9e-324",
        "0.30000000000000004",
        "-1",
        "2.0",
        "0x10",
        "1e5",
        "00",
        "1.0e+0",
        "9007199254740993",
        "0.1e1",
        "Infinity",
        "NaN",
    ];
    let extras = [
        r#""extra":1-2-3"#,
        r#""extra":"a\u0041""#,
        "\"extra\":\"\t\"",
        r#""extra":[1,2"#,
        r#""extra":{"a":1}"#,
        r#""extra":tru"#,
        r#""extra":nulll"#,
        r#""extra":true"#,
        r#""extra":"x""#,
        r#""extra":-0.0e-0"#,
        r#""extra":"\x""#,
        r#""extra":"#,
        "\"ex\ntra\":1",
    ];
    let alphabet: Vec<char> = "0123456789-+.eE\"\\{}[],: \tnulltruefalsexa\u{1}\u{7f}é"
        .chars()
        .collect();
    let mut rng = chacha20::ChaCha8Rng::seed_from_u64(23);
    let (mut accepted, mut rejected_by_both) = (0, 0);
    for _ in 0..30_000 {
        let mut line: Vec<char> = templates[rng.random_range(0..templates.len())]
            .chars()
            .collect();
        for _ in 0..rng.random_range(1..=3) {
            let at = rng.random_range(0..=line.len());
            match rng.random_range(0..6) {
                0 => line.insert(at, alphabet[rng.random_range(0..alphabet.len())]),
                1 if at < line.len() => {
                    line.remove(at);
                }
                2 if at < line.len() => line[at] = alphabet[rng.random_range(0..alphabet.len())],
                3 => {
                    // A number token replaced by a near-number.
                    let text: String = line.iter().collect();
                    let starts: Vec<usize> = text
                        .char_indices()
                        .filter(|&(i, c)| {
                            c.is_ascii_digit()
                                && (i == 0
                                    || !text[..i]
                                        .ends_with(|p: char| p.is_ascii_digit() || p == '.'))
                        })
                        .map(|(i, _)| i)
                        .collect();
                    if starts.is_empty() {
                        continue;
                    }
                    let start = starts[rng.random_range(0..starts.len())];
                    let end = text[start..]
                        .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
                        .map_or(text.len(), |e| start + e);
                    let replaced = format!(
                        "{}{}{}",
                        &text[..start],
                        near_numbers[rng.random_range(0..near_numbers.len())],
                        &text[end..]
                    );
                    line = replaced.chars().collect();
                }
                4 => {
                    // An extra field before the closing brace.
                    let text: String = line.iter().collect();
                    if let Some(close) = text.rfind('}') {
                        let extra = extras[rng.random_range(0..extras.len())];
                        line = format!("{},{extra}{}", &text[..close], &text[close..])
                            .chars()
                            .collect();
                    }
                }
                _ => {}
            }
        }
        let line: String = line.into_iter().collect();
        let slow = serde_json::from_str::<Line>(&line)
            .map_err(|e| e.to_string())
            .and_then(Line::into_fast);
        match (parse_fast(&line), slow) {
            (Some(fast), Ok(slow)) => {
                accepted += 1;
                assert_eq!(fast.last, slow.last, "{line}");
                assert_eq!(fast.timestamp, slow.timestamp, "{line}");
                assert_eq!(fast.user, slow.user, "{line}");
                assert_eq!(fast.time.to_bits(), slow.time.to_bits(), "{line}");
                assert_eq!(fast.latency.to_bits(), slow.latency.to_bits(), "{line}");
                assert_eq!(fast.experiments, slow.experiments, "{line}");
                assert_eq!(fast.session, slow.session, "{line}");
                assert_eq!(fast.episode, slow.episode, "{line}");
            }
            (Some(_), Err(e)) => {
                panic!("the fast path accepted what serde_json rejects ({e}): {line}")
            }
            (None, Err(_)) => rejected_by_both += 1,
            (None, Ok(_)) => {}
        }
    }
    // Both kinds of line are common: the test compares, it does not only decline.
    assert!(accepted > 3_000, "{accepted} accepted");
    assert!(rejected_by_both > 3_000, "{rejected_by_both} rejected");
}
