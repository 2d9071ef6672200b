use botify_sim::cli::{CacheCommand, Cli, Command, TrainCommand, WorldCommand};
use botify_sim::commands;
use clap::{CommandFactory, Parser};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    botify_sim::terminal::set_quiet(cli.quiet);
    botify_sim::terminal::set_color(cli.color);
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
        Command::Experiments => commands::init::list(),
        Command::Init(args) => commands::init::init(args),
        Command::Cache { command, cache_dir } => match command {
            CacheCommand::List => commands::cache::list(cache_dir),
            CacheCommand::Clean => commands::cache::clean(cache_dir),
        },
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "sim", &mut script);
            botify_sim::out!("{}", String::from_utf8_lossy(&script).trim_end());
            Ok(ExitCode::SUCCESS)
        }
        Command::Merge(args) => commands::merge::run(args),
        Command::Prepare(args) => commands::prepare::run(args),
        Command::Calibrate(args) => commands::calibrate::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) if botify_sim::interrupt::is_interrupted(&e) => {
            botify_sim::problem!("Error: {}", botify_sim::terminal::one_line(&e));
            ExitCode::from(botify_sim::interrupt::EXIT_CODE)
        }
        Err(e) => {
            botify_sim::problem!("Error: {}", botify_sim::terminal::one_line(&e));
            ExitCode::FAILURE
        }
    }
}
