//! Experiment files (`experiments/*.yml`): a name, arms `C, T1, ...` with recommender
//! specs, an optional control; and the routing of users to arms.

pub mod assign;
pub mod builtin;

use crate::recommend::RecommenderSpec;
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExperimentFile {
    name: String,
    #[serde(default)]
    control: Option<String>,
    arms: BTreeMap<String, RecommenderSpec>,
}

/// A loaded, validated experiment.
#[derive(Debug, Clone, Serialize)]
pub struct Experiment {
    pub name: String,
    pub control: String,
    /// Arms in bucket order: `C`, `T1`, `T2`, ...
    pub arms: Vec<ArmSpec>,
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
        Experiment::new(file.name, file.control, file.arms, base_dir)
            .with_context(|| format!("invalid experiment {}", path.display()))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> anyhow::Result<Experiment> {
        let file: ExperimentFile = serde_norway::from_str(yaml)?;
        Experiment::new(file.name, file.control, file.arms, PathBuf::from("."))
    }

    #[test]
    fn arms_come_in_bucket_order_and_control_defaults_to_c() {
        let e =
            parse("name: x\narms:\n  T1: {kind: sticky_artist}\n  C: {kind: random}\n").unwrap();
        assert_eq!(e.arms[0].name, "C");
        assert_eq!(
            e.arms[1].spec,
            RecommenderSpec::StickyArtist { no_repeat: false }
        );
        assert_eq!(e.control, "C");
    }

    #[test]
    fn misnamed_arms_unknown_kinds_and_unknown_controls_are_errors() {
        let err = parse("name: x\narms:\n  C: {kind: random}\n  T2: {kind: random}\n").unwrap_err();
        assert!(err.to_string().contains("arm T1 is missing"), "{err}");
        let err = parse("name: x\narms:\n  C: {kind: telepathy}\n").unwrap_err();
        assert!(err.to_string().contains("telepathy"), "{err}");
        let err = parse("name: x\ncontrol: T9\narms:\n  C: {kind: random}\n").unwrap_err();
        assert!(err.to_string().contains("control T9"), "{err}");
    }

    #[test]
    fn top_pop_k_defaults_to_100() {
        let e = parse("name: x\narms:\n  C: {kind: top_pop}\n").unwrap();
        assert_eq!(
            e.arms[0].spec,
            RecommenderSpec::TopPop {
                k: 100,
                file: None,
                no_repeat: false
            }
        );
    }

    #[test]
    fn an_error_in_an_arm_names_the_arm_the_key_and_its_line() {
        let head = "name: x\narms:\n  C: {kind: random}\n";
        let cases = [
            (
                "  T1:\n    kind: top_pop\n    k: 0\n",
                "arms.T1.k: invalid value: integer `0`, expected an integer >= 1 at line 6",
            ),
            (
                "  T1:\n    kind: oracle\n    candidates: -2\n",
                "arms.T1.candidates: invalid type: integer `-2`, expected an integer >= 1 at line 6",
            ),
            (
                "  T1:\n    kind: telepathy\n",
                "arms.T1.kind: unknown variant `telepathy`",
            ),
            (
                "  T1:\n    kind: history\n    file: a.jsonl\n    attempts: 0\n",
                "arms.T1.attempts: invalid value: integer `0`, expected an integer >= 1 at line 7",
            ),
            (
                "  T1:\n    kind: history\n    file: a.jsonl\n    fallback:\n      kind: top_pop\n      kk: 3\n",
                "arms.T1.fallback: unknown field `kk`, expected one of `k`, `file`, `no_repeat` at line 9",
            ),
            (
                "  T1:\n    kind: indexed\n    source:\n      train: dssm\n      logs_from: [{experiment: a.yml, episodes: 0}]\n",
                "arms.T1.source.logs_from[0].episodes: invalid value: integer `0`, expected an integer >= 1 at line 8",
            ),
            (
                "  T1:\n    kind: indexed\n    source: {train: dssm, logs_from: [], top_k: 0}\n",
                "arms.T1.source.top_k: invalid value: integer `0`, expected an integer >= 1 at line 6",
            ),
            (
                "  T1:\n    kind: indexed\n    source: {train: dssm, logs_from: [], dim: 0}\n",
                "arms.T1.source.dim: invalid value: integer `0`",
            ),
            (
                "  T1:\n    kind: indexed\n    source: {train: dssm, logs_from: [], epochs: 0}\n",
                "arms.T1.source.epochs: invalid value: integer `0`",
            ),
            (
                "  T1:\n    kind: remote\n    url: http://x\n    timeout_ms: 0\n",
                "arms.T1.timeout_ms: invalid value: integer `0`",
            ),
            (
                "  T1:\n    kind: sticky_artist\n    k: 3\n",
                "arms.T1: unknown field `k`, expected `no_repeat` at line 6",
            ),
            // `kind` not first: read buffered, the error still names the arm.
            (
                "  T1: {k: 0, kind: top_pop}\n",
                "arms.T1: invalid value: integer `0`, expected an integer >= 1 at line 4",
            ),
        ];
        for (arm, expected) in cases {
            let err = parse(&format!("{head}{arm}")).unwrap_err().to_string();
            assert!(err.contains(expected), "{arm}: {err}");
        }
    }

    #[test]
    fn specs_read_with_kind_anywhere_and_write_kind_first() {
        let e =
            parse("name: x\narms:\n  C: {k: 7, kind: top_pop}\n  T1: {kind: random}\n").unwrap();
        assert_eq!(
            e.arms[0].spec,
            RecommenderSpec::TopPop {
                k: 7,
                file: None,
                no_repeat: false
            }
        );
        let json = serde_json::to_string(&e.arms[0].spec).unwrap();
        assert_eq!(json, r#"{"kind":"top_pop","k":7}"#);
        let back: RecommenderSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e.arms[0].spec);
        assert_eq!(
            serde_json::to_string(&e.arms[1].spec).unwrap(),
            r#"{"kind":"random"}"#
        );
    }
}
