//! Which episodes a shard of a run simulates: those whose user hashes into it, so a
//! user's sessions stay on one machine, in order, and every episode still draws from its
//! own (seed, index) streams exactly as in the single-machine run.

use std::fmt;

/// Shard `index` of `count` (`0 <= index < count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// The murmur3 seed of the shard hash: `murmur3_32("shard", 0)`, so shards do not line
/// up with an experiment's treatment buckets (salted by the experiment's name).
fn shard_salt() -> u32 {
    murmur3::murmur3_32(&mut &b"shard"[..], 0).unwrap_or_default()
}

impl Shard {
    /// Whether `user`'s episodes belong to this shard: `murmur3_32(str(user), salt) % count`.
    pub fn contains(&self, user: u32) -> bool {
        self.count <= 1 || shard_of(user, self.count) == self.index
    }
}

/// The shard of `user` among `count`.
pub fn shard_of(user: u32, count: u32) -> u32 {
    let hash =
        murmur3::murmur3_32(&mut user.to_string().as_bytes(), shard_salt()).unwrap_or_default();
    hash % count.max(1)
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// `K/N`, e.g. `0/4` .. `3/4`.
    fn from_str(text: &str) -> Result<Shard, String> {
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not K/N (e.g. 0/4), nor auto"))?;
        let number = |s: &str, what: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| format!("{text:?}: the {what} {s:?} is not a whole number"))
        };
        Shard::new(number(k, "index")?, number(n, "count")?).map_err(|e| format!("{text:?}: {e}"))
    }
}

impl Shard {
    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 {
            return Err("the shard count must be at least 1".into());
        }
        if index >= count {
            return Err(format!(
                "the shard index {index} must be below the count {count} (shards are numbered 0..{count})"
            ));
        }
        Ok(Shard { index, count })
    }

    /// The shard of this process in a Kubernetes Indexed Job (`JOB_COMPLETION_INDEX` and
    /// `shards`) or a Slurm job array (`SLURM_ARRAY_TASK_ID` minus `SLURM_ARRAY_TASK_MIN`,
    /// of `SLURM_ARRAY_TASK_COUNT`). `env` reads a variable (the process environment in
    /// `sim run`, a table in tests).
    pub fn auto(
        env: impl Fn(&str) -> Option<String>,
        shards: Option<u32>,
    ) -> Result<Shard, String> {
        let number = |name: &str| -> Result<Option<u32>, String> {
            match env(name) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse::<u32>()
                    .map(Some)
                    .map_err(|_| format!("--shard auto: {name}={v:?} is not a whole number")),
            }
        };
        if let Some(task) = number("SLURM_ARRAY_TASK_ID")? {
            let count = number("SLURM_ARRAY_TASK_COUNT")?.ok_or(
                "--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not",
            )?;
            let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let index = task.checked_sub(min).ok_or_else(|| {
                format!(
                    "--shard auto: SLURM_ARRAY_TASK_ID={task} is below SLURM_ARRAY_TASK_MIN={min}"
                )
            })?;
            if let Some(n) = shards
                && n != count
            {
                return Err(format!(
                    "--shard auto: --shards {n} disagrees with SLURM_ARRAY_TASK_COUNT={count}"
                ));
            }
            return Shard::new(index, count).map_err(|e| format!("--shard auto (Slurm): {e}"));
        }
        if let Some(index) = number("JOB_COMPLETION_INDEX")? {
            let count = shards.ok_or(
                "--shard auto: JOB_COMPLETION_INDEX is set; give the Job's completions as --shards N",
            )?;
            return Shard::new(index, count).map_err(|e| format!("--shard auto (Kubernetes): {e}"));
        }
        Err("--shard auto: neither JOB_COMPLETION_INDEX (Kubernetes Indexed Job) nor SLURM_ARRAY_TASK_ID (Slurm job array) is set".into())
    }
}

/// The value of `--shard`: a fixed `K/N`, or `auto` from the job scheduler's environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardChoice {
    Fixed(Shard),
    Auto,
}

impl std::str::FromStr for ShardChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<ShardChoice, String> {
        if text == "auto" {
            Ok(ShardChoice::Auto)
        } else {
            text.parse().map(ShardChoice::Fixed)
        }
    }
}

impl ShardChoice {
    /// The shard this process runs; `shards` is `--shards` (the Kubernetes Job's size).
    pub fn resolve(self, shards: Option<u32>) -> Result<Shard, String> {
        match self {
            ShardChoice::Fixed(shard) => match shards {
                Some(n) if n != shard.count => {
                    Err(format!("--shard {shard} disagrees with --shards {n}"))
                }
                _ => Ok(shard),
            },
            ShardChoice::Auto => Shard::auto(|name| std::env::var(name).ok(), shards),
        }
    }
}
