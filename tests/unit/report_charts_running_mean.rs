//! Unit tests of `report/src/charts/running_mean.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::report::charts::running_mean::user_level_running_mean;

#[test]
fn running_mean_is_the_user_level_mean_so_far() {
    // User 1: sessions 1.0 and 3.0 (mean 2.0); user 2: one session 5.0.
    let points = user_level_running_mean(&[1.0, 5.0, 3.0], &[1, 2, 1], 10);
    assert_eq!(points, vec![(1.0, 1.0), (2.0, 3.0), (3.0, 3.5)]);
    // Pooled over sessions it would be 3.0: the chart must not draw that.
    let thinned = user_level_running_mean(&[1.0; 10], &[7; 10], 3);
    assert_eq!(thinned.first(), Some(&(1.0, 1.0)));
    assert_eq!(thinned.last(), Some(&(10.0, 1.0)));
    assert!(thinned.len() <= 5);
}
