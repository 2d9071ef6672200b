//! botify-sim: a session simulator and A/B evaluation harness for music recommenders.

pub mod at_least_one;
pub mod atomic_file;
pub mod cli;
pub mod commands;
pub mod config;
pub mod experiment;
pub mod http_client;
pub mod interrupt;
pub mod log;
pub mod pipeline;
pub mod recommend;
pub mod report;
pub mod serve;
pub mod sim;
pub mod terminal;
pub mod topk;
pub mod train;
pub mod world;
