//! The core of botify-sim, a session simulator and A/B evaluation harness for music
//! recommenders: worlds, the user model, recommenders, logs and the botify service (the
//! A/B report is the crate `botify_sim_report`, in `report/`; training is
//! `botify_sim_train`, in `train/`). Compiled at opt-level 3; the command layer that wires it to the `sim`
//! command line is the crate `botify_sim` (the repository's root package), compiled at
//! opt-level 0 because nothing in it runs per event (why two crates: `Cargo.toml`).

pub mod at_least_one;
pub mod atomic_file;
pub mod config;
pub mod experiment;
pub mod http_client;
pub mod interrupt;
pub mod log;
pub mod overwrite;
pub mod pipeline;
pub mod recommend;
pub mod serve;
pub mod sim;
pub mod terminal;
pub mod topk;
pub mod world;
