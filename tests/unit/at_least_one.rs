//! Unit tests of `core/src/at_least_one.rs` (moved out of the library: see `tests/unit/mod.rs`).

#[derive(Debug, serde::Deserialize)]
struct Sizes {
    #[serde(deserialize_with = "botify_sim::at_least_one::required")]
    k: u32,
    #[serde(default, deserialize_with = "botify_sim::at_least_one::optional")]
    dim: Option<usize>,
}

fn parse(yaml: &str) -> Result<Sizes, String> {
    serde_norway::from_str(yaml).map_err(|e| e.to_string())
}

#[test]
fn zero_negative_and_too_large_are_refused_at_the_value() {
    let sizes = parse("k: 3\ndim: 7").unwrap();
    assert_eq!((sizes.k, sizes.dim), (3, Some(7)));
    assert_eq!(parse("k: 1").unwrap().dim, None);
    let err = parse("k: 2\ndim: 0").unwrap_err();
    assert!(
        err.contains("dim: invalid value: integer `0`, expected an integer >= 1 at line 2"),
        "{err}"
    );
    let err = parse("k: -1").unwrap_err();
    assert!(
        err.contains("k: invalid type: integer `-1`, expected an integer >= 1 at line 1"),
        "{err}"
    );
    let err = parse("k: 99999999999").unwrap_err();
    assert!(err.contains("expected a smaller integer"), "{err}");
    let err = parse("k: two").unwrap_err();
    assert!(err.contains("expected an integer >= 1"), "{err}");
}
