//! Unit tests of `report/src/sessionize.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::log::reader::{ExperimentSets, ParsedEvent};
use botify_sim::report::sessionize::*;

fn sets() -> ExperimentSets {
    ExperimentSets::default()
}

fn ev(ts: u64, user: u64, time: f64, last: bool, session: Option<u64>) -> ParsedEvent {
    ParsedEvent {
        timestamp: ts,
        user,
        time,
        latency: 0.001,
        session,
        episode: session.is_some(),
        last,
        experiments: 0,
        track: Some(1),
        recommendation: (!last).then_some(2),
    }
}

/// A sessionizer tracking one treatment, without going through a log.
fn one_treatment() -> (Sessionizer, ExperimentSets) {
    let mut s = Sessionizer::new(None);
    s.treatments.push(("e".into(), "C".into()));
    s.set_cache.push(Some(vec![0]));
    (s, sets())
}

#[test]
fn cuts_by_last_and_drops_the_tail() {
    let (mut s, sets) = one_treatment();
    for e in [
        ev(1, 7, 1.0, false, None),
        ev(2, 7, 0.5, true, None),
        ev(3, 7, 1.0, false, None),
    ] {
        s.push(0, &e, &sets);
    }
    let out = s.finish();
    assert_eq!(out.sessions.len(), 1);
    assert_eq!(out.sessions[0].tracks, 2);
    assert_eq!(out.sessions[0].time, 1.5);
    assert_eq!(out.sessions[0].timestamp, 1);
    assert!((out.sessions[0].latency_ms - 2.0).abs() < 1e-12);
    assert_eq!((out.unfinished_sessions, out.unfinished_events), (1, 1));
}

#[test]
fn session_ids_allow_overlap() {
    let (mut s, sets) = one_treatment();
    for e in [
        ev(1, 7, 1.0, false, Some(1)),
        ev(2, 7, 1.0, false, Some(2)),
        ev(3, 7, 0.25, true, Some(1)),
        ev(4, 7, 0.5, true, Some(2)),
    ] {
        s.push(0, &e, &sets);
    }
    let out = s.finish();
    let times: Vec<f64> = out.sessions.iter().map(|s| s.time).collect();
    assert_eq!(times, vec![1.25, 1.5]);
    assert_eq!(out.unfinished_sessions, 0);
}

#[test]
fn simulator_ids_are_per_file_and_service_ids_join_across_replica_logs() {
    let (mut s, sets) = one_treatment();
    // Two runs' logs: episode 1 in each is its own session.
    s.push(0, &ev(1, 7, 1.0, false, Some(1)), &sets);
    s.push(1, &ev(2, 8, 1.0, false, Some(1)), &sets);
    s.push(0, &ev(3, 7, 0.5, true, Some(1)), &sets);
    s.push(1, &ev(4, 8, 0.25, true, Some(1)), &sets);
    // Two replicas' logs of `sim serve`: one session alternating between them.
    let served = |ts, time, last| ParsedEvent {
        episode: false,
        ..ev(ts, 9, time, last, Some(5_000_000))
    };
    s.push(0, &served(5, 1.0, false), &sets);
    // The same millisecond in both logs: the last comes first in the merge.
    s.push(0, &served(7, 0.25, true), &sets);
    s.push(1, &served(7, 0.5, false), &sets);
    let out = s.finish();
    let by_user: Vec<(u64, u64, f64)> = out
        .sessions
        .iter()
        .map(|s| (s.user, s.tracks, s.time))
        .collect();
    assert_eq!(by_user, vec![(7, 2, 1.5), (8, 2, 1.25), (9, 3, 1.75)]);
    assert_eq!(out.unfinished_sessions, 0);
}

#[test]
fn out_of_order_is_detected_and_buffered_mode_sorts() {
    let events = [
        ev(5, 7, 0.5, true, None),
        ev(1, 7, 1.0, false, None),
        ev(9, 7, 0.5, true, None),
    ];
    let (mut s, sets) = one_treatment();
    for e in &events {
        s.push(0, e, &sets);
    }
    assert!(s.out_of_order());
    s.restart_buffered();
    for e in &events {
        s.push(0, e, &sets);
    }
    let out = s.finish();
    let tracks: Vec<u64> = out.sessions.iter().map(|s| s.tracks).collect();
    assert_eq!(tracks, vec![2, 1]);
    assert!(out.sorted);
}
