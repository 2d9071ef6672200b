//! Treatment assignment, compatible with the Python service (SIMULATOR.md §6):
//! `mmh3.hash(str(user), mmh3.hash(name), signed=False) % k`.

/// murmur3 x86 32-bit of `bytes` (reading from a slice cannot fail).
fn murmur3(bytes: &[u8], seed: u32) -> u32 {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row of the Python reference vectors (copied from shared/testdata).
    #[test]
    fn matches_every_python_mmh3_vector() {
        let csv = include_str!("../../tests/data/mmh3_vectors.csv");
        let mut rows = 0;
        for line in csv.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let (name, salt_py, user, split, bucket_py, hash_py) = (
                f[0],
                f[1].parse::<i32>().unwrap() as u32, // Python prints the signed salt
                f[2].parse::<u64>().unwrap(),
                f[3].parse::<usize>().unwrap(),
                f[4].parse::<usize>().unwrap(),
                f[5].parse::<u32>().unwrap(),
            );
            assert_eq!(salt(name), salt_py, "salt of {name}");
            assert_eq!(murmur3(user.to_string().as_bytes(), salt_py), hash_py);
            assert_eq!(bucket(salt_py, user, split), bucket_py, "{line}");
            rows += 1;
        }
        assert_eq!(rows, 160);
    }

    #[test]
    fn treatment_names_follow_the_course() {
        assert_eq!(treatment_name(0), "C");
        assert_eq!(treatment_name(3), "T3");
    }
}
