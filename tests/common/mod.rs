//! Helpers shared by the integration tests: run the binary, write small worlds.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `sim` in `dir`, its artifact cache in `dir/cache` unless `--cache-dir` says
/// otherwise (never the user's own cache).
pub fn sim(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .current_dir(dir)
        .env("BOTIFY_CACHE_DIR", dir.join("cache"))
        .output()
        .expect("the sim binary runs")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The project's root, for `experiments/` and test data.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A config for a small synthetic world, so tests run in milliseconds.
pub fn small_world_config(dir: &Path) -> PathBuf {
    let path = dir.join("env.yml");
    std::fs::write(
        &path,
        "world:\n  synthetic: {tracks: 3000, artists: 700, users: 400, seed: 7}\n",
    )
    .unwrap();
    path
}

/// Writes the small world's `env.yml` into `dir` and returns the start of a `sim` call
/// on it with the built-in `ceiling` experiment (run in `dir`): `command --experiment
/// ceiling --config env.yml`.
pub fn ceiling_on_small_world<'a>(dir: &Path, command: &'a str) -> Vec<&'a str> {
    small_world_config(dir);
    vec![command, "--experiment", "ceiling", "--config", "env.yml"]
}

/// A tiny world (`env.yml`) and a two-arm `seminar.yml` whose logs recipes train from.
pub fn tiny_world_and_seminar(dir: &Path) {
    std::fs::write(
        dir.join("env.yml"),
        "world:\n  synthetic: {tracks: 2000, artists: 500, users: 300, seed: 5}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("seminar.yml"),
        "name: seminar\narms:\n  C: {kind: random}\n  T1: {kind: sticky_artist}\n",
    )
    .unwrap();
}

/// `sim run` of `trained.yml` (an experiment with a recipe) on `env.yml`, 50 episodes
/// into `out`, plus `extra`.
pub fn trained_run_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "--experiment",
        "trained.yml",
        "--config",
        "env.yml",
        "--episodes",
        "50",
        "--out",
        "out",
    ];
    args.extend(extra);
    args
}

/// The log's lines without the `latency` field (the one field that may differ between runs).
pub fn log_without_latency(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
            v.as_object_mut().unwrap().remove("latency");
            v.to_string()
        })
        .collect()
}

/// A `.npy` file with the given dtype descr, order and raw little/big-endian payload.
pub fn write_npy(path: &Path, descr: &str, fortran: bool, shape: (usize, usize), payload: &[u8]) {
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': ({}, {}), }}",
        if fortran { "True" } else { "False" },
        shape.0,
        shape.1
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(payload);
    std::fs::write(path, bytes).unwrap();
}
