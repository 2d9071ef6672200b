//! Unit tests of `core/src/sim/days.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::config::SimulationConfig;
use botify_sim::log::DAY_MS;
use botify_sim::sim::days::*;

#[test]
fn parses_a_count_or_ask_and_refuses_the_rest() {
    assert_eq!("3".parse::<Days>(), Ok(Days::Count(3)));
    assert_eq!("ask".parse::<Days>(), Ok(Days::Ask));
    for bad in ["0", "-1", "two", "", "1.5"] {
        let err = bad.parse::<Days>().unwrap_err();
        assert!(err.contains(&format!("{bad:?}")), "{err}");
    }
    assert!(Days::Count(2).is_last(2) && !Days::Count(2).is_last(1));
    assert!(!Days::Ask.is_last(100));
}

#[test]
fn a_single_day_keeps_the_configured_clock_and_seed() {
    let base = SimulationConfig::default();
    let plan = day_plan(1, 500, 42, &base, false).unwrap();
    assert_eq!((plan.seed, plan.first_episode), (42, 0));
    assert_eq!(plan.simulation, base);
}

#[test]
fn each_day_starts_one_day_later_and_its_episodes_fit_the_day() {
    let base = SimulationConfig::default();
    for episodes in [1u64, 86, 87, 500, 20_000] {
        for day in 1..=3u32 {
            let plan = day_plan(day, episodes, 42, &base, true).unwrap();
            let stamp =
                |i: u64| plan.simulation.start_timestamp_ms + i * plan.simulation.episode_stride_ms;
            assert_eq!(plan.first_episode, u64::from(day - 1) * episodes);
            assert_eq!(stamp(plan.first_episode), plan.start_timestamp_ms);
            assert_eq!(
                plan.start_timestamp_ms,
                base.start_timestamp_ms + u64::from(day - 1) * DAY_MS
            );
            let last = stamp(plan.first_episode + episodes - 1);
            assert!(
                last < plan.end_timestamp_ms,
                "{episodes} episodes, day {day}"
            );
            assert!(plan.simulation.episode_stride_ms <= base.episode_stride_ms);
        }
    }
    assert!(day_plan(1, DAY_MS + 1, 1, &base, true).is_err());
}

#[test]
fn days_after_the_first_draw_their_own_streams() {
    let seeds: Vec<u64> = (1..=4).map(|d| day_seed(42, d)).collect();
    assert_eq!(seeds[0], 42);
    let mut unique = seeds.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 4);
    assert_ne!(day_seed(43, 2), seeds[1]);
}
