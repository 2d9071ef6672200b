//! `sim bench-http`: throughput over loopback HTTP, client and server in one process
//! (they share the machine's cores exactly as two processes would).
//!
//! 1. Simulated steps per second of the `sim run --remote` path (the runner with one
//!    `remote` arm) against the `sim serve` service, for 1 and 2 workers, logs written on
//!    both sides.
//! 2. `sim serve` alone under a closed-loop load generator: `--connections` keep-alive
//!    clients sending `/next` (and a `/last` every 8th request) as fast as answered;
//!    requests per second and the latency percentiles seen by the clients.

use super::bench::timed_run;
use super::run::REMOTE_EXPERIMENT;
use super::serve::load_service;
use crate::cli::BenchHttpArgs;
use crate::config::Config;
use crate::log::writer::LogWriter;
use crate::recommend::RecommenderSpec;
use crate::recommend::remote::RemoteOptions;
use crate::recommend::spec::BuildContext;
use crate::serve::serve;
use crate::sim::episode::{EpisodeSetup, LiveArm, arm_treatments};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub fn run(args: &BenchHttpArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load_or_default(args.config.as_deref())?;
    let service = load_service(
        &args.experiment,
        args.config.as_deref(),
        1,
        std::path::Path::new("cache"),
    )?;
    let dir = tempfile::tempdir()?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    let stop = AtomicBool::new(false);
    let server_log = LogWriter::create(&dir.path().join("served.jsonl"))?;
    println!(
        "sim serve on {url}: experiment {}, {} arms, 2 session threads",
        service.experiment,
        service.arms.len()
    );
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let server = scope.spawn(|| serve(&service, listener, Some(server_log), 2, &stop));
        let result = measure(args, &config, &service, &url, dir.path());
        stop.store(true, Ordering::SeqCst);
        let stats = server
            .join()
            .map_err(|_| anyhow::anyhow!("the server thread panicked"))??;
        println!(
            "server: {} requests, {} errors, {} sessions",
            stats.requests.load(Ordering::Relaxed),
            stats.errors.load(Ordering::Relaxed),
            stats.sessions.load(Ordering::Relaxed)
        );
        result
    })?;
    Ok(ExitCode::SUCCESS)
}

fn measure(
    args: &BenchHttpArgs,
    config: &Config,
    service: &crate::serve::Service,
    url: &str,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
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
            retries: 3,
            backoff_ms: 100,
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
        seed: 1,
    };
    let stop = AtomicBool::new(false);
    // A first pass fills the neighbour caches and opens the connections.
    timed_run(&setup, args.episodes, 2, &dir.join("warm.jsonl"), &stop)?;
    for workers in [1usize, 2] {
        let log = dir.join(format!("run-{workers}.jsonl"));
        let (totals, seconds) = timed_run(&setup, args.episodes, workers, &log, &stop)?;
        let steps = totals.steps();
        let requests = steps + totals.episodes();
        println!(
            "sim run --remote, {workers} worker(s): {} episodes, {steps} steps ({requests} requests) in {seconds:.3} s = {:.0} steps/s, {:.0} requests/s",
            args.episodes,
            steps as f64 / seconds,
            requests as f64 / seconds
        );
    }
    load(args, url, world.catalogue.len() as u32)
}

/// The closed-loop load generator.
fn load(args: &BenchHttpArgs, url: &str, n_tracks: u32) -> anyhow::Result<()> {
    let deadline = Duration::from_secs_f64(args.seconds.max(0.1));
    let connections = args.connections as usize;
    let clock = Instant::now();
    let results: Vec<anyhow::Result<(Vec<u32>, u64)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..connections)
            .map(|c| {
                scope.spawn(move || -> anyhow::Result<(Vec<u32>, u64)> {
                    let agent = crate::recommend::remote::agent(&RemoteOptions {
                        url: url.to_string(),
                        timeout_ms: 5_000,
                        retries: 0,
                        backoff_ms: 0,
                    });
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
                        let mut response = agent
                            .post(&format!("{url}/{what}/{user}"))
                            .header("Content-Type", "application/json")
                            .send(body.as_str())?;
                        let text = response.body_mut().read_to_string()?;
                        latencies_us.push(start.elapsed().as_micros().min(u32::MAX as u128) as u32);
                        if !response.status().is_success() {
                            errors += 1;
                        } else if what == "next" {
                            track = crate::recommend::remote::parse_next_answer(url, &text)?;
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
    println!(
        "sim serve under load, {connections} keep-alive connections, {seconds:.1} s: {} requests ({errors} errors) = {:.0} requests/s; latency p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        all.len(),
        all.len() as f64 / seconds,
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    Ok(())
}
