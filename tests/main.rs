//! Every integration test, as modules of one test binary: one link instead of one per
//! file keeps `cargo test` from spending minutes linking copies of the same crate.

mod common;
mod http_support;
mod unit;

mod calibrate;
mod console;
mod course_table;
mod days;
mod default_experiment;
mod deploy_files;
mod designs;
mod first_hour;
mod guarantees;
mod http_deploy;
mod http_e2e;
mod http_fault;
mod http_fuzz;
mod http_hostile;
mod http_serve_faults;
mod input_values;
mod interruptions;
mod neighbour_cache;
mod pipeline;
mod remote_catalogue;
mod report_aa;
mod report_cli;
mod report_fixture;
mod report_inputs;
mod report_tiny;
mod report_ux;
mod run_determinism;
mod run_report;
mod shards;
mod train_cli;
mod train_dssm;
mod trust_io;
mod verdicts;
mod world_files;
