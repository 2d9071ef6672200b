//! `sim merge`: the shards of a run (`sim run --shard K/N`) back into the log, `run.json`
//! and report that the single-machine run writes.
//!
//! Each shard's log holds its episodes in increasing order, and every episode is in
//! exactly one shard, so a k-way merge on the `episode` field rebuilds the single run's
//! log (equal but for `latency`). The per-arm summary is recomputed from the merged log,
//! in episode order, so it is the single run's to the last bit.

use super::run::report_ab_table;
use crate::cli::MergeArgs;
use crate::log::session::SessionTotals;
use crate::log::writer::render_treatments;
use crate::sim::episode::EpisodeSummary;
use crate::sim::shard::Shard;
use crate::sim::summary::{RunTotals, summarize};
use anyhow::{Context, bail};
use serde_json::Value;
use serde_json::value::RawValue;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// One shard's finished run.
struct ShardRun {
    shard: Shard,
    log: PathBuf,
    run_json: PathBuf,
    record: Value,
}

/// `run.json` keys that must agree between the shards of one run.
const SAME_IN_EVERY_SHARD: [&str; 5] = [
    "experiment",
    "experiment_file",
    "config",
    "seed",
    "episodes",
];

fn load_shard(input: &Path) -> anyhow::Result<ShardRun> {
    let (log, dir) = if input.is_dir() {
        (input.join("events.jsonl"), input.to_path_buf())
    } else {
        let dir = input.parent().map_or(PathBuf::from("."), Path::to_path_buf);
        (input.to_path_buf(), dir)
    };
    let run_json = dir.join("run.json");
    let text = std::fs::read_to_string(&run_json).with_context(|| {
        format!(
            "{}: cannot read it (a shard that did not finish writes none: rerun it)",
            run_json.display()
        )
    })?;
    let record: Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a run.json", run_json.display()))?;
    let shard: Shard = serde_json::from_value(record["shard"].clone()).map_err(|_| {
        anyhow::anyhow!(
            "{}: not a shard's run (no \"shard\": {{index, count}}); make shards with sim run --shard K/N",
            run_json.display()
        )
    })?;
    if let Some(error) = record["error"].as_str() {
        bail!(
            "{}: shard {shard} failed ({error}); rerun it with sim run --shard {shard}",
            run_json.display()
        );
    }
    if record["interrupted"] != Value::Bool(false) {
        bail!(
            "{}: shard {shard} was interrupted; rerun it with sim run --shard {shard}",
            run_json.display()
        );
    }
    if !log.is_file() {
        bail!("{}: no such log (shard {shard})", log.display());
    }
    Ok(ShardRun {
        shard,
        log,
        run_json,
        record,
    })
}

/// The shards sorted by index, checked to be one whole run.
fn load_shards(inputs: &[PathBuf]) -> anyhow::Result<Vec<ShardRun>> {
    let mut shards = inputs
        .iter()
        .map(|input| load_shard(input))
        .collect::<anyhow::Result<Vec<_>>>()?;
    shards.sort_by_key(|s| s.shard.index);
    let first = &shards[0];
    for other in &shards[1..] {
        if other.shard.count != first.shard.count {
            bail!(
                "{} is shard {} but {} is shard {}: shards of different splits",
                first.run_json.display(),
                first.shard,
                other.run_json.display(),
                other.shard
            );
        }
        if other.shard.index == first.shard.index
            || shards.iter().filter(|s| s.shard == other.shard).count() > 1
        {
            bail!(
                "shard {} is given twice (e.g. {})",
                other.shard,
                other.run_json.display()
            );
        }
        for key in SAME_IN_EVERY_SHARD {
            if other.record[key] != first.record[key] {
                bail!(
                    "{} and {} differ in {key:?}: shards of different runs",
                    first.run_json.display(),
                    other.run_json.display()
                );
            }
        }
    }
    let count = first.shard.count;
    let missing: Vec<String> = (0..count)
        .filter(|k| !shards.iter().any(|s| s.shard.index == *k))
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        bail!(
            "missing shard(s) {}: run each with sim run --shard K/N (same experiment, seed, episodes) and merge again",
            missing.join(", ")
        );
    }
    Ok(shards)
}

/// The fields of an event the merge reads.
#[derive(serde::Deserialize)]
struct Fields<'a> {
    message: &'a str,
    timestamp: u64,
    user: u32,
    #[serde(borrow)]
    time: &'a RawValue,
    #[serde(borrow)]
    latency: &'a RawValue,
    #[serde(borrow)]
    experiments: &'a RawValue,
    episode: u64,
}

/// A shard log read one line at a time, its next line kept.
struct Reader {
    path: PathBuf,
    lines: BufReader<File>,
    line: Vec<u8>,
    number: u64,
}

impl Reader {
    /// Reads the next line; `false` at the end of the log.
    fn advance(&mut self) -> std::io::Result<bool> {
        self.line.clear();
        self.number += 1;
        Ok(self.lines.read_until(b'\n', &mut self.line)? > 0)
    }

    fn fields(&self) -> std::io::Result<Fields<'_>> {
        serde_json::from_slice(&self.line).map_err(|e| {
            std::io::Error::other(format!(
                "{}:{}: not an event of a sim run log: {e}",
                self.path.display(),
                self.number
            ))
        })
    }
}

/// Merges the shard logs into `out` in episode order; the per-arm totals of the
/// episodes, added in episode order (as the single run adds them).
fn merge_logs(
    shards: &[ShardRun],
    treatments: &[String],
    out: &mut impl Write,
) -> std::io::Result<RunTotals> {
    let mut readers = Vec::with_capacity(shards.len());
    let mut heads = BinaryHeap::new();
    for (i, shard) in shards.iter().enumerate() {
        let file = File::open(&shard.log)
            .map_err(|e| std::io::Error::other(format!("{}: {e}", shard.log.display())))?;
        let mut reader = Reader {
            path: shard.log.clone(),
            lines: BufReader::with_capacity(1 << 16, file),
            line: Vec::new(),
            number: 0,
        };
        if reader.advance()? {
            heads.push(Reverse((reader.fields()?.episode, i)));
        }
        readers.push(reader);
    }
    let mut totals = RunTotals::new(treatments.len());
    let mut last: Option<u64> = None;
    while let Some(Reverse((episode, i))) = heads.pop() {
        let reader = &mut readers[i];
        if let Some(last) = last.filter(|&last| last >= episode) {
            return Err(std::io::Error::other(format!(
                "{}:{}: episode {episode} comes after episode {last} of another shard or this one: logs of different runs, or a log edited by hand",
                reader.path.display(),
                reader.number,
            )));
        }
        last = Some(episode);
        let mut summary: Option<EpisodeSummary> = None;
        loop {
            let fields = reader.fields()?;
            if fields.episode != episode {
                heads.push(Reverse((fields.episode, i)));
                break;
            }
            let bad = |what: String| {
                std::io::Error::other(format!(
                    "{}:{}: {what}",
                    reader.path.display(),
                    reader.number
                ))
            };
            let arm = treatments
                .iter()
                .position(|t| t == fields.experiments.get())
                .ok_or_else(|| {
                    bad(format!(
                        "experiments {} is no arm of the run",
                        fields.experiments.get()
                    ))
                })?;
            let time: f64 = fields
                .time
                .get()
                .parse()
                .map_err(|_| bad(format!("time {} is not a number", fields.time.get())))?;
            let latency: f64 =
                fields.latency.get().parse().map_err(|_| {
                    bad(format!("latency {} is not a number", fields.latency.get()))
                })?;
            let s = match &mut summary {
                // The first event's time is the first track's, not a recommendation's.
                None => summary.insert(EpisodeSummary {
                    index: episode,
                    user: fields.user,
                    arm: arm as u8,
                    reward: 0.0,
                    steps: 0,
                    logged: SessionTotals::new(fields.timestamp),
                }),
                Some(s) => {
                    s.reward += time;
                    s
                }
            };
            s.logged.add(fields.timestamp, time, latency);
            if fields.message == "next" {
                s.steps += 1;
            }
            out.write_all(&reader.line)?;
            if !reader.advance()? {
                break;
            }
        }
        if let Some(summary) = summary {
            totals.add(&summary);
        }
    }
    Ok(totals)
}

pub fn run(args: &MergeArgs) -> anyhow::Result<ExitCode> {
    let shards = load_shards(&args.inputs)?;
    let first = &shards[0].record;
    let name = first["experiment"]["name"]
        .as_str()
        .context("run.json has no experiment name")?
        .to_string();
    let control = first["experiment"]["control"]
        .as_str()
        .unwrap_or("C")
        .to_string();
    let arm_names: Vec<String> = first["arms"]
        .as_array()
        .context("run.json has no arms")?
        .iter()
        .filter_map(|a| a["arm"].as_str().map(str::to_string))
        .collect();
    let treatments: Vec<String> = arm_names
        .iter()
        .map(|arm| render_treatments(&[(name.as_str(), arm.as_str())]))
        .collect();
    let expected = first["episodes"].as_u64().unwrap_or(0);

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create output directory {}", args.out.display()))?;
    let log_path = args.out.join("events.jsonl");
    let mut totals = RunTotals::new(treatments.len());
    crate::atomic_file::write_with(&log_path, |out| {
        totals = merge_logs(&shards, &treatments, out)?;
        if totals.episodes() != expected {
            return Err(std::io::Error::other(format!(
                "the shards hold {} episodes of the run's {expected}: a shard log is cut or from another run",
                totals.episodes()
            )));
        }
        Ok(())
    })?;

    let mut record = first.clone();
    let wall = shards
        .iter()
        .filter_map(|s| s.record["wall_seconds"].as_f64())
        .fold(0.0, f64::max);
    let workers: u64 = shards
        .iter()
        .filter_map(|s| s.record["workers"].as_u64())
        .sum();
    let merged_from: Vec<Value> = shards
        .iter()
        .map(|s| {
            serde_json::json!({
                "shard": s.shard,
                "run": s.run_json,
                "wall_seconds": s.record["wall_seconds"],
                "workers": s.record["workers"],
                "git_commit": s.record["git_commit"],
            })
        })
        .collect();
    if let Some(fields) = record.as_object_mut() {
        fields.insert("completed_episodes".into(), totals.episodes().into());
        fields.insert("interrupted".into(), false.into());
        fields.insert("shard".into(), Value::Null);
        fields.insert("workers".into(), workers.into());
        fields.insert("wall_seconds".into(), wall.into());
        // The merged report is written after this record: its time is not known here.
        fields.insert("report_seconds".into(), Value::Null);
        let arms = serde_json::to_value(summarize(&arm_names, &totals))?;
        // A sharded run has one day (`--shard` refuses `--days`): its summary is the run's.
        if let Some(Value::Array(days)) = fields.get_mut("days")
            && let [Value::Object(day)] = days.as_mut_slice()
        {
            day.insert("arms".into(), arms.clone());
            day.insert("episodes".into(), totals.episodes().into());
        }
        fields.insert("arms".into(), arms);
        fields.insert("merged_from".into(), merged_from.into());
    }
    crate::atomic_file::write(
        &args.out.join("run.json"),
        &serde_json::to_vec_pretty(&record)?,
    )?;
    crate::out!(
        "merged {} shards: {} episodes, {} steps -> {}",
        shards.len(),
        totals.episodes(),
        totals.steps(),
        log_path.display()
    );
    if arm_names.len() > 1 {
        report_ab_table(
            &name,
            &control,
            std::slice::from_ref(&log_path),
            Some((&arm_names, &totals)),
            &args.out,
            &args.out,
            Some(args.color.for_stdout()),
        );
    }
    Ok(ExitCode::SUCCESS)
}
