//! Command-line definition (clap derive) and dispatch.

use crate::train::args::TrainDssmArgs;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "sim",
    version,
    about = "botify-sim: session simulator and A/B harness for music recommenders"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model from event logs.
    #[command(subcommand)]
    Train(TrainCommand),
}

#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// Two-tower (DSSM) model -> per-user top-k recommendation file.
    Dssm(TrainDssmArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(TrainCommand::Dssm(args)) => crate::train::args::run(&args),
    }
}
