//! `sim train mf` and `sim train i2i`: arguments and commands. Both read the logs (only
//! `user`, `track`, `time`, `message`) and the catalogue's artists, as `sim train dssm`.

use super::i2i::{I2iParams, I2iSummary, next_track_lists};
use super::input::{self, Play};
use super::mf::{MfParams, MfSummary, train_mf};
use super::output::write_recommendations_to;
use anyhow::{Context, Result, bail};
use botify_sim_core::overwrite::{Named, refuse_outputs_over_inputs};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where the training data comes from and where the lists go (shared by both commands).
#[derive(Debug, Clone, clap::Args)]
pub struct ListsIo {
    /// Event logs (JSON Lines of botify events); all plays of all files are used.
    #[arg(long, required = true, num_args = 1.., value_name = "LOG")]
    pub logs: Vec<PathBuf>,
    /// The output file (JSON Lines).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The catalogue's tracks.json (artists of tracks 0..N-1). Without it: N = largest
    /// track id in the logs + 1, and every track is its own artist.
    #[arg(long, value_name = "FILE")]
    pub tracks: Option<PathBuf>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
}

impl ListsIo {
    fn check(&self) -> Result<()> {
        if self.threads == Some(0) {
            bail!("--threads must be at least 1, got 0");
        }
        check_outputs(
            &self.logs,
            self.tracks.as_deref(),
            &self.out,
            ("the summary", &summary_path(&self.out)),
        )
    }
}

/// Refuses, before any log is read, an `out` or `summary` (what the user calls it, and
/// its path) that cannot be created or would overwrite an input or each other.
pub fn check_outputs(
    logs: &[PathBuf],
    tracks: Option<&Path>,
    out: &Path,
    (summary_name, summary): (&str, &Path),
) -> Result<()> {
    check_writable("--out", out)?;
    check_writable(summary_name, summary)?;
    let mut inputs: Vec<Named> = logs.iter().map(|l| Named::new("--logs", l)).collect();
    inputs.extend(tracks.map(|t| Named::new("--tracks", t)));
    refuse_outputs_over_inputs(
        &inputs,
        &[Named::new("--out", out), Named::new(summary_name, summary)],
    )
}

/// Fails unless a file can be created at `path` (its folder exists and takes new files),
/// so that a typo in an output path is found before minutes of training, not after.
fn check_writable(flag: &str, path: &Path) -> Result<()> {
    if path.is_dir() {
        bail!(
            "{flag} {}: is a directory; give a file name",
            path.display()
        );
    }
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        bail!(
            "{flag} {}: the folder {} does not exist",
            path.display(),
            dir.display()
        );
    }
    tempfile::Builder::new()
        .prefix(".sim-write-check.")
        .tempfile_in(dir)
        .map(drop)
        .with_context(|| {
            format!(
                "{flag} {}: cannot create files in {}",
                path.display(),
                dir.display()
            )
        })
}

/// Implicit-feedback matrix factorisation (weighted ALS) -> per-user top-k lists.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainMfArgs {
    #[command(flatten)]
    pub io: ListsIo,
    /// Tracks kept per user.
    #[arg(long, default_value_t = MfParams::default().top_k)]
    pub top_k: usize,
    /// Factors per user and per track.
    #[arg(long, default_value_t = MfParams::default().dim)]
    pub dim: usize,
    /// Alternating least-squares iterations.
    #[arg(long, default_value_t = MfParams::default().iterations)]
    pub iterations: usize,
    /// L2 regularisation (> 0).
    #[arg(long, default_value_t = MfParams::default().reg)]
    pub reg: f64,
    /// Confidence added per positive play (c = 1 + alpha * plays).
    #[arg(long, default_value_t = MfParams::default().alpha)]
    pub alpha: f64,
    /// Seed of the initial factors.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl TrainMfArgs {
    /// Refuses impossible flag values, naming the one flag and its value, and outputs
    /// that cannot be written or would overwrite an input, before any log is read.
    fn check(&self) -> Result<()> {
        for (flag, value) in [
            ("--top-k", self.top_k),
            ("--dim", self.dim),
            ("--iterations", self.iterations),
        ] {
            if value == 0 {
                bail!("{flag} must be at least 1, got 0");
            }
        }
        if !(self.reg.is_finite() && self.reg > 0.0) {
            bail!("--reg must be a finite number > 0, got {}", self.reg);
        }
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            bail!("--alpha must be a finite number >= 0, got {}", self.alpha);
        }
        self.io.check()
    }

    pub fn params(&self) -> MfParams {
        MfParams {
            top_k: self.top_k,
            dim: self.dim,
            iterations: self.iterations,
            reg: self.reg,
            alpha: self.alpha,
            seed: self.seed,
            ..MfParams::default()
        }
    }
}

/// Next-track lists per track from the logs' sessions -> `contextual` lists.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainI2iArgs {
    #[command(flatten)]
    pub io: ListsIo,
    /// Tracks kept per list.
    #[arg(long, default_value_t = I2iParams::default().top_k)]
    pub top_k: usize,
    /// A follower counts when listened to at least this much.
    #[arg(long, default_value_t = I2iParams::default().min_time)]
    pub min_time: f32,
    /// Keep at most one track per artist in a list (the course's diversified arm).
    #[arg(long)]
    pub one_per_artist: bool,
}

impl TrainI2iArgs {
    /// As [`TrainMfArgs::check`].
    fn check(&self) -> Result<()> {
        if self.top_k == 0 {
            bail!("--top-k must be at least 1, got 0");
        }
        if !(0.0..=1.0).contains(&self.min_time) {
            bail!("--min-time must be in [0, 1], got {}", self.min_time);
        }
        self.io.check()
    }

    pub fn params(&self) -> I2iParams {
        I2iParams {
            top_k: self.top_k,
            min_time: self.min_time,
            one_per_artist: self.one_per_artist,
        }
    }
}

/// Runs `f` on `threads` worker threads (all cores when `None`).
pub fn with_threads<T>(threads: Option<usize>, f: impl FnOnce() -> Result<T> + Send) -> Result<T>
where
    T: Send,
{
    match threads {
        Some(0) => bail!("--threads must be at least 1"),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .context("cannot start the worker threads")?
            .install(f),
        None => f(),
    }
}

/// Runs `sim train mf`.
pub fn run_mf(args: &TrainMfArgs) -> Result<()> {
    args.check()?;
    with_threads(args.io.threads, || {
        let artist_of = read_artists(args.io.tracks.as_deref())?;
        mf_to_files(&args.io.logs, artist_of, &args.params(), &args.io.out)
    })
}

/// Runs `sim train i2i`.
pub fn run_i2i(args: &TrainI2iArgs) -> Result<()> {
    args.check()?;
    with_threads(args.io.threads, || {
        let artist_of = read_artists(args.io.tracks.as_deref())?;
        i2i_to_files(&args.io.logs, artist_of, &args.params(), &args.io.out)
    })
}

fn read_artists(tracks: Option<&Path>) -> Result<Option<Vec<u32>>> {
    Ok(match tracks {
        Some(path) => Some(input::read_tracks(path)?),
        None => None,
    })
}

/// Every play of the logs, and each track's artist (`artist_of` as given, else each track
/// its own artist with N = largest id in the logs + 1).
pub fn read_training_logs(
    logs: &[PathBuf],
    artist_of: Option<Vec<u32>>,
) -> Result<(Vec<Play>, Vec<u32>)> {
    let mut plays = Vec::new();
    for path in logs {
        let log = input::read_plays(path, artist_of.as_ref().map(Vec::len))?;
        if log.is_empty() {
            bail!("{}: the log has no events", path.display());
        }
        plays.extend(log);
    }
    let artist_of = match artist_of {
        Some(a) => a,
        None => {
            let n = plays
                .iter()
                .map(|p| p.interaction.track + 1)
                .max()
                .unwrap_or(0);
            botify_sim_core::note!(
                "note: no --tracks given: assuming {n} tracks (largest id in the logs + 1), each its own artist"
            );
            (0..n).collect()
        }
    };
    Ok((plays, artist_of))
}

/// The summary file next to the output: `<out>` with extension `.summary.json`.
pub fn summary_path(out: &Path) -> PathBuf {
    out.with_extension("summary.json")
}

#[derive(Serialize)]
struct Summary<'a, P, S> {
    trainer: &'static str,
    logs: &'a [PathBuf],
    out: &'a Path,
    params: &'a P,
    #[serde(flatten)]
    counts: &'a S,
    read_seconds: f64,
    train_seconds: f64,
    total_seconds: f64,
}

/// Trains the matrix factorisation on the logs and writes the per-user lists and the summary.
pub fn mf_to_files(
    logs: &[PathBuf],
    artist_of: Option<Vec<u32>>,
    params: &MfParams,
    out: &Path,
) -> Result<()> {
    let start = Instant::now();
    let (plays, artist_of) = read_training_logs(logs, artist_of)?;
    let interactions: Vec<_> = plays.iter().map(|p| p.interaction).collect();
    drop(plays);
    let read_seconds = start.elapsed().as_secs_f64();
    let model = train_mf(&interactions, artist_of.len(), params)
        .with_context(|| format!("training on {}", list(logs)))?;
    let recs = model.recommendations(params.top_k);
    botify_sim_core::atomic_file::write_with(out, |w| write_recommendations_to(w, &recs))?;
    let s: &MfSummary = &model.summary;
    finish(
        "mf",
        logs,
        out,
        params,
        s,
        start,
        read_seconds,
        &format!(
            "trained ALS on {} plays ({} positive pairs, {} users); wrote top-{} of {} users",
            s.interactions,
            s.positives,
            s.users,
            params.top_k.min(s.tracks),
            recs.len()
        ),
    )
}

/// Builds the next-track lists from the logs and writes them and the summary.
pub fn i2i_to_files(
    logs: &[PathBuf],
    artist_of: Option<Vec<u32>>,
    params: &I2iParams,
    out: &Path,
) -> Result<()> {
    let start = Instant::now();
    if params.top_k == 0 {
        bail!("--top-k must be at least 1");
    }
    if !(0.0..=1.0).contains(&params.min_time) {
        bail!("--min-time {} is not in [0, 1]", params.min_time);
    }
    let (plays, artist_of) = read_training_logs(logs, artist_of)?;
    let read_seconds = start.elapsed().as_secs_f64();
    let (lists, s): (_, I2iSummary) = next_track_lists(&plays, &artist_of, params);
    if lists.is_empty() {
        bail!(
            "no transition of {} listened to at least {} in {}: no list to write",
            s.transitions,
            params.min_time,
            list(logs)
        );
    }
    botify_sim_core::atomic_file::write_with(out, |w| {
        #[derive(Serialize)]
        struct Line<'a> {
            track: u32,
            recommendations: &'a [u32],
        }
        for (track, recommendations) in &lists {
            serde_json::to_writer(
                &mut *w,
                &Line {
                    track: *track,
                    recommendations,
                },
            )?;
            w.write_all(b"\n")?;
        }
        Ok(())
    })?;
    finish(
        "i2i",
        logs,
        out,
        params,
        &s,
        start,
        read_seconds,
        &format!(
            "{} transitions ({} listened well) in {} plays; wrote lists of {} tracks",
            s.transitions, s.good_transitions, s.plays, s.tracks_with_lists
        ),
    )
}

/// Writes the summary next to `out` and prints one line.
#[allow(clippy::too_many_arguments)]
fn finish<P: Serialize, S: Serialize>(
    trainer: &'static str,
    logs: &[PathBuf],
    out: &Path,
    params: &P,
    counts: &S,
    start: Instant,
    read_seconds: f64,
    message: &str,
) -> Result<()> {
    let total_seconds = start.elapsed().as_secs_f64();
    let summary = Summary {
        trainer,
        logs,
        out,
        params,
        counts,
        read_seconds,
        train_seconds: total_seconds - read_seconds,
        total_seconds,
    };
    let path = summary_path(out);
    let text = serde_json::to_string_pretty(&summary)? + "\n";
    botify_sim_core::atomic_file::write(&path, text.as_bytes())?;
    botify_sim_core::note!("{message} to {} in {total_seconds:.1} s", out.display());
    Ok(())
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
