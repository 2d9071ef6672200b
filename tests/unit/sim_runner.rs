//! Unit tests of `core/src/sim/runner.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::config::UserDefaults;
use botify_sim::sim::episode::{EpisodeStart, EpisodeStreams};
use botify_sim::sim::runner::*;
use botify_sim::world::synthetic::{SyntheticWorldConfig, generate};

#[test]
fn chunks_hold_whole_users_in_episode_order_and_every_episode_once() {
    // Few users, so that most users have several episodes in the block.
    let world = generate(
        &SyntheticWorldConfig {
            tracks: 200,
            artists: 50,
            genres: 3,
            dim: 4,
            users: 7,
            ..SyntheticWorldConfig::default()
        },
        &UserDefaults::default(),
    )
    .unwrap();
    let streams = EpisodeStreams::new(3);
    let starts: Vec<EpisodeStart> = (0..300)
        .map(|index| EpisodeStart::draw(&streams, index, &world))
        .collect();
    let mut group_of_user = vec![NO_GROUP; world.users.len()];
    let order = group_by_user(&starts, &mut group_of_user);
    assert!(group_of_user.iter().all(|&g| g == NO_GROUP), "left clean");
    let cuts = chunk_cuts(&starts, &order, 4);
    assert!((2..=4).contains(&cuts.len()), "{cuts:?}");
    let mut seen = vec![false; starts.len()];
    let mut chunk_of_user = vec![None; world.users.len()];
    for (chunk, range) in cuts.iter().enumerate() {
        let mut last_index_of_user = vec![None; world.users.len()];
        for &position in &order[range.clone()] {
            assert!(!seen[position], "episode {position} twice");
            seen[position] = true;
            let user = starts[position].user as usize;
            assert_eq!(*chunk_of_user[user].get_or_insert(chunk), chunk);
            let index = starts[position].index;
            assert!(last_index_of_user[user].is_none_or(|last| last < index));
            last_index_of_user[user] = Some(index);
        }
    }
    assert!(seen.iter().all(|&s| s), "every episode runs");
}
