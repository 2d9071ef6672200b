//! Unit tests of `core/src/report/analysis.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::log::session::SessionTotals;
use botify_sim::report::analysis::distinct_units;
use rand::{RngExt, SeedableRng};

/// The units a sort and deduplication of the (arm, user) pairs give.
fn units_by_sorting(sessions: &[(u8, u32, SessionTotals)]) -> Vec<(u32, u64)> {
    let mut units: Vec<(u32, u64)> = sessions
        .iter()
        .map(|&(arm, user, _)| (u32::from(arm), u64::from(user)))
        .collect();
    units.sort_unstable();
    units.dedup();
    units
}

/// Both ways to the units (a table for a run's dense user ids, a sort for sparse ones)
/// give the sorted distinct pairs, whatever the order of the sessions and however many
/// arms a user is in.
#[test]
fn distinct_units_are_the_sorted_distinct_arm_user_pairs() {
    let mut rng = chacha20::ChaCha8Rng::seed_from_u64(3);
    let totals = SessionTotals::new(0);
    for (users, sessions) in [(1, 1), (10, 3), (10, 500), (3000, 20_000), (u32::MAX, 50)] {
        let log: Vec<(u8, u32, SessionTotals)> = (0..sessions)
            .map(|_| {
                let arm = rng.random_range(0..4u8);
                (arm, rng.random_range(0..users), totals)
            })
            .chain([(0, users - 1, totals)])
            .collect();
        assert_eq!(
            distinct_units(&log),
            units_by_sorting(&log),
            "{users} users"
        );
    }
    assert_eq!(distinct_units(&[]), Vec::new());
}
