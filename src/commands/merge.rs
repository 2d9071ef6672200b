//! `sim merge`: the shards of a run (`sim run --shard K/N`) back into the log, `run.json`
//! and report that the single-machine run writes. The shards' `run.json`s are checked
//! here; the logs are merged by [`crate::sim::merge`].

use super::run::report_ab_table;
use crate::cli::MergeArgs;
use crate::log::writer::render_treatments;
use crate::sim::merge::merge_into;
use crate::sim::shard::Shard;
use crate::sim::summary::summarize;
use anyhow::{Context, bail};
use serde_json::Value;
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
    let Some(recorded) = record["log_hash"].as_str() else {
        bail!(
            "{}: shard {shard} records no content hash of its log (made by an older sim); rerun it with sim run --shard {shard}",
            run_json.display()
        );
    };
    let hash = crate::log::fingerprint::content_hash(&log)?;
    if hash != recorded {
        bail!(
            "{}: shard {shard}'s log was changed after its run (content hash {hash}, {} records {recorded}); rerun it with sim run --shard {shard}",
            log.display(),
            run_json.display()
        );
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

/// Refuses an `--out` that is a shard's folder or holds a shard's run (merging into it
/// would replace that shard), before any shard is read.
fn check_out(out: &Path, inputs: &[PathBuf]) -> anyhow::Result<()> {
    for input in inputs {
        let folder = if input.is_dir() {
            input.clone()
        } else {
            input.parent().map_or(PathBuf::from("."), Path::to_path_buf)
        };
        if crate::overwrite::same_file(out, &folder) {
            bail!(
                "--out {} is the folder of the shard {}: the merge would replace that shard; give another --out",
                out.display(),
                input.display()
            );
        }
    }
    let record = out.join("run.json");
    if let Ok(text) = std::fs::read_to_string(&record)
        && let Ok(value) = serde_json::from_str::<Value>(&text)
        && !value["shard"].is_null()
    {
        bail!(
            "--out {} holds a shard's run ({} says shard {}): the merge would replace it; give another --out",
            out.display(),
            record.display(),
            value["shard"]
        );
    }
    Ok(())
}

pub fn run(args: &MergeArgs) -> anyhow::Result<ExitCode> {
    check_out(&args.out, &args.inputs)?;
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
    let logs: Vec<PathBuf> = shards.iter().map(|s| s.log.clone()).collect();
    let totals = merge_into(&log_path, &logs, &treatments, expected)?;

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
        // A shard's own: the merged log is no shard.
        fields.insert("log_hash".into(), Value::Null);
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
            Some(crate::terminal::color_for_stdout()),
        );
    }
    Ok(ExitCode::SUCCESS)
}
