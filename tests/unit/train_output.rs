//! Unit tests of `train/src/output.rs` (moved out of the library: see `tests/unit/mod.rs`).

#[test]
fn one_json_object_per_line() {
    let mut buf = Vec::new();
    botify_sim::train::output::write_recommendations_to(&mut buf, &[(3, vec![1, 2]), (9, vec![])])
        .unwrap();
    assert_eq!(
        String::from_utf8(buf).unwrap(),
        "{\"user\":3,\"tracks\":[1,2]}\n{\"user\":9,\"tracks\":[]}\n"
    );
}
