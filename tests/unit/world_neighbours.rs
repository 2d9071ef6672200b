//! Unit tests of `core/src/world/neighbours.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::world::Catalogue;
use botify_sim::world::neighbours::*;

fn line_catalogue(values: &[f32]) -> Catalogue {
    let n = values.len();
    Catalogue::new(
        1,
        values.to_vec(),
        vec![0; n],
        vec!["a".into()],
        vec![String::new(); n],
        (0..n as u32).collect(),
    )
}

#[test]
fn nearest_are_exact_sorted_and_ties_go_to_the_lower_id() {
    let cat = line_catalogue(&[0.5, 3.0, -1.0, 3.0, 2.0]);
    let cache = NeighbourCache::new(5, 3);
    assert_eq!(cache.get(&cat, 1), &[1, 3, 4]);
    assert_eq!(cache.get(&cat, 2), &[2, 0, 4]);
}

#[test]
fn batched_warm_up_equals_one_query_at_a_time() {
    let values: Vec<f32> = (0..200).map(|i| ((i * 37) % 101) as f32 - 50.0).collect();
    let cat = line_catalogue(&values);
    let lazy = NeighbourCache::new(200, 7);
    let warm = NeighbourCache::new(200, 7);
    let tracks: Vec<u32> = (0..200).step_by(3).collect();
    warm.warm(&cat, &tracks);
    for &t in &tracks {
        assert_eq!(lazy.get(&cat, t), warm.get(&cat, t));
    }
}

#[test]
fn cache_answers_the_same_slice_twice() {
    let cat = line_catalogue(&[0.5, 3.0, -1.0]);
    let cache = NeighbourCache::new(3, 2);
    let first = cache.get(&cat, 1).as_ptr();
    assert_eq!(cache.get(&cat, 1), &[1, 0]);
    assert_eq!(first, cache.get(&cat, 1).as_ptr());
}
