//! `sim bench-http`: throughput over loopback HTTP, clients and servers in one process
//! (they share the machine's cores exactly as separate processes would).
//!
//! 1. Simulated steps per second of the `sim run --remote` path (the runner with one
//!    `remote` arm) against `sim serve` with sessions in memory, for each `--workers` count, logs
//!    written on both sides; with `--nginx-redis`, also against the seed's deployment:
//!    two replicas sharing sessions in a real `redis-server`, behind a real `nginx`
//!    (started here on free ports, deploy/nginx.conf).
//! 2. Each setup alone under a closed-loop load generator: `--connections` keep-alive
//!    clients sending `/next` (and a `/last` every 8th request) as fast as answered;
//!    requests per second and the latency percentiles seen by the clients.
//!
//! `--hostile` measures instead the load generator against one server first alone, then
//! while 1,000 idle connections and a client that never reads its answers are held open
//! ([`botify_sim_support::hostile`]): the figure is the second p99, under 50 ms.

use super::bench::timed_run;
use super::run::REMOTE_EXPERIMENT;
use super::serve::{connect_redis, load_service};
use crate::cli::BenchHttpArgs;
use crate::config::Config;
use crate::http_client::HttpClient;
use crate::recommend::RecommenderSpec;
use crate::recommend::spec::BuildContext;
use crate::serve::log_file::EventLog;
use crate::serve::store::{MemoryStore, RedisAddress, SessionStore};
use crate::serve::{ServeOptions, Service, serve};
use crate::sim::episode::{EpisodeSetup, LiveArm, arm_treatments};
use anyhow::Context;
use botify_sim_support::{deploy, hostile};
use serde_json::{Value, json};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

const SESSION_TTL: Duration = Duration::from_secs(1800);

pub fn run(args: &BenchHttpArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load_or_default(args.config.as_deref())?;
    let service = Arc::new(load_service(
        &args.experiment,
        args.config.as_deref(),
        1,
        &args.cache_dir,
    )?);
    let dir = tempfile::tempdir()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    say(
        args,
        format!(
            "experiment {}, {} arms; machine: {cores} cores",
            service.experiment,
            service.arms.len(),
        ),
    );
    if args.hostile {
        let measured = hostile_figures(args, &service, &dir.path().join("hostile"))?;
        if args.json {
            let report =
                json!({"experiment": service.experiment, "cores": cores, "hostile": measured});
            crate::out!("{}", serde_json::to_string_pretty(&report)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    say(
        args,
        "== one sim serve, sessions in memory, 2 threads".into(),
    );
    let mut setups = Vec::new();
    let (measured, servers) = with_replicas(
        args,
        &service,
        1,
        2,
        |_| Ok(MemoryStore::new(SESSION_TTL)),
        &dir.path().join("memory"),
        |addresses| {
            let url = format!("http://{}", addresses[0]);
            measure(
                args,
                &config,
                &service,
                &url,
                &dir.path().join("memory"),
                &args.workers,
            )
        },
    )?;
    setups.push(json!({"setup": "one replica, sessions in memory", "measured": measured, "servers": servers}));
    if args.nginx_redis {
        let redis = deploy::start_redis(dir.path())?;
        let redis_url = format!("redis://{}/0", redis.address());
        say(
            args,
            format!(
                "== two sim serve replicas (1 thread each), sessions in redis-server {redis_url}, behind nginx (round-robin)"
            ),
        );
        let work = dir.path().join("deploy");
        let parsed = RedisAddress::parse(&redis_url).map_err(anyhow::Error::msg)?;
        let connect = |runtime: &Runtime| connect_redis(runtime, &parsed, SESSION_TTL);
        let (measured, servers) =
            with_replicas(args, &service, 2, 1, connect, &work, |addresses| {
                let nginx = deploy::start_nginx(&work.join("nginx"), addresses)?;
                let url = format!("http://{}", nginx.address());
                measure(args, &config, &service, &url, &work, &args.workers)
            })?;
        setups.push(json!({"setup": "two replicas behind nginx, sessions in redis", "measured": measured, "servers": servers}));
    }
    if args.json {
        let report = json!({"experiment": service.experiment, "cores": cores, "setups": setups});
        crate::out!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// Connections `--hostile` holds open without a word.
const IDLE_CONNECTIONS: usize = 1_000;

/// `--hostile`: the load generator against one server (sessions in memory, 2 threads)
/// alone, then with [`IDLE_CONNECTIONS`] idle connections and a never-reading client open.
fn hostile_figures(
    args: &BenchHttpArgs,
    service: &Arc<Service>,
    dir: &Path,
) -> anyhow::Result<Value> {
    // Clients and server share this process: two open files per idle connection.
    super::serve::note_open_file_limit();
    let n_tracks = service.world.catalogue.len() as u32;
    let memory = |_: &Runtime| Ok(MemoryStore::new(SESSION_TTL));
    let (measured, servers) = with_replicas(args, service, 1, 2, memory, dir, |addresses| {
        let (address, url) = (&addresses[0], format!("http://{}", addresses[0]));
        say(
            args,
            "== one sim serve, sessions in memory, 2 threads; no other client".into(),
        );
        let quiet = load(args, &url, n_tracks)?;
        let idle = hostile::idle_connections(address, IDLE_CONNECTIONS)
            .with_context(|| format!("opening {IDLE_CONNECTIONS} idle connections to {address}"))?;
        let (never_reader, sent) = hostile::never_reading_client(address)
            .with_context(|| format!("the never-reading client of {address}"))?;
        say(
            args,
            format!(
                "== the same, with {IDLE_CONNECTIONS} idle connections open and a client that pipelined {sent} bytes of requests and reads nothing"
            ),
        );
        let crowded = load(args, &url, n_tracks)?;
        drop((idle, never_reader));
        Ok(json!({
            "idle_connections": IDLE_CONNECTIONS,
            "never_reader_bytes_sent": sent,
            "quiet": quiet,
            "hostile": crowded,
        }))
    })?;
    Ok(json!({"measured": measured, "servers": servers}))
}

/// A line of the text report; `--json` prints one document at the end instead.
fn say(args: &BenchHttpArgs, line: String) {
    if !args.json {
        crate::out!("{line}");
    }
}

/// Runs `replicas` servers of `threads` threads each, their stores made by `connect`, on
/// free loopback ports (logs in `dir`) while `body` runs with their addresses; returns
/// what `body` measured and each server's counters.
fn with_replicas<T, S: SessionStore>(
    args: &BenchHttpArgs,
    service: &Arc<Service>,
    replicas: usize,
    threads: usize,
    connect: impl Fn(&Runtime) -> anyhow::Result<S>,
    dir: &Path,
    body: impl FnOnce(&[String]) -> anyhow::Result<T>,
) -> anyhow::Result<(T, Vec<Value>)> {
    std::fs::create_dir_all(dir)?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let options = ServeOptions {
        idle_timeout: Duration::from_secs(300),
        sweep_every: Duration::from_secs(60),
    };
    std::thread::scope(|scope| -> anyhow::Result<(T, Vec<Value>)> {
        let mut addresses = Vec::new();
        let mut servers = Vec::new();
        for i in 0..replicas {
            let runtime = crate::serve::runtime(threads)?;
            let store = connect(&runtime)?;
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            addresses.push(listener.local_addr()?.to_string());
            let log = EventLog::create(&dir.join(format!("served-{i}.jsonl")))?;
            let (service, stopped, options) = (Arc::clone(service), stopped.clone(), &options);
            servers.push(scope.spawn(move || {
                serve(
                    runtime,
                    service,
                    store,
                    listener,
                    Some(log),
                    options,
                    stopped,
                )
            }));
        }
        let result = body(&addresses);
        stop.send_replace(true);
        let mut counters = Vec::new();
        for (i, server) in servers.into_iter().enumerate() {
            let stats = server
                .join()
                .map_err(|_| anyhow::anyhow!("a server thread panicked"))??;
            let (requests, errors, sessions) = (
                stats.requests.load(Ordering::Relaxed),
                stats.errors.load(Ordering::Relaxed),
                stats.sessions.load(Ordering::Relaxed),
            );
            say(
                args,
                format!("server {i}: {requests} requests, {errors} errors, {sessions} sessions"),
            );
            counters.push(json!({"requests": requests, "errors": errors, "sessions": sessions}));
        }
        Ok((result?, counters))
    })
}

fn measure(
    args: &BenchHttpArgs,
    config: &Config,
    service: &Service,
    url: &str,
    dir: &Path,
    worker_counts: &[u64],
) -> anyhow::Result<Value> {
    let world = Arc::clone(&service.world);
    let ctx = BuildContext {
        world: Arc::clone(&world),
        base_dir: ".".into(),
    };
    let arms = vec![LiveArm {
        name: "C".into(),
        recommender: RecommenderSpec::Remote {
            url: url.to_string(),
            timeout_ms: 5_000,
            retries: Some(3),
            backoff_ms: 100,
            wait_ms: 10_000,
        }
        .build(&ctx)?,
    }];
    let user_arm = vec![0u8; world.users.len()];
    let treatments = arm_treatments(REMOTE_EXPERIMENT, &arms);
    let setup = EpisodeSetup {
        world: &world,
        arms: &arms,
        treatments: &treatments,
        user_arm: &user_arm,
        simulation: &config.simulation,
    };
    let stop = AtomicBool::new(false);
    // A first pass fills the neighbour caches and opens the connections.
    timed_run(&setup, args.episodes, 2, &dir.join("warm.jsonl"), &stop)?;
    let mut runs = Vec::new();
    for &workers in worker_counts {
        let log = dir.join(format!("run-{workers}.jsonl"));
        let (totals, seconds) = timed_run(&setup, args.episodes, workers as usize, &log, &stop)?;
        let steps = totals.steps();
        let requests = steps + totals.episodes();
        say(
            args,
            format!(
                "sim run --remote, {workers} worker(s): {} episodes, {steps} steps ({requests} requests) in {seconds:.3} s = {:.0} steps/s, {:.0} requests/s",
                args.episodes,
                steps as f64 / seconds,
                requests as f64 / seconds
            ),
        );
        runs.push(json!({
            "workers": workers,
            "episodes": args.episodes,
            "steps": steps,
            "requests": requests,
            "seconds": seconds,
            "steps_per_second": steps as f64 / seconds,
            "requests_per_second": requests as f64 / seconds,
        }));
    }
    let load = load(args, url, world.catalogue.len() as u32)?;
    Ok(json!({"remote_runs": runs, "load": load}))
}

/// The closed-loop load generator: its figures, printed unless `--json`.
fn load(args: &BenchHttpArgs, url: &str, n_tracks: u32) -> anyhow::Result<Value> {
    let deadline = Duration::from_secs_f64(args.seconds.max(0.1));
    let connections = args.connections as usize;
    let clock = Instant::now();
    let results: Vec<anyhow::Result<(Vec<u32>, u64)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..connections)
            .map(|c| {
                scope.spawn(move || -> anyhow::Result<(Vec<u32>, u64)> {
                    let client = HttpClient::new(Duration::from_secs(5));
                    let mut latencies_us = Vec::with_capacity(200_000);
                    let mut errors = 0u64;
                    let mut track = c as u32 % n_tracks;
                    let mut i: u64 = 0;
                    while clock.elapsed() < deadline {
                        // Distinct users per connection: no two clients share a session.
                        let user = (c as u64 + connections as u64 * (i / 8 % 1000)) as u32;
                        let what = if i % 8 == 7 { "last" } else { "next" };
                        let body = format!("{{\"track\": {track}, \"time\": 0.5}}");
                        let start = Instant::now();
                        let answer = client.post_json(&format!("{url}/{what}/{user}"), body)?;
                        latencies_us.push(start.elapsed().as_micros().min(u32::MAX as u128) as u32);
                        if !answer.is_success() {
                            errors += 1;
                        } else if what == "next" {
                            track = crate::recommend::remote::parse_next_answer(url, &answer.body)?;
                        }
                        i += 1;
                    }
                    Ok((latencies_us, errors))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a load thread panicked")))
            })
            .collect()
    });
    let seconds = clock.elapsed().as_secs_f64();
    let mut all = Vec::new();
    let mut errors = 0;
    for result in results {
        let (latencies, e) = result?;
        all.extend(latencies);
        errors += e;
    }
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    say(
        args,
        format!(
            "sim serve under load, {connections} keep-alive connections, {seconds:.1} s: {} requests ({errors} errors) = {:.0} requests/s; latency p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            all.len(),
            all.len() as f64 / seconds,
            pct(0.50),
            pct(0.99),
            pct(1.0)
        ),
    );
    Ok(json!({
        "connections": connections,
        "seconds": seconds,
        "requests": all.len(),
        "errors": errors,
        "requests_per_second": all.len() as f64 / seconds,
        "latency_ms": {"p50": pct(0.50), "p99": pct(0.99), "max": pct(1.0)},
    }))
}
