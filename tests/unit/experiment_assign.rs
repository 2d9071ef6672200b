//! Unit tests of `core/src/experiment/assign.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::experiment::assign::*;

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
