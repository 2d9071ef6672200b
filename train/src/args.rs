//! `sim train dssm`: arguments and the command.

use super::lists_args::{check_outputs, read_training_logs};
use super::{
    Catalogue, DssmParams, InitScheme, Interaction, Progress, TrainSummary, input, train_dssm,
    write_recommendations,
};
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// Train a two-tower (DSSM) model on event logs and write every user's top-k tracks.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainDssmArgs {
    /// Event logs (JSON Lines of botify events); all plays of all files are used.
    #[arg(long, required = true, num_args = 1.., value_name = "LOG")]
    pub logs: Vec<PathBuf>,
    /// Output: `{"user": u, "tracks": [...]}` per line, for the `indexed` recommender.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Training summary (JSON). Default: the output's name with extension `.summary.json`.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// The catalogue's tracks.json (artists of tracks 0..N-1). Without it: N = largest
    /// track id in the logs + 1, and every track is its own artist.
    #[arg(long, value_name = "FILE")]
    pub tracks: Option<PathBuf>,
    /// Tracks kept per user.
    #[arg(long, default_value_t = DssmParams::default().top_k)]
    pub top_k: usize,
    /// Embedding width of both towers.
    #[arg(long, default_value_t = DssmParams::default().dim)]
    pub dim: usize,
    /// Maximum number of epochs (early stopping may end sooner).
    #[arg(long, default_value_t = DssmParams::default().epochs)]
    pub epochs: usize,
    /// Random negative tracks per positive.
    #[arg(long, default_value_t = DssmParams::default().negatives)]
    pub negatives: usize,
    /// Triplet loss margin (on cosine scores).
    #[arg(long, default_value_t = DssmParams::default().margin)]
    pub margin: f32,
    /// AdamW learning rate.
    #[arg(long, default_value_t = DssmParams::default().lr)]
    pub lr: f32,
    /// AdamW decoupled weight decay.
    #[arg(long, default_value_t = DssmParams::default().weight_decay)]
    pub weight_decay: f32,
    /// Positives per batch.
    #[arg(long, default_value_t = DssmParams::default().batch_size)]
    pub batch_size: usize,
    /// Epochs without a better validation loss before stopping.
    #[arg(long, default_value_t = DssmParams::default().patience)]
    pub patience: usize,
    /// Fraction of the positives held out for validation (0: no early stopping).
    #[arg(long, default_value_t = DssmParams::default().validation_fraction)]
    pub validation_fraction: f32,
    /// Positives in a user's history (most recent first).
    #[arg(long, default_value_t = DssmParams::default().max_history)]
    pub max_history: usize,
    /// Seed of the split, the negatives, the batches (and the init unless --init has one).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Weight initialisation: xavier, normal or identity, optionally `:SEED`.
    #[arg(long, default_value = "xavier", value_name = "SCHEME[:SEED]")]
    pub init: InitScheme,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
}

impl TrainDssmArgs {
    pub fn params(&self) -> DssmParams {
        DssmParams {
            top_k: self.top_k,
            dim: self.dim,
            epochs: self.epochs,
            negatives: self.negatives,
            margin: self.margin,
            lr: self.lr,
            weight_decay: self.weight_decay,
            batch_size: self.batch_size,
            patience: self.patience,
            validation_fraction: self.validation_fraction,
            seed: self.seed,
            init: self.init,
            max_history: self.max_history,
            ..DssmParams::default()
        }
    }

    /// Refuses impossible flag values, naming the flag, before any log is read.
    fn check(&self) -> Result<()> {
        let at_least_one = [
            ("--top-k", self.top_k),
            ("--dim", self.dim),
            ("--epochs", self.epochs),
            ("--negatives", self.negatives),
            ("--batch-size", self.batch_size),
            ("--max-history", self.max_history),
        ];
        for (flag, value) in at_least_one {
            if value == 0 {
                bail!("{flag} must be at least 1, got 0");
            }
        }
        if self.threads == Some(0) {
            bail!("--threads must be at least 1, got 0");
        }
        let fraction = self.validation_fraction;
        if !(0.0..1.0).contains(&fraction) {
            bail!("--validation-fraction must be in [0, 1), got {fraction}");
        }
        for (flag, value) in [
            ("--lr", self.lr),
            ("--weight-decay", self.weight_decay),
            ("--margin", self.margin),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                bail!("{flag} must be a finite number >= 0, got {value}");
            }
        }
        check_outputs(
            &self.logs,
            self.tracks.as_deref(),
            &self.out,
            ("--summary", &self.summary_path()),
        )
    }

    pub fn summary_path(&self) -> PathBuf {
        self.summary
            .clone()
            .unwrap_or_else(|| self.out.with_extension("summary.json"))
    }
}

/// The summary file of the command: the training summary plus the command's timings.
#[derive(Debug, Serialize)]
struct CommandSummary<'a> {
    logs: &'a [PathBuf],
    tracks_file: Option<&'a Path>,
    out: &'a Path,
    #[serde(flatten)]
    train: &'a TrainSummary,
    read_seconds: f64,
    top_k_seconds: f64,
    total_seconds: f64,
}

/// Runs `sim train dssm`.
pub fn run(args: &TrainDssmArgs) -> Result<()> {
    args.check()?;
    super::lists_args::with_threads(args.threads, || run_here(args))
}

fn run_here(args: &TrainDssmArgs) -> Result<()> {
    let artist_of = match &args.tracks {
        Some(path) => Some(input::read_tracks(path)?),
        None => None,
    };
    train_to_files(&TrainJob {
        logs: &args.logs,
        artist_of,
        tracks_file: args.tracks.as_deref(),
        params: args.params(),
        out: &args.out,
        summary: &args.summary_path(),
        stop: &botify_sim_core::interrupt::stop_on_ctrl_c(),
    })
}

/// One training run from log files to a recommendation file and its summary; what
/// `sim train dssm` and the artifact pipeline both do.
pub struct TrainJob<'a> {
    pub logs: &'a [PathBuf],
    /// Artist index of each track (ids by first appearance, as `tracks.json` gives them);
    /// `None`: each track its own artist, N = largest id in the logs + 1.
    pub artist_of: Option<Vec<u32>>,
    /// Where `artist_of` came from, for the summary.
    pub tracks_file: Option<&'a Path>,
    pub params: DssmParams,
    pub out: &'a Path,
    pub summary: &'a Path,
    /// Set by Ctrl-C: training stops before its next batch, and nothing is written.
    pub stop: &'a AtomicBool,
}

/// Reads the logs (only `user`, `track`, `time` of each event), trains, writes the top-k
/// per user and the summary.
pub fn train_to_files(job: &TrainJob) -> Result<()> {
    let start = Instant::now();
    let params = job.params.clone();
    let (plays, artist_of) = read_training_logs(job.logs, job.artist_of.clone())?;
    let interactions: Vec<Interaction> = plays.iter().map(|p| p.interaction).collect();
    drop(plays);
    let catalogue = Catalogue {
        n_tracks: artist_of.len(),
        artist_of: &artist_of,
    };
    let read_seconds = start.elapsed().as_secs_f64();

    // `--quiet` hides the bar and the epoch lines, which a terminal would show.
    let bar = if botify_sim_core::terminal::is_quiet() {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    };
    let progress = |p: Progress| match p {
        Progress::Started {
            steps_per_epoch, ..
        } => {
            bar.set_length(steps_per_epoch as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} steps ({elapsed}) {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
        }
        Progress::Step {
            epoch, step, loss, ..
        } => {
            if step == 1 {
                bar.reset();
                bar.set_prefix(format!("epoch {epoch}/{}", params.epochs));
            }
            bar.set_position(step as u64);
            if step % 16 == 0 {
                bar.set_message(format!("loss {loss:.4}"));
            }
        }
        Progress::Epoch(r) => {
            let val = r
                .validation_loss
                .map_or_else(|| "-".to_string(), |v| format!("{v:.4}"));
            bar.println(format!(
                "epoch {:>3}: train loss {:.4}, validation loss {val}{} ({:.1} s)",
                r.epoch,
                r.train_loss,
                if r.best { " *" } else { "" },
                r.seconds
            ));
        }
        Progress::Finished => bar.finish_and_clear(),
    };
    let model = train_dssm(&interactions, &catalogue, &params, &progress, job.stop)
        .with_context(|| format!("training on {}", list(job.logs)))?;
    botify_sim_core::interrupt::check(job.stop)?;

    let t = Instant::now();
    let recs = model.recommendations(params.top_k);
    let top_k_seconds = t.elapsed().as_secs_f64();
    write_recommendations(job.out, &recs)
        .with_context(|| format!("cannot write {}", job.out.display()))?;
    let summary_path = job.summary;
    let s = model.summary();
    let summary = CommandSummary {
        logs: job.logs,
        tracks_file: job.tracks_file,
        out: job.out,
        train: s,
        read_seconds,
        top_k_seconds,
        total_seconds: start.elapsed().as_secs_f64(),
    };
    let text = serde_json::to_string_pretty(&summary)?;
    botify_sim_core::atomic_file::write(summary_path, (text + "\n").as_bytes())?;
    let last = s.epochs.iter().find(|e| e.epoch == s.best_epoch);
    botify_sim_core::note!(
        "trained on {} plays ({} positives, {} users): best epoch {}/{} (validation loss {}); \
         wrote top-{} of {} users to {} in {:.1} s",
        s.interactions,
        s.positives,
        s.users,
        s.best_epoch,
        s.epochs_run,
        last.and_then(|e| e.validation_loss)
            .map_or_else(|| "-".to_string(), |v| format!("{v:.4}")),
        params.top_k.min(s.tracks),
        recs.len(),
        job.out.display(),
        summary.total_seconds
    );
    Ok(())
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
