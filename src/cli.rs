//! The command line: one definition per flag, read by `--help` too.

use crate::experiment::builtin;
use crate::terminal::ColorChoice;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "sim",
    // The commit too, as run.json records it: which build made a run.
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("BOTIFY_COMMIT"), ")"),
    about = "Simulate listening sessions against music recommenders and A/B them"
)]
pub struct Cli {
    /// Print only results and errors: no progress bars, no messages on stderr
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Colour the A/B tables by significance (`auto`: when stdout is a terminal and
    /// NO_COLOR is unset or empty); every command takes it, only `run`, `report` and
    /// `merge` print coloured tables
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

/// The user's cache directory for artifacts (`$XDG_CACHE_HOME/botify-sim` on Linux), or a
/// folder under the temporary directory on a system without one.
pub fn default_cache_dir() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("botify-sim")
}

/// `--experiment NAME|FILE`: a built-in's virtual path, or the file given.
fn experiment_path(value: &str) -> Result<PathBuf, String> {
    builtin::locate(value).map_err(|e| e.to_string())
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
    /// List the experiments built into the binary (usable as `--experiment NAME`)
    Experiments,
    /// Write editable copies of the default config and the built-in experiments
    Init(InitArgs),
    /// Show or free the artifact cache
    Cache {
        #[command(subcommand)]
        command: CacheCommand,
        /// The cache to show or free (before or after `list`/`clean`)
        #[arg(long, global = true, env = "BOTIFY_CACHE_DIR", default_value_os_t = default_cache_dir())]
        cache_dir: PathBuf,
    },
    /// Print a shell completion script (e.g. `sim completions bash > ~/.local/share/bash-completion/completions/sim`)
    Completions {
        /// The shell to complete for
        shell: clap_complete::Shell,
    },
    /// Merge the logs and run.json files of `sim run --shard K/N` into the single-machine run
    Merge(MergeArgs),
    /// Build every artifact and the neighbour cache of an experiment once, for shards to read
    Prepare(PrepareArgs),
    /// Run seeded replicate experiments in memory (A/A and with the real arms) and measure
    /// each method's false-positive rate, power and coverage of the true effect
    Calibrate(CalibrateArgs),
}

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Experiment whose arms are calibrated: a built-in name or a file
    #[arg(long, value_name = "NAME|FILE", default_value = "hw2", value_parser = experiment_path)]
    pub experiment: PathBuf,
    /// Config file [default: config/env.yml if present, else built-in defaults]
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Episodes of each replicate experiment
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(2..))]
    pub episodes: u64,
    /// Replicate experiments of each kind (A/A and real arms) and design
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub replicates: u64,
    /// Seed the replicates' seeds are drawn from
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Days of the pre-period of the CUPED design (0: no CUPED)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=30))]
    pub pre_days: u32,
    /// Looks of the sequential design: after every episodes/looks episodes
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub looks: u32,
    /// Episodes of the paired run whose means are the true effects
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1000..))]
    pub truth_episodes: u64,
    /// Leave out the paired design (every episode under every arm)
    #[arg(long)]
    pub no_paired: bool,
    /// Two-sided significance level of every interval
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Power the episodes needed are sized for
    #[arg(long, default_value_t = 0.8)]
    pub power: f64,
    /// Parallel workers [default: number of cores]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub workers: Option<u64>,
    /// Where trained artifacts of recipes are cached
    #[arg(long, env = "BOTIFY_CACHE_DIR", default_value_os_t = default_cache_dir())]
    pub cache_dir: PathBuf,
    /// Print the calibration as JSON on stdout
    #[arg(long)]
    pub json: bool,
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
    /// Experiment whose artifacts are built: a built-in name or a file
    #[arg(long, value_name = "NAME|FILE", default_value = "hw2", value_parser = experiment_path)]
    pub experiment: PathBuf,
    /// Config file [default: config/env.yml if present, else built-in defaults]
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Cache folder to fill (the shards' --cache-dir)
    #[arg(long, env = "BOTIFY_CACHE_DIR", default_value_os_t = default_cache_dir())]
    pub cache_dir: PathBuf,
    /// Build every artifact and the neighbour cache again, even when cached
    #[arg(long)]
    pub rebuild: bool,
    /// Parallel workers [default: number of cores]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub workers: Option<u64>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Folder to write config/env.yml and experiments/*.yml into (created if missing)
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Overwrite files that exist (otherwise they are kept and named)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// List the cached artifacts: key, size, age, what made them
    List,
    /// Remove every cached artifact (and leftovers of interrupted builds)
    Clean,
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
    /// Experiment: a built-in name (`sim experiments` lists them) or a file (a path, or a name ending in .yml)
    #[arg(long, value_name = "NAME|FILE", default_value = "hw2", value_parser = experiment_path)]
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
    /// Output directory for events.jsonl, run.json and the report [default: runs/<experiment name>]
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where trained artifacts of recipes are cached
    #[arg(long, env = "BOTIFY_CACHE_DIR", default_value_os_t = default_cache_dir())]
    pub cache_dir: PathBuf,
    /// Print the run's summary (run.json plus where the files went) as JSON on stdout, instead of the tables
    #[arg(long)]
    pub json: bool,
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
    /// Seconds the --between-days command may run: then it is sent SIGTERM (SIGKILL 5 s
    /// later) and the run stops, keeping every finished day's log (default: no limit)
    #[arg(long, value_name = "SECONDS", requires = "between_days", value_parser = positive_seconds)]
    pub between_days_timeout: Option<f64>,
    /// Play every episode under every arm (common random numbers): the same user, session
    /// interest, first track, listening draws and recommender stream, so the arms differ
    /// only by what they recommend; one session per arm per episode, tied by `pair` in the
    /// log, and the report's paired rows. In-process arms only: --remote and remote arms
    /// keep the murmur3 assignment (the service assigns its own treatments) [default: the
    /// experiment's `paired:`]
    #[arg(long, conflicts_with_all = ["remote", "console"])]
    pub paired: bool,
    /// Days of a pre-period before day 1: every user under the control arm, --episodes a
    /// day, with streams of their own, logged to events-pre.jsonl; the report adjusts each
    /// user's metrics by their pre-period ones (CUPED). Not with --remote or --console
    /// (one arm: nothing to compare)
    #[arg(long, default_value_t = 0, value_name = "D", value_parser = clap::value_parser!(u32).range(0..=365), conflicts_with_all = ["remote", "console"])]
    pub pre_days: u32,
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
    /// Seconds a request keeps asking an unavailable service (a connection refused, reset
    /// or timed out, or a 503) before the run stops; 0: no retry
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = wait_seconds)]
    pub remote_wait: f64,
    /// Most retries of one request [default: as many as --remote-wait allows]
    #[arg(long)]
    pub remote_retries: Option<u32>,
    /// Wait before the first retry, in milliseconds; doubled for each further one, up to 1 s
    #[arg(long, default_value_t = 100)]
    pub remote_backoff_ms: u64,
    /// Skip the check that the service serves the simulated catalogue (`GET /track/<id>`
    /// of a seeded sample of tracks), for services without that route
    #[arg(long)]
    pub no_catalogue_check: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Experiment whose arms are served (users are routed to arms as in `sim run`): a built-in name (`sim experiments` lists them) or a file (a path, or a name ending in .yml)
    #[arg(long, value_name = "NAME|FILE", default_value = "hw2", value_parser = experiment_path)]
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
    /// Event log to write [default: runs/<experiment name>/served.jsonl]
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Seed of the recommenders' random draws (one stream per user session)
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Threads answering requests [default: number of cores]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub workers: Option<u64>,
    /// Where trained artifacts of recipes are cached
    #[arg(long, env = "BOTIFY_CACHE_DIR", default_value_os_t = default_cache_dir())]
    pub cache_dir: PathBuf,
    /// Where user sessions live: `memory` (this process) or a Redis url, shared by replicas:
    /// `redis://[user:password@]host[:port][/db]`, `rediss://...` (TLS, in a build with the
    /// feature `tls`), `unix:///path/to/redis.sock[?db=N&pass=PASSWORD]`; messages show
    /// the password as `***`
    #[arg(long, default_value = "memory")]
    pub state: String,
    /// Seconds after a user's last request when their session is forgotten
    #[arg(long, default_value_t = 1800.0, value_parser = positive_seconds)]
    pub session_ttl: f64,
    /// Seconds after which a connection without traffic is closed
    #[arg(long, default_value_t = 300.0, value_parser = positive_seconds)]
    pub idle_timeout: f64,
}

/// A wait in seconds: finite, 0 or more, at most a day.
fn wait_seconds(text: &str) -> Result<f64, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if seconds.is_finite() && (0.0..=86_400.0).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(format!(
            "{text} seconds is out of range: expected 0 to 86400 (a day)"
        ))
    }
}

/// A duration in seconds: finite, above 0, at most 30 days.
fn positive_seconds(text: &str) -> Result<f64, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if seconds.is_finite() && seconds > 0.0 && seconds <= 30.0 * 86_400.0 {
        Ok(seconds)
    } else {
        Err(format!(
            "{text} seconds is out of range: expected more than 0 and at most 2592000 (30 days)"
        ))
    }
}

#[derive(Debug, Args)]
pub struct BenchHttpArgs {
    /// Experiment served by the in-process `sim serve`: a built-in name (`sim experiments` lists them) or a file (a path, or a name ending in .yml)
    #[arg(long, value_name = "NAME|FILE", default_value = "seminar", value_parser = experiment_path)]
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
    /// Worker counts of `sim run --remote` to measure, each a separate run (more workers
    /// keep more requests in flight: a round trip, not the CPU, bounds a few workers)
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8", value_parser = clap::value_parser!(u64).range(1..=256))]
    pub workers: Vec<u64>,
    /// Where trained artifacts of recipes are cached
    #[arg(long, env = "BOTIFY_CACHE_DIR", default_value_os_t = default_cache_dir())]
    pub cache_dir: PathBuf,
    /// Print the measurements as JSON on stdout
    #[arg(long)]
    pub json: bool,
    /// Also measure the seed's deployment: two replicas with sessions in a `redis-server`,
    /// behind `nginx` (both started here on free ports; both must be installed)
    #[arg(long)]
    pub nginx_redis: bool,
    /// Instead: the load generator against one `sim serve` without, then with, 1,000 idle
    /// connections and a client that pipelines requests and never reads its answers
    #[arg(long, conflicts_with = "nginx_redis")]
    pub hostile: bool,
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
    /// Print the world's sizes and shape: tracks per artist, score scales of track pairs, the users' listening parameters
    Info {
        /// Config file [default: config/env.yml if present, else built-in defaults]
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Experiment to simulate: a built-in name (`sim experiments` lists them) or a file (a path, or a name ending in .yml)
    #[arg(long, value_name = "NAME|FILE", default_value = "seminar", value_parser = experiment_path)]
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
    #[arg(long, env = "BOTIFY_CACHE_DIR", default_value_os_t = default_cache_dir())]
    pub cache_dir: PathBuf,
    /// Print the measurements as JSON on stdout
    #[arg(long)]
    pub json: bool,
    /// Time whole `sim run` processes instead (start to exit, report included), with a
    /// cold (empty) and then a warm cache
    #[arg(long)]
    pub end_to_end: bool,
}
