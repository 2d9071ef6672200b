//! botify-sim: a session simulator and A/B evaluation harness for music recommenders.
//!
//! This crate is the command layer: the command line (`cli`), one module per command
//! (`commands`) and the pipeline that turns experiments into runnable arms (`pipeline`).
//! Everything they wire together lives in `botify_sim_core`, `botify_sim_report` and
//! `botify_sim_train`, re-exported here under the same paths (`botify_sim::sim`,
//! `botify_sim::report`, `botify_sim::train`...). The split is for build time: this crate
//! builds at opt-level 0, the other three at 3, side by side (measurements: `Cargo.toml`).

pub use botify_sim_core::{
    at_least_one, atomic_file, config, experiment, http_client, interrupt, log, note, out,
    overwrite, problem, recommend, serve, sim, terminal, topk, world,
};

pub use botify_sim_report as report;
pub use botify_sim_train as train;

pub mod calibrate;
pub mod cli;
pub mod commands;
pub mod pipeline;
