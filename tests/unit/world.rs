//! Unit tests of `core/src/world/mod.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::world::*;

#[test]
fn dot_matches_naive_sum_for_odd_lengths() {
    let a: Vec<f32> = (0..19).map(|i| i as f32 * 0.5).collect();
    let b: Vec<f32> = (0..19).map(|i| 1.0 - i as f32 * 0.25).collect();
    let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
    assert!((dot(&a, &b) - naive).abs() < 1e-4);
}
