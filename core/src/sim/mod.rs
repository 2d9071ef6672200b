//! The user model, one episode, and the parallel runner.

pub mod days;
pub mod episode;
pub mod latency_clock;
pub mod listen;
pub mod lockstep;
pub mod merge;
pub mod runner;
pub mod shard;
pub mod summary;
