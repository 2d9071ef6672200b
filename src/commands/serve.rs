//! `sim serve`: load the world and an experiment, serve its arms over the botify protocol
//! until SIGINT/SIGTERM, then flush the event log.

use super::setup::{ArtifactOptions, prepare_experiment};
use crate::cli::ServeArgs;
use crate::config::Config;
use crate::experiment::Experiment;
use crate::serve::log_file;
use crate::serve::store::{MemoryStore, RedisAddress, RedisStore};
use crate::serve::{ServeOptions, ServeStats, ServedArm, Service, serve};
use anyhow::{Context, bail};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The service of an experiment file: world, arms (artifacts built first), routing.
pub fn load_service(
    experiment: &Path,
    config: Option<&Path>,
    seed: u64,
    cache_dir: &Path,
) -> anyhow::Result<Service> {
    let config = Config::load_or_default(config)?;
    let experiment = Experiment::load(experiment)?;
    for arm in &experiment.arms {
        if arm.spec.uses_console() {
            bail!(
                "experiment {}, arm {}: {} cannot be served: it reads each answer from this terminal, and a service's requests come from its clients; serve an experiment without it",
                experiment.name,
                arm.name,
                arm.spec.label()
            );
        }
        if arm.spec.reads_hidden_state() {
            bail!(
                "experiment {}, arm {}: {} cannot be served: it reads the simulator's hidden session taste, which a service never sees; serve an experiment without it",
                experiment.name,
                arm.name,
                arm.spec.label()
            );
        }
    }
    let artifacts = ArtifactOptions {
        cache_dir: cache_dir.to_path_buf(),
        rebuild: false,
        workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
        stop: Arc::new(AtomicBool::new(false)),
    };
    let prepared = prepare_experiment(experiment, config, &artifacts)?;
    let arms = prepared
        .experiment
        .arms
        .iter()
        .zip(prepared.arms)
        .map(|(spec, live)| ServedArm {
            name: live.name,
            label: spec.spec.label(),
            recommender: live.recommender,
        })
        .collect();
    Ok(Service::new(
        prepared.world,
        prepared.experiment.name.clone(),
        arms,
        seed,
    ))
}

pub fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    // First: a cache written at start past a file-size limit is a warning, not a kill.
    crate::serve::ignore_file_size_signal();
    let session_ttl = Duration::from_secs_f64(args.session_ttl);
    let state = StateChoice::parse(&args.state)?;
    let service = Arc::new(load_service(
        &args.experiment,
        args.config.as_deref(),
        args.seed,
        &args.cache_dir,
    )?);
    // The port first: a server that cannot listen must not touch the log.
    let address = format!("{}:{}", args.host, args.port);
    let listener = std::net::TcpListener::bind(&address)
        .with_context(|| format!("cannot listen on {address}"))?;
    let bound = listener.local_addr()?;
    let log_path = args.log.clone().unwrap_or_else(|| {
        crate::report::default_out_dir(&service.experiment).join("served.jsonl")
    });
    if let Some(dir) = log_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the log's directory {}", dir.display()))?;
    }
    let (log, pid_file) = log_file::claim(&log_path)?;
    let threads = args
        .workers
        .map(|w| w as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let runtime = crate::serve::runtime(threads)?;
    let options = ServeOptions {
        idle_timeout: Duration::from_secs_f64(args.idle_timeout),
        sweep_every: (session_ttl / 8).clamp(Duration::from_millis(50), Duration::from_secs(60)),
    };

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let signalled = AtomicBool::new(false);
    ctrlc::set_handler(move || {
        if signalled.swap(true, Ordering::SeqCst) {
            // A second signal: stop without waiting.
            std::process::exit(130);
        }
        stop.send_replace(true);
    })
    .context("cannot install the SIGINT/SIGTERM handler")?;

    for arm in &service.arms {
        crate::note!("arm {}: {}", arm.name, arm.label);
    }
    let sessions = match &state {
        StateChoice::Memory => "memory".to_string(),
        StateChoice::Redis(address) => address.shown.clone(),
    };
    crate::note!(
        "experiment {}: {} arms; sessions: {sessions} (forgotten {} s after a user's last request); log: {} (appended)",
        service.experiment,
        service.arms.len(),
        args.session_ttl,
        log_path.display()
    );
    note_open_file_limit();
    let announce = || -> anyhow::Result<()> {
        // On stdout, so scripts (and the tests) can read the port chosen for --port 0.
        crate::out!("listening on http://{bound}");
        std::io::stdout().flush()?;
        Ok(())
    };
    let stats = match state {
        StateChoice::Memory => {
            announce()?;
            let store = MemoryStore::new(session_ttl);
            serve(
                runtime,
                service,
                store,
                listener,
                Some(log),
                &options,
                stopped,
            )
        }
        StateChoice::Redis(address) => {
            let store = connect_redis(&runtime, &address, session_ttl)?;
            announce()?;
            serve(
                runtime,
                service,
                store,
                listener,
                Some(log),
                &options,
                stopped,
            )
        }
    }
    .with_context(|| format!("serving on http://{bound}"))?;
    drop(pid_file);
    Ok(report_stop(&stats, &log_path))
}

/// The last words of a server: its counters, and whether its log failed (then the exit
/// code is 1: answers were refused for it).
fn report_stop(stats: &ServeStats, log: &Path) -> ExitCode {
    crate::note!(
        "stopped: {} requests ({} errors), {} sessions, {} connections; log: {}",
        stats.requests.load(Ordering::Relaxed),
        stats.errors.load(Ordering::Relaxed),
        stats.sessions.load(Ordering::Relaxed),
        stats.connections.load(Ordering::Relaxed),
        log.display()
    );
    match &stats.log_failure {
        Some(failure) => {
            crate::problem!("Error: {failure}");
            ExitCode::FAILURE
        }
        None => ExitCode::SUCCESS,
    }
}

/// Each connection holds an open file: raises the soft limit to the hard one and says so,
/// or says how few connections the limit allows.
pub fn note_open_file_limit() {
    match crate::serve::raise_open_file_limit() {
        Ok((old, new)) => {
            if new > old {
                crate::note!(
                    "open files: soft limit raised from {old} to {new} (one per connection)"
                );
            }
            if new < 4096 {
                crate::problem!(
                    "warning: open files: at most {new} at once, so about as many connections; raise the hard limit (`ulimit -Hn`, or `nofile` in systemd or docker) for more"
                );
            }
        }
        Err(e) => crate::problem!("warning: open files: cannot read or raise the limit ({e})"),
    }
}

/// The `--state` flag.
pub enum StateChoice {
    Memory,
    Redis(RedisAddress),
}

impl StateChoice {
    pub fn parse(text: &str) -> anyhow::Result<StateChoice> {
        if text == "memory" {
            return Ok(StateChoice::Memory);
        }
        if !text.contains("://") {
            bail!(
                "--state {:?}: expected `memory` or a Redis url redis://[user:password@]host[:port][/db]",
                crate::serve::store::hide_password(text)
            );
        }
        RedisAddress::parse(text)
            .map(StateChoice::Redis)
            .map_err(|e| anyhow::anyhow!("--state: {e}"))
    }
}

/// A Redis session store on `runtime`, checked to answer before the server starts.
pub fn connect_redis(
    runtime: &tokio::runtime::Runtime,
    address: &RedisAddress,
    ttl: Duration,
) -> anyhow::Result<RedisStore> {
    let store = runtime
        .block_on(RedisStore::connect(address, ttl))
        .context("--state")?;
    Ok(store)
}
