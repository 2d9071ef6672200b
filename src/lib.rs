//! botify-sim: a session simulator and A/B evaluation harness for music recommenders.

pub mod log;
pub mod report;
