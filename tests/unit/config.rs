//! Unit tests of `core/src/config.rs` (moved out of the library: see `tests/unit/mod.rs`).

use botify_sim::config::*;

fn load(yaml: &str) -> anyhow::Result<Config> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("env.yml");
    std::fs::write(&path, yaml)?;
    Config::load(&path)
}

#[test]
fn impossible_user_defaults_and_sizes_are_refused_naming_the_key() {
    let cases = [
        (
            "user_defaults: {interest_neighbours: 0}",
            "user_defaults.interest_neighbours must be at least 1, got 0",
        ),
        (
            "user_defaults: {session_budget: 0}",
            "user_defaults.session_budget must be at least 1, got 0",
        ),
        (
            "user_defaults: {session_budget: -4}",
            "user_defaults.session_budget must be at least 1, got -4",
        ),
        (
            "user_defaults: {consume_bias: .nan}",
            "user_defaults.consume_bias must be a finite number, got NaN",
        ),
        (
            "simulation: {max_session_steps: 0}",
            "simulation.max_session_steps must be at least 1, got 0",
        ),
        (
            "world: {synthetic: {tracks: 0}}",
            "world.synthetic.tracks must be at least 1, got 0",
        ),
        (
            "world: {synthetic: {consume_sharpness: [2.0, 1.0]}}",
            "world.synthetic.consume_sharpness must be a range [lo, hi]",
        ),
    ];
    for (yaml, expected) in cases {
        let err = load(yaml).unwrap_err().to_string();
        assert!(err.contains(expected), "{yaml}: {err}");
        assert!(err.contains("env.yml"), "{yaml}: {err}");
    }
    assert!(load("user_defaults: {interest_neighbours: 1, session_budget: 1}").is_ok());
}
