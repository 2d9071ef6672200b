//! What each subcommand does, on top of the library modules.

pub mod bench;
pub mod bench_http;
pub mod between_days;
pub mod cache;
pub mod calibrate;
pub mod days;
pub mod init;
pub mod merge;
pub mod pre_period;
pub mod prepare;
pub mod run;
pub mod run_folder;
pub mod serve;
pub mod setup;
pub mod world;
