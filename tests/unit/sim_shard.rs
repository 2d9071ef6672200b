//! Unit tests of `core/src/sim/shard.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::sim::shard::*;
use std::collections::HashMap;

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn parses_k_of_n_and_names_bad_values() {
    assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
    for bad in ["4/4", "0/0", "a/4", "2", "-1/4"] {
        let message = bad.parse::<Shard>().unwrap_err();
        assert!(message.contains(bad), "{bad}: {message}");
    }
}

#[test]
fn every_user_is_in_exactly_one_shard_and_shards_are_balanced() {
    let count = 4;
    let mut sizes = [0u32; 4];
    for user in 0..10_000 {
        let owners: Vec<u32> = (0..count)
            .filter(|&k| Shard { index: k, count }.contains(user))
            .collect();
        assert_eq!(owners.len(), 1, "user {user}");
        sizes[owners[0] as usize] += 1;
    }
    // Binomial(10000, 1/4): sd = 43.3; 5 sd either side.
    for size in sizes {
        assert!((2500i32 - size as i32).abs() < 217, "{sizes:?}");
    }
}

#[test]
fn auto_reads_kubernetes_and_slurm() {
    assert_eq!(
        Shard::auto(env(&[("JOB_COMPLETION_INDEX", "3")]), Some(8)),
        Ok(Shard { index: 3, count: 8 })
    );
    assert_eq!(
        Shard::auto(
            env(&[
                ("SLURM_ARRAY_TASK_ID", "5"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_COUNT", "6"),
            ]),
            None
        ),
        Ok(Shard { index: 4, count: 6 })
    );
    let errors = [
        Shard::auto(env(&[]), Some(4)),
        Shard::auto(env(&[("JOB_COMPLETION_INDEX", "3")]), None),
        Shard::auto(env(&[("JOB_COMPLETION_INDEX", "4")]), Some(4)),
        Shard::auto(env(&[("JOB_COMPLETION_INDEX", "x")]), Some(4)),
        Shard::auto(env(&[("SLURM_ARRAY_TASK_ID", "1")]), None),
    ];
    for e in errors {
        assert!(e.unwrap_err().starts_with("--shard auto"));
    }
}
