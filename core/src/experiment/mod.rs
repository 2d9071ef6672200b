//! Experiment files (`experiments/*.yml`): a name, arms `C, T1, ...` with recommender
//! specs, an optional control; and the routing of users to arms.

pub mod assign;
pub mod builtin;
pub mod plan;

use crate::recommend::RecommenderSpec;
use anyhow::{Context, bail};
use plan::{Guardrail, Plan};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentFile {
    pub name: String,
    #[serde(default)]
    pub control: Option<String>,
    pub arms: BTreeMap<String, RecommenderSpec>,
    /// The metric that decides (see [`Plan`]).
    #[serde(default)]
    pub primary: Option<String>,
    #[serde(default)]
    pub guardrails: BTreeMap<String, Guardrail>,
    #[serde(default)]
    pub paired: bool,
}

impl ExperimentFile {
    /// What the file declares about deciding.
    pub fn plan(&self) -> Plan {
        Plan {
            primary: self.primary.clone(),
            guardrails: self.guardrails.clone(),
            paired: self.paired,
        }
    }
}

/// A loaded, validated experiment.
#[derive(Debug, Clone, Serialize)]
pub struct Experiment {
    pub name: String,
    pub control: String,
    /// Arms in bucket order: `C`, `T1`, `T2`, ...
    pub arms: Vec<ArmSpec>,
    /// What the experiment decides by; left out of the record when empty, so that the
    /// artifact keys of experiments without one (they hash this record) stay as they were.
    #[serde(skip_serializing_if = "Plan::is_default")]
    pub plan: Plan,
    /// The experiment file's directory: relative paths in specs start here.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArmSpec {
    pub name: String,
    pub spec: RecommenderSpec,
}

impl Experiment {
    /// Reads and validates an experiment file (or a built-in's virtual path); errors name
    /// the file (and line/column for YAML).
    pub fn load(path: &Path) -> anyhow::Result<Experiment> {
        let text = source_text(path)?;
        let file: ExperimentFile = serde_norway::from_str(&text)
            .with_context(|| format!("invalid experiment {}", path.display()))?;
        let base_dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let plan = file.plan();
        let mut experiment = Experiment::new(file.name, file.control, file.arms, base_dir)
            .with_context(|| format!("invalid experiment {}", path.display()))?;
        experiment.plan = plan;
        Ok(experiment)
    }

    /// Checks that arms are exactly `C, T1, ..., T{k-1}` and the control is one of them.
    pub fn new(
        name: String,
        control: Option<String>,
        mut arms: BTreeMap<String, RecommenderSpec>,
        base_dir: PathBuf,
    ) -> anyhow::Result<Experiment> {
        if name.trim().is_empty() {
            bail!("the experiment name is empty");
        }
        if arms.is_empty() {
            bail!("no arms: expected arms C, T1, ...");
        }
        let k = arms.len();
        let mut ordered = Vec::with_capacity(k);
        for bucket in 0..k {
            let arm = assign::treatment_name(bucket);
            let Some(spec) = arms.remove(&arm) else {
                let names: Vec<&String> = arms.keys().collect();
                bail!(
                    "with {k} arms they must be named C, T1, ..., T{}; arm {arm} is missing (other names: {names:?})",
                    k - 1
                );
            };
            ordered.push(ArmSpec { name: arm, spec });
        }
        let control = control.unwrap_or_else(|| "C".to_string());
        if !ordered.iter().any(|a| a.name == control) {
            bail!("control {control} is not one of the arms");
        }
        Ok(Experiment {
            name,
            control,
            arms: ordered,
            plan: Plan::default(),
            base_dir,
        })
    }

    /// The arm index of every user `0..n_users` (the Python-compatible murmur3 rule).
    pub fn assign_users(&self, n_users: usize) -> Vec<u8> {
        let salt = assign::salt(&self.name);
        (0..n_users as u64)
            .map(|u| assign::bucket(salt, u, self.arms.len()) as u8)
            .collect()
    }
}

/// The text of an experiment file, or of a built-in given its virtual path.
pub fn source_text(path: &Path) -> anyhow::Result<String> {
    match builtin::contents(path) {
        Some(text) => Ok(text?.to_string()),
        None => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read experiment {}", path.display())),
    }
}

/// The identity of an experiment file for cycle detection: its canonical path (a
/// built-in's virtual path is already one).
pub fn canonical_path(path: &Path) -> anyhow::Result<PathBuf> {
    match builtin::contents(path) {
        Some(text) => text.map(|_| path.to_path_buf()),
        None => path
            .canonicalize()
            .with_context(|| format!("cannot find experiment {}", path.display())),
    }
}
