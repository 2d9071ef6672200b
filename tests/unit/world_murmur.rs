//! Unit tests of `core/src/world/murmur.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::world::murmur::murmur3_x64_128;
use rand::{RngExt, SeedableRng};

/// The slice hash is the `murmur3` crate's, for every tail length and for long inputs
/// (a changed value would make every cache file look damaged).
#[test]
fn the_slice_hash_equals_the_murmur3_crate() {
    let mut rng = chacha20::ChaCha8Rng::seed_from_u64(9);
    let bytes: Vec<u8> = (0..100_000).map(|_| rng.random()).collect();
    for len in (0..=80).chain([1000, 4097, 100_000]) {
        let input = &bytes[..len];
        let expected = murmur3::murmur3_x64_128(&mut &input[..], 0).unwrap();
        assert_eq!(murmur3_x64_128(input), expected, "{len} bytes");
    }
}
