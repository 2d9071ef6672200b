//! Benchmarks of `sim train dssm`.
//!
//! - `cargo bench --features bench --bench train`: criterion timings of one training epoch
//!   on 100,000 synthetic events and of the exact top-k.
//! - `TRAIN_BENCH_FULL=1 cargo bench --features bench --bench train`: the issue's
//!   benchmark, once: a synthetic log of 1 million events (10,000 users, 50,000 tracks,
//!   ~10 % positives) written to `target/bench-train/` (`events.jsonl`, `tracks.json`),
//!   read, trained with the default parameters and searched; prints the timings, steps/s
//!   and a quality figure (share of the top-100 by a favourite artist of the user, vs. the
//!   random share).
//!   Then time the command itself with
//!   `/usr/bin/time -v target/release/sim train dssm --logs target/bench-train/events.jsonl
//!   --tracks target/bench-train/tracks.json --out target/bench-train/recs.jsonl`.

use botify_sim::train::synthetic::{SyntheticConfig, SyntheticLog};
use botify_sim::train::{Catalogue, DssmParams, Progress, input, train_dssm};
use criterion::Criterion;
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

fn epoch(c: &mut Criterion) {
    let log = SyntheticLog::generate(&SyntheticConfig {
        users: 2_000,
        tracks: 10_000,
        artists: 2_300,
        events: 100_000,
        ..SyntheticConfig::million()
    });
    let interactions = log.interactions();
    let catalogue = Catalogue {
        n_tracks: log.artist_of.len(),
        artist_of: &log.artist_of,
    };
    let params = DssmParams {
        epochs: 1,
        validation_fraction: 0.0,
        ..DssmParams::default()
    };
    let mut g = c.benchmark_group("dssm");
    g.sample_size(10);
    g.bench_function("one epoch, 100k events", |b| {
        b.iter(|| {
            train_dssm(
                black_box(&interactions),
                &catalogue,
                &params,
                &|_| {},
                &AtomicBool::new(false),
            )
            .unwrap()
        })
    });
    let model = train_dssm(
        &interactions,
        &catalogue,
        &params,
        &|_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    g.bench_function("top-100, 2k users x 10k tracks", |b| {
        b.iter(|| model.recommendations(black_box(100)))
    });
    g.finish();
}

fn full() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-train");
    std::fs::create_dir_all(&dir).unwrap();
    let t = Instant::now();
    let cfg = SyntheticConfig::million();
    let log = SyntheticLog::generate(&cfg);
    let events_path = dir.join("events.jsonl");
    let mut w = BufWriter::new(std::fs::File::create(&events_path).unwrap());
    for e in log.events() {
        serde_json::to_writer(&mut w, &e).unwrap();
        w.write_all(b"\n").unwrap();
    }
    w.flush().unwrap();
    let mut w = BufWriter::new(std::fs::File::create(dir.join("tracks.json")).unwrap());
    for (t, a) in log.artist_of.iter().enumerate() {
        writeln!(
            w,
            "{{\"track\": {t}, \"artist\": \"artist {a}\", \"title\": \"track {t}\"}}"
        )
        .unwrap();
    }
    w.flush().unwrap();
    println!(
        "generated and wrote {} in {:.1} s",
        events_path.display(),
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let interactions = input::read_log(&events_path, Some(log.artist_of.len())).unwrap();
    let read = t.elapsed().as_secs_f64();
    let positives = interactions.iter().filter(|i| i.time > 0.8).count();
    println!(
        "read {} events ({positives} positives, {:.1} %) in {read:.2} s",
        interactions.len(),
        100.0 * positives as f64 / interactions.len() as f64
    );
    let catalogue = Catalogue {
        n_tracks: log.artist_of.len(),
        artist_of: &log.artist_of,
    };
    let mut params = DssmParams::default();
    if let Ok(v) = std::env::var("TRAIN_BENCH_LR") {
        params.lr = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("TRAIN_BENCH_EPOCHS") {
        params.epochs = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("TRAIN_BENCH_WD") {
        params.weight_decay = v.parse().unwrap();
    }
    if let Ok(v) = std::env::var("TRAIN_BENCH_BATCH") {
        params.batch_size = v.parse().unwrap();
    }
    let t = Instant::now();
    let epochs = |p| {
        if let Progress::Epoch(r) = p {
            println!(
                "  epoch {:>2}: train {:.4} validation {:.4}{} {:.2} s ({:.0} steps/s)",
                r.epoch,
                r.train_loss,
                r.validation_loss.unwrap_or(f64::NAN),
                if r.best { " *" } else { "" },
                r.seconds,
                r.steps as f64 / r.seconds
            )
        }
    };
    let model = train_dssm(
        &interactions,
        &catalogue,
        &params,
        &epochs,
        &AtomicBool::new(false),
    )
    .unwrap();
    let train = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let recs = model.recommendations(100);
    let topk = t.elapsed().as_secs_f64();
    let s = model.summary();
    let steps: usize = s.epochs.iter().map(|e| e.steps).sum();
    let epoch_secs: f64 = s.epochs.iter().map(|e| e.seconds).sum();
    println!(
        "trained {} examples x {} epochs (best {}) in {train:.1} s: {:.0} steps/s of {}; top-100 of {} users in {topk:.1} s; total {:.1} s",
        s.train_examples,
        s.epochs_run,
        s.best_epoch,
        steps as f64 / epoch_secs,
        params.batch_size,
        recs.len(),
        read + train + topk
    );
    let (mut hits, mut total) = (0usize, 0usize);
    for (user, tracks) in &recs {
        let fav = &log.favourites[*user as usize];
        hits += tracks
            .iter()
            .filter(|&&t| fav.contains(&log.artist_of[t as usize]))
            .count();
        total += tracks.len();
    }
    let fav_tracks: f64 = log
        .favourites
        .iter()
        .map(|f| {
            let mut f = f.clone();
            f.sort_unstable();
            f.dedup();
            log.artist_of.iter().filter(|a| f.contains(a)).count() as f64
        })
        .sum::<f64>()
        / log.favourites.len() as f64;
    println!(
        "quality: {:.1} % of recommended tracks by a favourite artist (random: {:.2} %; a user has ~{fav_tracks:.0} such tracks)",
        100.0 * hits as f64 / total as f64,
        100.0 * fav_tracks / log.artist_of.len() as f64
    );
}

criterion::criterion_group!(benches, epoch);

fn main() {
    if std::env::var_os("TRAIN_BENCH_FULL").is_some() {
        full();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
