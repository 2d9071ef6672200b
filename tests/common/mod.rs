//! Helpers shared by the integration tests: run the binary, write small worlds.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn sim(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .current_dir(dir)
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
