//! The command line: one definition per flag, read by `--help` too.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "sim",
    version,
    about = "Simulate listening sessions against music recommenders and A/B them"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Simulate sessions against the arms of an experiment and write a botify-compatible event log
    Run(RunArgs),
    /// A/B table with confidence intervals, and charts, from event logs
    Report(crate::report::ReportArgs),
    /// Inspect or export the world
    World {
        #[command(subcommand)]
        command: WorldCommand,
    },
    /// Measure simulated steps per second (with log writing) for 1 and 2 workers
    Bench(BenchArgs),
    /// Train a model from event logs
    #[command(subcommand)]
    Train(TrainCommand),
    /// Serve the arms of an experiment over HTTP with the botify protocol
    Serve(ServeArgs),
    /// Measure `sim run --remote` against `sim serve` on loopback, and `sim serve` under load
    BenchHttp(BenchHttpArgs),
    /// Merge the logs and run.json files of `sim run --shard K/N` into the single-machine run
    Merge(MergeArgs),
    /// Build every artifact and the neighbour cache of an experiment once, for shards to read
    Prepare(PrepareArgs),
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard run folders (events.jsonl and run.json), or their events.jsonl files
    #[arg(required = true, value_name = "SHARD_RUN")]
    pub inputs: Vec<PathBuf>,
    /// Folder of the merged events.jsonl, run.json and report
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct PrepareArgs {
    /// Experiment whose artifacts are built
    #[arg(long, default_value = "experiments/default.yml")]
    pub experiment: PathBuf,
    /// Config file [default: config/env.yml if present, else built-in defaults]
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Cache folder to fill (the shards' --cache-dir)
    #[arg(long, default_value = "cache")]
    pub cache_dir: PathBuf,
    /// Build every artifact and the neighbour cache again, even when cached
    #[arg(long)]
    pub rebuild: bool,
    /// Parallel workers [default: number of cores]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub workers: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// Two-tower (DSSM) model -> per-user top-k recommendation file
    Dssm(crate::train::args::TrainDssmArgs),
    /// Implicit-feedback matrix factorisation (weighted ALS) -> per-user top-k recommendation file
    Mf(crate::train::lists_args::TrainMfArgs),
    /// Next-track lists per track from the logs' sessions -> `contextual` recommendation file
    I2i(crate::train::lists_args::TrainI2iArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Experiment file (name, arms, control)
    #[arg(long, default_value = "experiments/default.yml")]
    pub experiment: PathBuf,
    /// Config file [default: config/env.yml if present, else built-in defaults]
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Number of episodes (sessions) to simulate
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..))]
    pub episodes: u64,
    /// Seed of every random draw of the run
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Parallel workers [default: number of cores]
    #[arg(long, visible_alias = "processes", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub workers: Option<u64>,
    /// Output directory for events.jsonl and run.json [default: reports/<experiment name>]
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where trained artifacts of recipes are cached
    #[arg(long, default_value = "cache")]
    pub cache_dir: PathBuf,
    /// Build every artifact of the experiment again, even when cached
    #[arg(long)]
    pub rebuild: bool,
    /// Drive a botify-protocol service at URL instead of an experiment's arms (one arm, the
    /// service assigns treatments itself); without URL, `remote_recommender` of the config
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "", conflicts_with = "experiment")]
    pub remote: Option<String>,
    /// You are the recommender: each step shows the previous track and reads the next one
    /// from standard input (one arm, like --remote; `q` or end of input ends the run)
    #[arg(long, conflicts_with_all = ["experiment", "remote"])]
    pub console: bool,
    /// Days to simulate, `--episodes` each, the virtual clock one day further per day
    /// (`ask`: ask after each day, as the course does; needs a terminal)
    #[arg(long, default_value = "1", value_name = "N|ask")]
    pub days: crate::sim::days::Days,
    /// Shell command run between two days (env: BOTIFY_DAY, BOTIFY_LOG, BOTIFY_OUT); a
    /// failure stops the run, keeping every finished day's log
    #[arg(long, value_name = "CMD")]
    pub between_days: Option<String>,
    #[command(flatten)]
    pub remote_options: RemoteArgs,
    /// Simulate only the episodes of the users in shard K of N (K from 0; merge the shards
    /// with `sim merge`), or `auto`: K and N from a Kubernetes Indexed Job
    /// (JOB_COMPLETION_INDEX, with --shards N) or a Slurm job array (SLURM_ARRAY_TASK_ID,
    /// SLURM_ARRAY_TASK_COUNT)
    #[arg(long, value_name = "K/N|auto")]
    pub shard: Option<crate::sim::shard::ShardChoice>,
    /// Number of shards, for `--shard auto` in a Kubernetes Indexed Job (its completions)
    #[arg(long, requires = "shard", value_parser = clap::value_parser!(u32).range(1..))]
    pub shards: Option<u32>,
}

/// How `--remote` talks to its service.
#[derive(Debug, Clone, Args)]
pub struct RemoteArgs {
    /// Timeout of one request to the remote service, in milliseconds
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub remote_timeout_ms: u64,
    /// Retries of a request after a connection error (refused, reset, timed out)
    #[arg(long, default_value_t = 3)]
    pub remote_retries: u32,
    /// Wait before the first retry, in milliseconds; doubled for each further one
    #[arg(long, default_value_t = 100)]
    pub remote_backoff_ms: u64,
    /// Skip the check that the service serves the simulated catalogue (`GET /track/<id>`
    /// of a seeded sample of tracks), for services without that route
    #[arg(long)]
    pub no_catalogue_check: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Experiment whose arms are served; users are routed to arms as in `sim run`
    #[arg(long, default_value = "experiments/default.yml")]
    pub experiment: PathBuf,
    /// Config file [default: config/env.yml if present, else built-in defaults]
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0: any free port, printed at start)
    #[arg(long, default_value_t = 5001)]
    pub port: u16,
    /// Event log to write [default: reports/<experiment name>/served.jsonl]
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Seed of the recommenders' random draws (one stream per user session)
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Threads holding the user sessions [default: number of cores]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub workers: Option<u64>,
    /// Where trained artifacts of recipes are cached (built first when missing)
    #[arg(long, default_value = "cache")]
    pub cache_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct BenchHttpArgs {
    /// Experiment served by the in-process `sim serve`
    #[arg(long, default_value = "experiments/seminar.yml")]
    pub experiment: PathBuf,
    /// Config file [default: config/env.yml if present, else built-in defaults]
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Episodes per `sim run --remote` measurement
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub episodes: u64,
    /// Seconds of the load-generator phase
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Concurrent connections of the load generator
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub connections: u64,
}

#[derive(Debug, Subcommand)]
pub enum WorldCommand {
    /// Write the world in the course format: tracks.json, tracks.npy, users.json, top_tracks.json
    Export {
        /// Directory to write into (created if missing)
        dir: PathBuf,
        /// Config file [default: config/env.yml if present, else built-in defaults]
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print the world's sizes and shape (tracks per artist, score scales)
    Info {
        /// Config file [default: config/env.yml if present, else built-in defaults]
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Experiment file to simulate
    #[arg(long, default_value = "experiments/seminar.yml")]
    pub experiment: PathBuf,
    /// Config file [default: config/env.yml if present, else built-in defaults]
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Episodes per measurement
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub episodes: u64,
    /// Measurements per worker count (the best is reported)
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    pub repeats: u64,
    /// Where trained artifacts of recipes are cached
    #[arg(long, default_value = "cache")]
    pub cache_dir: PathBuf,
    /// Time whole `sim run` processes instead (start to exit, report included), with a
    /// cold (empty) and then a warm cache
    #[arg(long)]
    pub end_to_end: bool,
}
