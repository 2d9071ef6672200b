//! botify-sim: a session simulator and A/B evaluation harness for music recommenders.

pub mod cli;
pub mod log;
pub mod train;
