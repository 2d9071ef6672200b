//! Throughput of `report::analyze` (read + sessionize + statistics) on a synthetic log.
//!
//! `cargo bench --features bench --bench report` measures a 200k-event log (criterion).
//! For the figure on a large log (see `docs/PERFORMANCE.md`, "Reading logs"),
//! write 5M events with
//!
//!     BOTIFY_BENCH_EVENTS=5000000 BOTIFY_BENCH_DIR=/tmp BOTIFY_BENCH_WRITE_ONLY=1 \
//!         cargo bench --features bench --bench report
//!
//! and time `sim report` on `/tmp/botify_report_bench_5000000.jsonl` with
//! `/usr/bin/time -v target/release/sim report --no-files FILE`.

use botify_sim::report::{AnalysisOptions, analyze};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::{RngExt, SeedableRng};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes a log of about `events` events: users in 4 arms, sessions of 1-30 events.
pub fn write_log(path: &Path, events: u64, seed: u64) -> std::io::Result<u64> {
    let mut rng = chacha20::ChaCha8Rng::seed_from_u64(seed);
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let arms = ["C", "T1", "T2", "T3"];
    let mut written = 0u64;
    let mut session = 0u64;
    let mut ts = 1_700_000_000_000u64;
    while written < events {
        let user: u64 = rng.random_range(0..100_000);
        let arm = arms[(user % 4) as usize];
        let len: u64 = rng.random_range(1..30);
        session += 1;
        for i in 0..len {
            ts += 1;
            let last = i + 1 == len;
            let time: f64 = if i == 0 {
                1.0
            } else {
                rng.random_range(0.0..1.0)
            };
            let latency: f64 = rng.random_range(0.0001..0.002);
            let track: u64 = rng.random_range(0..50_000);
            let rec = if last {
                "null".to_string()
            } else {
                rng.random_range(0..50_000u64).to_string()
            };
            writeln!(
                out,
                "{{\"message\":\"{}\",\"timestamp\":{ts},\"user\":{user},\"track\":{track},\"time\":{time},\"latency\":{latency},\"recommendation\":{rec},\"experiments\":{{\"default\":\"{arm}\"}},\"session\":{session},\"episode\":{session}}}",
                if last { "last" } else { "next" }
            )?;
            written += 1;
        }
    }
    out.flush()?;
    Ok(written)
}

fn bench(c: &mut Criterion) {
    let events: u64 = std::env::var("BOTIFY_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let dir: PathBuf = std::env::var_os("BOTIFY_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let path = dir.join(format!("botify_report_bench_{events}.jsonl"));
    let written = write_log(&path, events, 42).expect("cannot write the benchmark log");
    if std::env::var_os("BOTIFY_BENCH_WRITE_ONLY").is_some() {
        eprintln!("wrote {written} events to {}", path.display());
        return;
    }
    let mut group = c.benchmark_group("report");
    group.throughput(Throughput::Elements(written));
    group.sample_size(10);
    group.bench_function("analyze", |b| {
        b.iter(|| analyze(std::slice::from_ref(&path), &AnalysisOptions::default()).unwrap())
    });
    group.finish();
    let _ = std::fs::remove_file(&path);
}

criterion_group!(benches, bench);
criterion_main!(benches);
