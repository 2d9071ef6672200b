//! botify-sim: a session simulator and A/B evaluation harness for music recommenders.

pub mod log;
pub mod config;
pub mod world;
pub mod experiment;
pub mod recommend;
pub mod sim;
pub mod cli;
pub mod commands;
