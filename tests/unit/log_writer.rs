//! Unit tests of `core/src/log/writer.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::log::Event;
use botify_sim::log::Message;
use botify_sim::log::writer::*;
use rand::{RngExt, SeedableRng};

fn latency_text(seconds: f64) -> String {
    let mut head = LineHead::new();
    let _ = push_latency(&mut head, seconds);
    String::from_utf8(head.as_bytes().to_vec()).unwrap()
}

#[test]
fn latency_is_a_plain_decimal_with_nanosecond_resolution() {
    assert_eq!(latency_text(2.08e-7), "0.000000208");
    assert_eq!(latency_text(0.00042), "0.00042");
    assert_eq!(latency_text(1.5), "1.5");
    assert_eq!(latency_text(3.0), "3.0");
    assert_eq!(latency_text(0.0), "0.0");
    assert_eq!(latency_text(1.23456789123), "1.234567891");
    assert_eq!(latency_text(0.1), "0.1");
    assert_eq!(latency_text(0.000001), "0.000001");
    assert_eq!(latency_text(2.000000001), "2.000000001");
    assert_eq!(latency_text(0.120000345), "0.120000345");
    assert_eq!(latency_text(f64::NAN), "null");
}

#[test]
fn the_returned_latency_is_what_a_reader_parses_back() {
    let mut rng = chacha20::ChaCha8Rng::seed_from_u64(11);
    let mut values = vec![
        0.0, 1e-9, 4.9e-10, 5e-10, 2.08e-7, 0.00042, 1.5, 9.1e6, 2.5e7,
    ];
    values.extend((0..20_000).map(|i| match i % 3 {
        0 => rng.random::<f64>() * 1e-3,
        1 => rng.random::<f64>() * 10.0,
        _ => rng.random::<f64>() * 1e8,
    }));
    for seconds in values {
        let mut head = LineHead::new();
        let returned = push_latency(&mut head, seconds);
        let parsed: f64 = String::from_utf8(head.as_bytes().to_vec())
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(returned.to_bits(), parsed.to_bits(), "{seconds}");
    }
}

#[test]
fn listen_times_are_written_as_serde_json_writes_them() {
    for h in 0..=100 {
        let x = h as f64 / 100.0;
        let mut head = LineHead::new();
        push_f64(&mut head, x);
        assert_eq!(
            String::from_utf8(head.as_bytes().to_vec()).unwrap(),
            serde_json::to_string(&x).unwrap()
        );
    }
}

#[test]
fn nanos_round_half_away_from_zero_as_f64_round() {
    let mut rng = chacha20::ChaCha8Rng::seed_from_u64(5);
    // Halves and the floats next to them, where a cast plus 0.5 would go wrong.
    let mut values: Vec<f64> = (0..2000u64)
        .flat_map(|n| {
            let half = (n as f64 + 0.5) / 1e9;
            [half, half.next_up(), half.next_down()]
        })
        .collect();
    values.extend([
        0.0,
        0.5f64.next_down() * 1e-9,
        ((1u64 << 52) as f64 - 0.5) * 1e-9,
        9.99e8,
    ]);
    values.extend((0..20_000).map(|_| rng.random::<f64>() * 10f64.powi(rng.random_range(-9..9))));
    for seconds in values {
        assert_eq!(
            nanos(seconds),
            (seconds * 1e9).round() as u64,
            "{seconds:e}"
        );
    }
}

#[test]
fn counted_digits_equal_formatted_ones() {
    let mut digits = Digits::new();
    let mut values: Vec<u64> = (0..1100).collect();
    values.extend([
        9_999,
        10_000,
        10_001,
        5,
        99_999_999_999_999,
        100_000_000_000_000,
    ]);
    values.extend([
        u64::MAX - 1,
        u64::MAX,
        0,
        10_u64.pow(19) - 1,
        10_u64.pow(19),
    ]);
    for value in values {
        let set = digits.set(value);
        assert_eq!(
            &set.bytes[..set.len],
            itoa::Buffer::new().format(value).as_bytes(),
            "{value}"
        );
    }
}

/// A session's events share one `SessionParts`: timestamps count up (through a carry),
/// each answer is usually the next track, sometimes not; a short tail (copied into the
/// line's head) and one too long for that.
#[test]
fn a_session_written_line_after_line_equals_serde_json_of_each_event() {
    let long_name = "an experiment whose name alone is longer than the tail room ".repeat(2);
    for experiment in ["seminar", long_name.as_str()] {
        a_session_equals_serde_json(experiment);
    }
}

fn a_session_equals_serde_json(experiment: &str) {
    let mut rng = chacha20::ChaCha8Rng::seed_from_u64(8);
    let treatments = render_treatments(&[(experiment, "T1")]);
    let mut parts = SessionParts::new(77, &treatments, Some(9), Some(9));
    let (mut timestamp, mut track) = (1_699_999_999_990u64, 0u64);
    for i in 0..300 {
        let recommendation = rng.random_range(0..60_000);
        let fields = EventFields {
            message: if i % 50 == 49 {
                Message::Last
            } else {
                Message::Next
            },
            timestamp,
            track,
            time: rng.random_range(0..=100) as f64 / 100.0,
            latency: rng.random_range(0..3_000_000_000u64) as f64 / 1e9,
            recommendation: (i % 50 != 49).then_some(recommendation),
        };
        let mut buf = Vec::new();
        append_session_event(&mut buf, &mut parts, &fields);
        let owned = Event {
            message: fields.message,
            timestamp,
            user: 77,
            track,
            time: fields.time,
            latency: fields.latency,
            recommendation: fields.recommendation,
            experiments: [(experiment.to_string(), "T1".to_string())]
                .into_iter()
                .collect(),
            session: Some(9),
            episode: Some(9),
            pair: None,
        };
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            format!("{}\n", serde_json::to_string(&owned).unwrap())
        );
        timestamp += if i % 7 == 6 { 1000 } else { 1 };
        track = if i % 5 == 4 {
            rng.random()
        } else {
            recommendation
        };
    }
}

#[test]
fn hand_written_lines_equal_serde_json_of_the_owned_event() {
    let mut rng = chacha20::ChaCha8Rng::seed_from_u64(3);
    let treatments = render_treatments(&[("de\"fault", "T3"), ("ALL", "C")]);
    for i in 0..2000 {
        let record = EventRecord {
            message: if i % 2 == 0 {
                Message::Next
            } else {
                Message::Last
            },
            timestamp: rng.random(),
            user: rng.random_range(0..100_000),
            track: rng.random(),
            time: if i % 11 == 0 {
                rng.random::<f64>()
            } else {
                (rng.random_range(0..=100) as f64) / 100.0
            },
            // Latencies in whole nanoseconds are written exactly as serde_json would.
            latency: rng.random_range(0..2_000_000_000u64) as f64 / 1e9,
            recommendation: (i % 3 != 0).then(|| rng.random_range(0..50_000)),
            experiments: &treatments,
            session: (i % 5 != 0).then_some(i),
            episode: (i % 7 != 0).then_some(i),
        };
        let mut buf = Vec::new();
        append_event(&mut buf, &record);
        let line = String::from_utf8(buf).unwrap();
        let owned = Event {
            message: record.message,
            timestamp: record.timestamp,
            user: record.user,
            track: record.track,
            time: record.time,
            latency: record.latency,
            recommendation: record.recommendation,
            experiments: [("de\"fault", "T3"), ("ALL", "C")]
                .iter()
                .map(|(e, t)| (e.to_string(), t.to_string()))
                .collect(),
            session: record.session,
            episode: record.episode,
            pair: None,
        };
        assert_eq!(
            format!("{}\n", serde_json::to_string(&owned).unwrap()),
            line
        );
    }
}

/// More parts than one vectored write takes (1,024 on Linux), empty ones among them,
/// after buffered lines: the file holds them all, in order, and a commit covers them.
#[test]
fn parts_are_written_whole_and_in_order_after_buffered_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let mut log = LogWriter::create(&path).unwrap();
    log.write_lines(b"{\"first\":0}\n").unwrap();
    let lines: Vec<String> = (0..3000)
        .map(|i| match i % 7 {
            0 => String::new(),
            _ => format!("{{\"n\":{i}}}\n").repeat(i % 5 + 1),
        })
        .collect();
    let parts: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
    log.write_parts(&parts).unwrap();
    log.write_lines(b"{\"last\":0}\n").unwrap();
    log.commit().unwrap();
    let expected = format!("{{\"first\":0}}\n{}{{\"last\":0}}\n", lines.concat());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
    // Everything handed over counts as written: nothing is cut back.
    log.cut_to_commit().unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
}
