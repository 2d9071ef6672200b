//! Unit tests of `core/src/sim/latency_clock.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::sim::latency_clock::LatencyClock;
use std::time::{Duration, Instant};

/// Both the counter clock and its fallback: a later reading never measures more than an
/// earlier one, and nothing measures less than zero.
#[test]
fn latencies_are_monotonic_and_never_negative() {
    for clock in [LatencyClock::get(), LatencyClock::instant()] {
        let first = clock.now();
        let mut last = 0.0;
        for _ in 0..100_000 {
            let later = clock.now();
            let since_later = later.elapsed_seconds();
            let since_first = first.elapsed_seconds();
            assert!(since_later >= 0.0, "{clock:?}: {since_later}");
            assert!(
                since_first >= since_later,
                "{clock:?}: {since_first} < {since_later}"
            );
            assert!(
                since_first >= last,
                "{clock:?}: went back from {last} to {since_first}"
            );
            last = since_first;
        }
    }
}

/// The counter's measured rate is right: a sleep measures what `Instant` measures around
/// it, within 1 % and 100 µs (the two reads are a few instructions apart; a rate off by
/// a factor, or ticks taken for nanoseconds, would be far out).
#[test]
fn a_latency_is_what_instant_measures() {
    let clock = LatencyClock::get();
    for sleep in [2, 20, 60] {
        let (started, instant) = (clock.now(), Instant::now());
        std::thread::sleep(Duration::from_millis(sleep));
        let (measured, reference) = (started.elapsed_seconds(), instant.elapsed().as_secs_f64());
        assert!(
            (measured - reference).abs() <= 0.01 * reference + 1e-4,
            "{sleep} ms: {measured} s by {clock:?}, {reference} s by Instant"
        );
    }
}

/// The counter is used exactly where the CPU has an invariant one, as Linux reports it
/// (`constant_tsc` and `nonstop_tsc` in /proc/cpuinfo, which Linux always has); the
/// fallback never reads it.
#[cfg(target_os = "linux")]
#[test]
fn the_counter_is_used_where_the_cpu_has_an_invariant_one() {
    assert!(!LatencyClock::instant().reads_tsc());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").expect("Linux has /proc/cpuinfo");
    let flags = cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .expect("/proc/cpuinfo lists the CPU's flags");
    let has = |flag: &str| flags.split_whitespace().any(|f| f == flag);
    let invariant = cfg!(target_arch = "x86_64") && has("constant_tsc") && has("nonstop_tsc");
    assert_eq!(
        LatencyClock::get().reads_tsc(),
        invariant,
        "invariant counter per /proc/cpuinfo: {invariant}"
    );
}
