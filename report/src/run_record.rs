//! What `run.json` beside a log says about the run that wrote it: the experiment's plan
//! (primary metric, guardrails), whether it stopped early, its pre-period log and how
//! many days it was watched. `sim report` on a run's folder then decides as `sim run`
//! did.

use botify_sim_core::experiment::plan::Plan;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The name of the record (as `sim run` writes it).
const RUN_JSON: &str = "run.json";

/// The facts of a run record that the report uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunRecord {
    pub path: PathBuf,
    pub experiment: String,
    pub plan: Plan,
    /// Why the run's logs are not the whole run, if they are not.
    pub stopped_early: Option<String>,
    /// The pre-period's logs (`sim run --pre-days`), next to the record.
    pub pre_period: Vec<PathBuf>,
    /// The run had several days, each looked at (`--days`).
    pub days: usize,
}

impl RunRecord {
    /// The record in the folder of the logs, if they share one folder that has one.
    pub fn beside(files: &[PathBuf]) -> Option<RunRecord> {
        let mut folders: Vec<&Path> = files.iter().filter_map(|f| f.parent()).collect();
        folders.sort();
        folders.dedup();
        let [folder] = folders.as_slice() else {
            return None;
        };
        let path = folder.join(RUN_JSON);
        let text = std::fs::read(&path).ok()?;
        let value: Value = serde_json::from_slice(&text).ok()?;
        Some(RunRecord::from_value(&path, &value))
    }

    fn from_value(path: &Path, v: &Value) -> RunRecord {
        let folder = path.parent().unwrap_or(Path::new("."));
        let experiment = &v["experiment"];
        let plan = experiment
            .get("plan")
            .and_then(|p| serde_json::from_value(p.clone()).ok())
            .unwrap_or_default();
        let completed = v["completed_episodes"].as_u64();
        let stopped_early = if let Some(error) = v["error"].as_str() {
            Some(format!("the run failed ({error})"))
        } else if v["interrupted"].as_bool() == Some(true) {
            Some(format!(
                "the run was interrupted after {} episodes",
                completed.map_or("some".to_string(), |c| c.to_string())
            ))
        } else if v["ended_at_console"].as_bool() == Some(true) {
            Some("the run was ended at the console".to_string())
        } else {
            None
        };
        let days = v["days"].as_array().map_or(1, Vec::len);
        let pre_period = v["pre_period"]["log"]
            .as_str()
            .map(|log| vec![folder.join(log)])
            .unwrap_or_default();
        RunRecord {
            path: path.to_path_buf(),
            experiment: experiment["name"].as_str().unwrap_or_default().to_string(),
            plan,
            stopped_early,
            pre_period,
            days,
        }
    }
}
