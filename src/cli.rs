//! Command-line definition (clap derive) and dispatch.

use botify_sim::report;
use clap::{Parser, Subcommand};

/// botify-sim: simulate listening sessions against music recommenders and evaluate A/B
/// experiments.
#[derive(Debug, Parser)]
#[command(name = "sim", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// A/B table with confidence intervals, and charts, from event logs.
    Report(report::ReportArgs),
}

/// Runs the chosen command.
pub fn dispatch(cli: &Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Report(args) => report::run(args),
    }
}
