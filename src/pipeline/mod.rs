//! From experiment files to runnable arms. Recipes (`source:` in a spec) become cached
//! artifacts: the experiments they name are simulated, a model is trained on those logs
//! alone, and the spec is pointed at the resulting recommendation file.
//!
//! Artifacts live in `<cache>/<key>/` where the key hashes the recipe, the contents of
//! every experiment it (transitively) simulates, and the world; a later run with the same
//! key reuses them, `--rebuild` makes them again. A build happens in a temporary folder
//! renamed into place at the end, so an interrupted build never leaves a half artifact.
//!
//! Each artifact folder holds a manifest (size and hash of every file), checked before
//! use: a damaged artifact is rebuilt with a warning. Builds of a key hold the lock file
//! `<cache>/<key>.lock`: a second process building the same artifact waits and reuses it,
//! and a temporary folder whose key is not locked belongs to a dead build and is removed.

pub mod daily;
pub mod manifest;
pub use botify_sim_core::pipeline::recipe;

use crate::config::{Config, WorldKind};
use crate::experiment::Experiment;
use crate::interrupt::Interrupted;
use crate::log::writer::LogWriter;
use crate::recommend::spec::BuildContext;
use crate::sim::episode::{EpisodeSetup, LiveArm, arm_treatments};
use crate::sim::runner::{self, RunEnd, RunError, RunOptions, RunOutcome};
use crate::train::args::{TrainJob, train_to_files};
use crate::train::i2i::I2iParams;
use crate::train::lists_args::{i2i_to_files, mf_to_files};
use crate::train::mf::MfParams;
use crate::train::{DssmParams, InitScheme};
use crate::world::World;
use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use recipe::{TrainKind, TrainRecipe};
use serde_json::json;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Bumped when the artifact format or the way artifacts are made changes.
pub const ARTIFACT_VERSION: u32 = 1;

/// Builds and caches the artifacts of experiments.
pub struct Pipeline<'a> {
    pub world: Arc<World>,
    pub config: &'a Config,
    pub cache_dir: PathBuf,
    /// Make every artifact again (each once per process).
    pub rebuild: bool,
    pub workers: usize,
    pub stop: Arc<AtomicBool>,
    world_fingerprint: String,
    /// Artifacts already resolved by this process (built, rebuilt or found), by key.
    resolved: RefCell<HashMap<String, PathBuf>>,
}

impl<'a> Pipeline<'a> {
    pub fn new(
        world: Arc<World>,
        config: &'a Config,
        cache_dir: PathBuf,
        rebuild: bool,
        workers: usize,
        stop: Arc<AtomicBool>,
    ) -> anyhow::Result<Pipeline<'a>> {
        let world_fingerprint = world_fingerprint(config)?;
        // Absolute, because specs resolve relative paths against their experiment's folder.
        std::fs::create_dir_all(&cache_dir)
            .with_context(|| format!("cannot create the cache {}", cache_dir.display()))?;
        let cache_dir = cache_dir
            .canonicalize()
            .with_context(|| format!("cannot find the cache {}", cache_dir.display()))?;
        remove_dead_builds(&cache_dir)?;
        Ok(Pipeline {
            world,
            config,
            cache_dir,
            rebuild,
            workers,
            stop,
            world_fingerprint,
            resolved: RefCell::new(HashMap::new()),
        })
    }

    /// Builds (or finds) every artifact `experiment` needs and points its specs at them.
    pub fn resolve(&self, experiment: &mut Experiment) -> anyhow::Result<()> {
        self.resolve_within(experiment, &mut Vec::new())
    }

    fn resolve_within(
        &self,
        experiment: &mut Experiment,
        stack: &mut Vec<PathBuf>,
    ) -> anyhow::Result<()> {
        let base = experiment.base_dir.clone();
        for arm in &mut experiment.arms {
            arm.spec
                .visit_sources(&mut |recipe, file| {
                    *file = Some(self.artifact(recipe, &base, stack)?);
                    Ok(())
                })
                .with_context(|| format!("experiment {}, arm {}", experiment.name, arm.name))?;
        }
        Ok(())
    }

    /// The recommendation file of `recipe`, built first if not cached.
    fn artifact(
        &self,
        recipe: &TrainRecipe,
        base: &Path,
        stack: &mut Vec<PathBuf>,
    ) -> anyhow::Result<PathBuf> {
        let key = self.key(recipe, base, stack)?;
        self.stored(&key, |tmp| self.build(recipe, base, stack, tmp))
    }

    /// The recommendation file of the artifact `key`: found in the cache, or made by
    /// `build` in a temporary folder renamed into place (with its manifest).
    fn stored(
        &self,
        key: &str,
        build: impl FnOnce(&Path) -> anyhow::Result<()>,
    ) -> anyhow::Result<PathBuf> {
        let key = key.to_string();
        if let Some(path) = self.resolved.borrow().get(&key) {
            return Ok(path.clone());
        }
        let dir = self.cache_dir.join(&key);
        let recs = dir.join("recs.jsonl");
        let (_lock, waited) = self.lock(&key)?;
        // An artifact another process just built is reused, even under --rebuild.
        if !self.rebuild || waited {
            match manifest::check(&dir) {
                manifest::Check::Valid => {
                    crate::note!("artifact {key}: cached ({})", dir.display());
                    self.resolved.borrow_mut().insert(key, recs.clone());
                    return Ok(recs);
                }
                manifest::Check::Absent => {}
                manifest::Check::Damaged(why) => {
                    crate::problem!("warning: artifact {key} is damaged ({why}): rebuilding it");
                }
            }
        }
        crate::note!("artifact {key}: building in {}", dir.display());
        let tmp = self
            .cache_dir
            .join(format!("{key}{BUILD_MARK}{}", std::process::id()));
        let built = build(&tmp).and_then(|()| manifest::write(&tmp));
        if let Err(e) = built {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e.context(format!(
                "cannot build artifact {key} (its unfinished folder is removed)"
            )));
        }
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot replace {}", dir.display()))?;
        }
        std::fs::rename(&tmp, &dir)
            .with_context(|| format!("cannot move {} to {}", tmp.display(), dir.display()))?;
        self.resolved.borrow_mut().insert(key, recs.clone());
        Ok(recs)
    }

    /// Takes the build lock of `key`, waiting (Ctrl-C aside) while another process holds
    /// it; says whether it had to wait.
    fn lock(&self, key: &str) -> anyhow::Result<(File, bool)> {
        let path = lock_path(&self.cache_dir, key);
        let file = open_lock(&path)?;
        let mut waited = false;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok((file, waited)),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("{}: cannot lock", path.display()));
                }
            }
            if !waited {
                crate::note!(
                    "artifact {key}: another process is building it; waiting for it ({} is locked)",
                    path.display()
                );
                waited = true;
            }
            crate::interrupt::check(&self.stop)?;
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn build(
        &self,
        recipe: &TrainRecipe,
        base: &Path,
        stack: &mut Vec<PathBuf>,
        dir: &Path,
    ) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir.join("logs"))
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let mut logs = Vec::new();
        for (i, source) in recipe.logs_from.iter().enumerate() {
            let path = base.join(&source.experiment);
            let experiment = self.nested(&path, stack, |p, e, s| p.resolve_within(e, s))?;
            let arms = build_arms(&experiment, &self.world)?;
            let log = dir
                .join("logs")
                .join(format!("{i}-{}.jsonl", experiment.name));
            crate::note!(
                "  simulating {} ({} episodes, seed {})",
                path.display(),
                source.episodes,
                source.seed
            );
            let options = RunOptions {
                first_episode: 0,
                episodes: source.episodes,
                seed: source.seed,
                workers: self.workers,
                shard: None,
            };
            let outcome = simulate(
                &self.world,
                &experiment,
                &arms,
                self.config,
                &options,
                &log,
                &self.stop,
            )?;
            match outcome.end {
                RunEnd::Finished => {}
                RunEnd::Interrupted => {
                    return Err(anyhow::Error::new(Interrupted)
                        .context(format!("simulating {}", path.display())));
                }
                RunEnd::Quit => {
                    bail!(
                        "simulating {}: ended at the console, but an artifact needs every episode",
                        path.display()
                    );
                }
                // The build's folder is removed, so not what its log still holds.
                RunEnd::Failed(RunError::Log { source, .. }) => {
                    bail!(
                        "simulating {}: cannot write {}: {source}",
                        path.display(),
                        log.display()
                    );
                }
                RunEnd::Failed(RunError::Episode { index, source, .. }) => {
                    bail!(
                        "simulating {}: episode {index} failed: {source}",
                        path.display()
                    );
                }
                RunEnd::Failed(e) => bail!("simulating {}: {e}", path.display()),
            }
            logs.push(log);
        }
        self.train(recipe, &logs, dir)?;
        crate::atomic_file::write(
            &dir.join("recipe.json"),
            &serde_json::to_vec_pretty(&json!({"recipe": recipe, "base_dir": base}))?,
        )
    }

    /// Trains `recipe`'s model on `logs` into `dir/recs.jsonl` (and its summary).
    fn train(&self, recipe: &TrainRecipe, logs: &[PathBuf], dir: &Path) -> anyhow::Result<()> {
        let artist_of = artists_by_first_appearance(&self.world.service.artist_of);
        let out = dir.join("recs.jsonl");
        match recipe.train {
            TrainKind::Dssm => {
                crate::note!("  training a two-tower model on {} logs", logs.len());
                train_to_files(&TrainJob {
                    logs,
                    artist_of: Some(artist_of),
                    tracks_file: None,
                    params: dssm_params(recipe)?,
                    out: &out,
                    summary: &dir.join("recs.summary.json"),
                    stop: &self.stop,
                })?;
            }
            TrainKind::Mf => {
                crate::note!("  training a matrix factorisation on {} logs", logs.len());
                let defaults = MfParams::default();
                let params = MfParams {
                    top_k: recipe.top_k,
                    seed: recipe.seed,
                    dim: recipe.dim.unwrap_or(defaults.dim),
                    iterations: recipe.epochs.unwrap_or(defaults.iterations),
                    ..defaults
                };
                mf_to_files(logs, Some(artist_of), &params, &out)?;
            }
            TrainKind::I2i => {
                crate::note!("  building next-track lists from {} logs", logs.len());
                let defaults = I2iParams::default();
                let params = I2iParams {
                    top_k: recipe.top_k,
                    one_per_artist: recipe.one_per_artist,
                    min_time: recipe.min_time.unwrap_or(defaults.min_time),
                };
                i2i_to_files(logs, Some(artist_of), &params, &out)?;
            }
        }
        Ok(())
    }

    /// Loads the experiment at `path`, refusing cycles, and applies `then` to it.
    fn nested(
        &self,
        path: &Path,
        stack: &mut Vec<PathBuf>,
        then: impl FnOnce(&Self, &mut Experiment, &mut Vec<PathBuf>) -> anyhow::Result<()>,
    ) -> anyhow::Result<Experiment> {
        let canonical = crate::experiment::canonical_path(path)?;
        if stack.contains(&canonical) {
            let chain: Vec<String> = stack.iter().map(|p| p.display().to_string()).collect();
            bail!(
                "recipe cycle: {} -> {}",
                chain.join(" -> "),
                canonical.display()
            );
        }
        let mut experiment = Experiment::load(path)?;
        stack.push(canonical);
        let result = then(self, &mut experiment, stack);
        stack.pop();
        result?;
        Ok(experiment)
    }

    /// Hash of everything the artifact depends on.
    fn key(
        &self,
        recipe: &TrainRecipe,
        base: &Path,
        stack: &mut Vec<PathBuf>,
    ) -> anyhow::Result<String> {
        let mut logs = Vec::new();
        for source in &recipe.logs_from {
            let path = base.join(&source.experiment);
            let mut nested_keys = Vec::new();
            let experiment = self.nested(&path, stack, |p, e, s| {
                let nested_base = e.base_dir.clone();
                for arm in &mut e.arms {
                    arm.spec.visit_sources(&mut |r, _| {
                        nested_keys.push(p.key(r, &nested_base, s)?);
                        Ok(())
                    })?;
                }
                Ok(())
            })?;
            logs.push(json!({
                "experiment": experiment,
                "artifacts": nested_keys,
                "episodes": source.episodes,
                "seed": source.seed,
            }));
        }
        // Day 1 of a daily-retrained recipe is the recipe's ordinary artifact.
        let recipe = TrainRecipe {
            retrain: None,
            ..recipe.clone()
        };
        let text = json!({
            "version": ARTIFACT_VERSION,
            "world": self.world_fingerprint,
            "recipe": recipe,
            "logs": logs,
        })
        .to_string();
        let hash =
            murmur3::murmur3_x64_128(&mut text.as_bytes(), 0).context("cannot hash the recipe")?;
        Ok(format!("{hash:032x}"))
    }
}

/// The two-tower parameters of a `train: dssm` recipe.
fn dssm_params(recipe: &TrainRecipe) -> anyhow::Result<DssmParams> {
    let defaults = DssmParams::default();
    let init = match &recipe.init {
        Some(text) => text
            .parse::<InitScheme>()
            .map_err(|e| anyhow::anyhow!("recipe init {text:?}: {e}"))?,
        None => defaults.init,
    };
    Ok(DssmParams {
        top_k: recipe.top_k,
        seed: recipe.seed,
        init,
        dim: recipe.dim.unwrap_or(defaults.dim),
        epochs: recipe.epochs.unwrap_or(defaults.epochs),
        ..defaults
    })
}

/// Marks a build's temporary folder: `<key>.tmp-<pid>`.
const BUILD_MARK: &str = ".tmp-";

fn lock_path(cache_dir: &Path, key: &str) -> PathBuf {
    cache_dir.join(format!("{key}.lock"))
}

fn open_lock(path: &Path) -> anyhow::Result<File> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("{}: cannot open the lock file", path.display()))
}

/// Removes the temporary folders of builds that died (a kill, a crash): those whose
/// key's lock no process holds.
fn remove_dead_builds(cache_dir: &Path) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(cache_dir)
        .with_context(|| format!("{}: cannot list", cache_dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((key, _pid)) = name.split_once(BUILD_MARK) else {
            continue;
        };
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let lock = open_lock(&lock_path(cache_dir, key))?;
        if lock.try_lock().is_ok() {
            std::fs::remove_dir_all(entry.path()).with_context(|| {
                format!(
                    "{}: cannot remove the unfinished build",
                    entry.path().display()
                )
            })?;
            crate::note!("removed the unfinished build {}", entry.path().display());
        }
    }
    Ok(())
}

/// What the world and the user model are made of, as a string to hash.
fn world_fingerprint(config: &Config) -> anyhow::Result<String> {
    let mut files = Vec::new();
    if let (WorldKind::Course, Some(dir)) = (config.world.source, &config.world.dir) {
        for name in ["tracks.json", "tracks.npy", "users.json", "top_tracks.json"] {
            let path = dir.join(name);
            if let Ok(meta) = std::fs::metadata(&path) {
                let modified = meta
                    .modified()
                    .ok()
                    .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_nanos());
                files.push(json!({"file": name, "bytes": meta.len(), "modified": modified}));
            }
        }
    }
    Ok(json!({
        "world": config.world,
        "user_defaults": config.user_defaults,
        "simulation": config.simulation,
        "files": files,
    })
    .to_string())
}

/// Artist ids numbered by first appearance in track order, as `tracks.json` gives them to
/// `sim train dssm --tracks`: the same artists, the same numbers, the same model.
pub fn artists_by_first_appearance(artist_of: &[u32]) -> Vec<u32> {
    let mut renumbered = HashMap::new();
    artist_of
        .iter()
        .map(|a| {
            let next = renumbered.len() as u32;
            *renumbered.entry(*a).or_insert(next)
        })
        .collect()
}

/// The live recommenders of an experiment whose sources are resolved.
pub fn build_arms(experiment: &Experiment, world: &Arc<World>) -> anyhow::Result<Vec<LiveArm>> {
    build_arms_with(experiment, world, Vec::new())
}

/// [`build_arms`], with the arms in `supplied` taken as they are instead of built.
pub fn build_arms_with(
    experiment: &Experiment,
    world: &Arc<World>,
    mut supplied: Vec<LiveArm>,
) -> anyhow::Result<Vec<LiveArm>> {
    let ctx = BuildContext {
        world: Arc::clone(world),
        base_dir: experiment.base_dir.clone(),
    };
    experiment
        .arms
        .iter()
        .map(|arm| {
            if let Some(i) = supplied.iter().position(|s| s.name == arm.name) {
                return Ok(supplied.swap_remove(i));
            }
            Ok(LiveArm {
                name: arm.name.clone(),
                recommender: arm
                    .spec
                    .build(&ctx)
                    .with_context(|| format!("experiment {}, arm {}", experiment.name, arm.name))?,
            })
        })
        .collect()
}

/// Runs `options.episodes` episodes of `experiment` into `log_path`, with a progress bar.
pub fn simulate(
    world: &World,
    experiment: &Experiment,
    arms: &[LiveArm],
    config: &Config,
    options: &RunOptions,
    log_path: &Path,
    stop: &AtomicBool,
) -> anyhow::Result<RunOutcome> {
    let log = LogWriter::create(log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    let user_arm = experiment.assign_users(world.users.len());
    let setup = EpisodeSetup {
        world,
        arms,
        treatments: &arm_treatments(&experiment.name, arms),
        user_arm: &user_arm,
        simulation: &config.simulation,
    };
    // A console draws its own prompts on the terminal: no bar over them.
    let progress = if experiment.arms.iter().any(|a| a.spec.uses_console()) {
        ProgressBar::hidden()
    } else {
        progress_bar(options.episodes)
    };
    let outcome = runner::run(&setup, options, log, &progress, stop);
    progress.finish_and_clear();
    Ok(outcome?)
}

/// A bar on a terminal; indicatif draws nothing when stderr is not one.
pub fn progress_bar(episodes: u64) -> ProgressBar {
    if crate::terminal::is_quiet() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(episodes);
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{bar:40}] {pos}/{len} episodes ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
