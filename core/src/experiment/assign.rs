//! Treatment assignment, compatible with the Python service (SIMULATOR.md §4):
//! `mmh3.hash(str(user), mmh3.hash(name), signed=False) % k`.

/// murmur3 x86 32-bit of `bytes` (reading from a slice cannot fail).
pub fn murmur3(bytes: &[u8], seed: u32) -> u32 {
    murmur3::murmur3_32(&mut &bytes[..], seed).unwrap_or_default()
}

/// The experiment's salt: the hash of its name with seed 0, used as `u32`.
pub fn salt(experiment: &str) -> u32 {
    murmur3(experiment.as_bytes(), 0)
}

/// The bucket `0..split` of `user` in the experiment with this `salt`.
pub fn bucket(salt: u32, user: u64, split: usize) -> usize {
    (murmur3(user.to_string().as_bytes(), salt) as u64 % split as u64) as usize
}

/// The name of treatment `bucket`: `C`, `T1`, `T2`, ...
pub fn treatment_name(bucket: usize) -> String {
    if bucket == 0 {
        "C".to_string()
    } else {
        format!("T{bucket}")
    }
}
