//! What `sim serve` pays to put each event into its log file before the answer leaves
//! (one `write(2)` per event, `core/src/serve/log_file.rs`) against a buffer of ours
//! flushed later, which a `kill -9` would lose: per event of 250 bytes, appended to a file
//! in a temporary folder.
//!
//! `cargo bench --features bench --bench serve_log`

use botify_sim::serve::log_file::EventLog;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::io::Write;

fn appends(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let line = format!("{}\n", "x".repeat(249));
    let mut group = c.benchmark_group("served event");
    group.throughput(Throughput::Elements(1));
    let log = EventLog::create(&dir.path().join("direct.jsonl")).unwrap();
    group.bench_function("one write(2) per event", |b| {
        b.iter(|| log.append(line.as_bytes()).unwrap())
    });
    let file = std::fs::File::create(dir.path().join("buffered.jsonl")).unwrap();
    let mut buffered = std::io::BufWriter::with_capacity(1 << 20, file);
    group.bench_function("into a 1-MiB buffer", |b| {
        b.iter(|| buffered.write_all(line.as_bytes()).unwrap())
    });
    group.finish();
}

criterion_group!(benches, appends);
criterion_main!(benches);
