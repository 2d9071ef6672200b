//! The library's unit tests, one module per source file (`world_npy` tests
//! `core/src/world/npy.rs`). They live here, not in `#[cfg(test)]` modules of `core/src/`,
//! `report/src/`, `support/src/`, `train/src/` or `src/`,
//! because `cargo test` compiles a library that has unit tests a second time, whole, as a
//! test harness: on 2 cores that second copy of the library cost 140 CPU s, about 70 s of
//! the wall time of `cargo test --release` from clean. So the five `Cargo.toml`s set
//! `[lib] test = false`, the items these tests reach are `pub`, and this test binary is
//! built at opt-level 0 (`Cargo.toml`). `no_unit_tests_hide_in_src` keeps it that way: a
//! `#[test]` in `core/src/`, `report/src/`, `train/src/` or `src/` would never run.

mod at_least_one;
mod atomic_file;
mod commands_cache;
mod commands_days;
mod commands_run_folder;
mod config;
mod experiment;
mod experiment_assign;
mod experiment_builtin;
mod experiment_plan;
mod http_client;
mod http_test_server;
mod log_fingerprint;
mod log_reader;
mod log_writer;
mod pipeline_daily;
mod pipeline_manifest;
mod recommend_console;
mod recommend_history;
mod recommend_lists;
mod recommend_no_repeat;
mod recommend_remote;
mod recommend_stall;
mod report_analysis;
mod report_charts;
mod report_charts_distribution;
mod report_charts_forest;
mod report_charts_running_mean;
mod report_cuped;
mod report_metrics;
mod report_render;
mod report_render_terminal;
mod report_sessionize;
mod report_stats;
mod serve;
mod serve_http;
mod serve_log_file;
mod serve_store;
mod sim_days;
mod sim_episode;
mod sim_latency_clock;
mod sim_listen;
mod sim_runner;
mod sim_shard;
mod sim_summary;
mod support_deploy;
mod terminal;
mod topk;
mod train_data;
mod train_i2i;
mod train_input;
mod train_mf;
mod train_model;
mod train_optim;
mod train_output;
mod train_synthetic;
mod world;
mod world_neighbour_file;
mod world_neighbours;
mod world_npy;
mod world_synthetic;
mod world_world_file;

/// `[lib] test = false` means a `#[test]` or `#[cfg(test)]` in `core/src/` or `src/` is compiled by
/// nobody and never runs (nor would one in `src/main.rs`, `test = false` too): this fails
/// instead, naming the file.
#[test]
fn no_unit_tests_hide_in_src() {
    fn visit(dir: &std::path::Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                visit(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                if text.contains("#[test]") || text.contains("#[cfg(test)]") {
                    found.push(path.display().to_string());
                }
            }
        }
    }
    let mut found = Vec::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["core/src", "report/src", "support/src", "train/src", "src"] {
        visit(&root.join(dir), &mut found);
    }
    assert!(
        found.is_empty(),
        "unit tests in src/ never run (move them to tests/unit/): {found:?}"
    );
}
