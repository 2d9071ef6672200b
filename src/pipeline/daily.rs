//! `retrain: daily`: between the days of a run, an arm's model is trained again on its
//! recipe's `logs_from` plus every log of the run so far, so the arm learns from its own
//! traffic. Each day's artifact is cached like any other, under a key made of the day-1
//! artifact's key and the contents of the day logs (without `latency`, the one field that
//! differs between two runs of the same command), so a rerun reuses it.

use super::recipe::{Retrain, TrainRecipe};
use super::{ARTIFACT_VERSION, Pipeline};
use crate::experiment::Experiment;
use crate::log::fingerprint::log_fingerprint;
use anyhow::Context;
use serde_json::json;
use std::path::{Path, PathBuf};

/// An arm's artifact for the coming day.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DailyArtifact {
    pub arm: String,
    pub file: PathBuf,
}

impl Pipeline<'_> {
    /// Points every `retrain: daily` recipe of `experiment` at its artifact for the day
    /// after `day_logs` (days 1..d, in order). `day_one` is the experiment as resolved for
    /// day 1: its recipes' files are the day-1 artifacts, whose `logs/` hold the
    /// `logs_from` logs. Returns the arms' new artifacts (none without daily recipes).
    pub fn retrain_daily(
        &self,
        day_one: &Experiment,
        day_logs: &[PathBuf],
    ) -> anyhow::Result<(Experiment, Vec<DailyArtifact>)> {
        let mut next = day_one.clone();
        let mut fingerprints: Option<Vec<String>> = None;
        let mut made = Vec::new();
        for arm in &mut next.arms {
            let name = arm.name.clone();
            arm.spec
                .visit_sources(&mut |recipe, file| {
                    if recipe.retrain != Some(Retrain::Daily) {
                        return Ok(());
                    }
                    let first = file
                        .as_ref()
                        .context("the recipe's day-1 artifact was not built")?;
                    let first_dir = first
                        .parent()
                        .context("a day-1 artifact outside the cache")?;
                    let prints = match &fingerprints {
                        Some(prints) => prints.clone(),
                        None => {
                            let prints = day_logs
                                .iter()
                                .map(|log| log_fingerprint(log))
                                .collect::<anyhow::Result<Vec<_>>>()?;
                            fingerprints = Some(prints.clone());
                            prints
                        }
                    };
                    let key = daily_key(first_dir, &prints)?;
                    let recs = self.stored(&key, |tmp| {
                        self.build_daily(recipe, first_dir, day_logs, &prints, tmp)
                    })?;
                    made.push(DailyArtifact {
                        arm: name.clone(),
                        file: recs.clone(),
                    });
                    *file = Some(recs);
                    Ok(())
                })
                .with_context(|| {
                    format!("experiment {}, arm {name}: daily retraining", next.name)
                })?;
        }
        Ok((next, made))
    }

    /// Copies the day logs into `dir/logs/` (an artifact holds its training data) and
    /// trains on the day-1 artifact's `logs_from` logs followed by them.
    fn build_daily(
        &self,
        recipe: &TrainRecipe,
        first_dir: &Path,
        day_logs: &[PathBuf],
        fingerprints: &[String],
        dir: &Path,
    ) -> anyhow::Result<()> {
        let mut logs = source_logs(&first_dir.join("logs"))?;
        std::fs::create_dir_all(dir.join("logs"))
            .with_context(|| format!("cannot create {}", dir.display()))?;
        for (i, log) in day_logs.iter().enumerate() {
            let copy = dir.join("logs").join(format!("day-{}.jsonl", i + 1));
            std::fs::copy(log, &copy)
                .with_context(|| format!("cannot copy {} to {}", log.display(), copy.display()))?;
            logs.push(copy);
        }
        crate::note!(
            "  retraining on {} logs (the recipe's and days 1..{})",
            logs.len(),
            day_logs.len()
        );
        self.train(recipe, &logs, dir)?;
        crate::atomic_file::write(
            &dir.join("recipe.json"),
            &serde_json::to_vec_pretty(&json!({
                "recipe": recipe,
                "retrained_from": first_dir,
                "day_logs": fingerprints,
            }))?,
        )
    }
}

/// The key of the artifact trained on the day-1 artifact's logs plus days with these
/// log fingerprints.
fn daily_key(first_dir: &Path, fingerprints: &[String]) -> anyhow::Result<String> {
    let first_key = first_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .context("a day-1 artifact folder without a name")?;
    let text = json!({
        "version": ARTIFACT_VERSION,
        "daily_from": first_key,
        "day_logs": fingerprints,
    })
    .to_string();
    let hash = murmur3::murmur3_x64_128(&mut text.as_bytes(), 0).context("cannot hash the key")?;
    Ok(format!("{hash:032x}"))
}

/// The `logs_from` logs of an artifact (`<i>-<experiment>.jsonl`), in recipe order.
pub fn source_logs(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    let mut logs = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(index) = name
            .split_once('-')
            .and_then(|(i, _)| i.parse::<usize>().ok())
            && name.ends_with(".jsonl")
        {
            logs.push((index, path));
        }
    }
    logs.sort();
    Ok(logs.into_iter().map(|(_, path)| path).collect())
}
