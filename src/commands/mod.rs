//! What each subcommand does, on top of the library modules.

pub mod bench;
pub mod run;
pub mod setup;
pub mod world;
