use botify_sim::cli::{Cli, Command, TrainCommand, WorldCommand};
use botify_sim::commands;
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run(args) => commands::run::run(args),
        Command::Report(args) => botify_sim::report::run(args).map(|()| ExitCode::SUCCESS),
        Command::World { command } => match command {
            WorldCommand::Export { dir, config } => commands::world::export(dir, config.as_deref()),
            WorldCommand::Info { config } => commands::world::info(config.as_deref()),
        },
        Command::Bench(args) => commands::bench::run(args),
        Command::Train(TrainCommand::Dssm(args)) => {
            botify_sim::train::args::run(args).map(|()| ExitCode::SUCCESS)
        }
        Command::Train(TrainCommand::Mf(args)) => {
            botify_sim::train::lists_args::run_mf(args).map(|()| ExitCode::SUCCESS)
        }
        Command::Train(TrainCommand::I2i(args)) => {
            botify_sim::train::lists_args::run_i2i(args).map(|()| ExitCode::SUCCESS)
        }
        Command::Serve(args) => commands::serve::run(args),
        Command::BenchHttp(args) => commands::bench_http::run(args),
        Command::Merge(args) => commands::merge::run(args),
        Command::Prepare(args) => commands::prepare::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) if botify_sim::interrupt::is_interrupted(&e) => {
            botify_sim::note!("Error: {e:#}");
            ExitCode::from(botify_sim::interrupt::EXIT_CODE)
        }
        Err(e) => {
            botify_sim::note!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
