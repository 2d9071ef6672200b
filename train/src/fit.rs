//! The training loop: epochs of shuffled batches, validation, early stopping, progress.

use super::data::{self, Dataset, Example};
use super::model::{self, Grad, Scratch, Weights};
use super::optim::AdamW;
use super::{Catalogue, DssmParams, Interaction, TrainError, TrainedDssm};
use chacha20::ChaCha8Rng;
use rand::SeedableRng;
use rayon::prelude::*;
use serde::Serialize;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// Examples per chunk: the unit of parallel work whose gradients are summed in order.
/// Fixed (not derived from the thread count) so that results do not depend on it.
const CHUNK: usize = 16;

/// What happened in one epoch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochReport {
    /// 1-based.
    pub epoch: usize,
    /// Mean training loss over the epoch's examples.
    pub train_loss: f64,
    /// Mean validation loss after the epoch (`None` without a validation split).
    pub validation_loss: Option<f64>,
    /// Whether this epoch's weights are the best so far (and kept).
    pub best: bool,
    pub steps: usize,
    pub seconds: f64,
}

/// Progress of a training run, reported from the calling thread.
#[derive(Debug, Clone)]
pub enum Progress {
    /// Data ready; `steps_per_epoch` batches per epoch, at most `epochs` epochs.
    Started {
        epochs: usize,
        steps_per_epoch: usize,
        train_examples: usize,
        validation_examples: usize,
    },
    /// After each batch of the current epoch.
    Step {
        epoch: usize,
        step: usize,
        steps: usize,
        loss: f64,
    },
    Epoch(EpochReport),
    /// Training over; computing the user and item vectors.
    Finished,
}

/// The training summary written next to the recommendations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainSummary {
    pub interactions: usize,
    pub positive_events: usize,
    /// Distinct (user, track) positives.
    pub positives: usize,
    /// Users with at least one positive (the users that get recommendations).
    pub users: usize,
    pub tracks: usize,
    pub artists: usize,
    pub train_examples: usize,
    pub validation_examples: usize,
    pub epochs_run: usize,
    /// 1-based epoch whose weights were kept.
    pub best_epoch: usize,
    pub early_stopped: bool,
    pub epochs: Vec<EpochReport>,
    /// Wall time of training (data preparation, epochs, vectors), without top-k.
    pub seconds: f64,
    pub params: DssmParams,
}

pub(crate) fn train(
    interactions: &[Interaction],
    catalogue: &Catalogue,
    params: &DssmParams,
    progress: &dyn Fn(Progress),
    stop: &AtomicBool,
) -> Result<TrainedDssm, TrainError> {
    validate(params)?;
    let start = Instant::now();
    let data = data::build(interactions, catalogue, params)?;
    let mut weights = Weights::new(
        data.items.n_tracks(),
        data.items.n_artists,
        params.dim,
        params.init,
        params.seed,
    );
    let mut opt = AdamW::new(&weights, params.lr, params.weight_decay);
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed ^ 0x0E90_C45E_ED00_0003);

    let validation = Batch::draw(&data, &data.validation, params, &mut rng);
    let steps_per_epoch = data.train.len().div_ceil(params.batch_size);
    progress(Progress::Started {
        epochs: params.epochs,
        steps_per_epoch,
        train_examples: data.train.len(),
        validation_examples: data.validation.len(),
    });

    let mut order = data.train.clone();
    let mut reports: Vec<EpochReport> = Vec::new();
    let mut best: Option<(f64, usize, Weights)> = None;
    let mut early_stopped = false;
    for epoch in 1..=params.epochs {
        let t0 = Instant::now();
        data::shuffle(&mut order, &mut rng);
        let mut loss_sum = 0.0;
        for (step, examples) in order.chunks(params.batch_size).enumerate() {
            botify_sim_core::interrupt::check(stop)?;
            let batch = Batch::draw(&data, examples, params, &mut rng);
            let loss = batch.step(&data, &weights, &mut opt, params);
            opt.step(&mut weights);
            loss_sum += loss * examples.len() as f64;
            progress(Progress::Step {
                epoch,
                step: step + 1,
                steps: steps_per_epoch,
                loss,
            });
        }
        let train_loss = loss_sum / order.len() as f64;
        let validation_loss =
            (!data.validation.is_empty()).then(|| validation.loss(&data, &weights, params));
        if let Some(loss) = std::iter::once(train_loss)
            .chain(validation_loss)
            .find(|l| !l.is_finite())
        {
            return Err(TrainError::Degenerate(format!(
                "the loss is {loss} at epoch {epoch}: training diverged; {}",
                divergence_advice(params)
            )));
        }
        let improved = match (&best, validation_loss) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some((b, _, _)), Some(v)) => v < *b,
        };
        if improved && let Some(v) = validation_loss {
            best = Some((v, epoch, weights.clone()));
        }
        let report = EpochReport {
            epoch,
            train_loss,
            validation_loss,
            best: improved || validation_loss.is_none(),
            steps: steps_per_epoch,
            seconds: t0.elapsed().as_secs_f64(),
        };
        reports.push(report.clone());
        progress(Progress::Epoch(report));
        if let Some((_, best_epoch, _)) = &best
            && epoch - best_epoch >= params.patience
            && epoch < params.epochs
        {
            early_stopped = true;
            break;
        }
    }
    let epochs_run = reports.len();
    let best_epoch = match best {
        Some((_, e, w)) => {
            weights = w;
            e
        }
        None => epochs_run,
    };
    progress(Progress::Finished);

    let (user_vectors, item_vectors) = vectors(&data, &weights, params);
    for (side, vectors) in [("user", &user_vectors), ("track", &item_vectors)] {
        if vectors.iter().any(|v| !v.is_finite()) || vectors.iter().all(|v| *v == 0.0) {
            return Err(TrainError::Degenerate(format!(
                "the trained {side} vectors are all 0 or not finite, so every list would be empty; {}",
                divergence_advice(params)
            )));
        }
    }
    let summary = TrainSummary {
        interactions: data.n_interactions,
        positive_events: data.n_positive_events,
        positives: data.positives.tracks.len(),
        users: data.positives.n_users(),
        tracks: data.items.n_tracks(),
        artists: data.items.n_artists,
        train_examples: data.train.len(),
        validation_examples: data.validation.len(),
        epochs_run,
        best_epoch,
        early_stopped,
        epochs: reports,
        seconds: start.elapsed().as_secs_f64(),
        params: params.clone(),
    };
    Ok(TrainedDssm {
        dim: params.dim,
        users: data.positives.users.clone(),
        user_vectors,
        item_vectors,
        summary,
    })
}

/// The step sizes to lower after a diverged training: those set off their defaults (all
/// three, with their values, when none is).
fn divergence_advice(p: &DssmParams) -> String {
    let d = DssmParams::default();
    let all = [
        ("--lr", p.lr, d.lr),
        ("--weight-decay", p.weight_decay, d.weight_decay),
        ("--margin", p.margin, d.margin),
    ];
    let changed: Vec<String> = all
        .iter()
        .filter(|(_, value, default)| value != default)
        .map(|(flag, value, default)| format!("{flag} {value:?} (the default is {default:?})"))
        .collect();
    if changed.is_empty() {
        format!("lower --lr (it is {:?})", p.lr)
    } else {
        format!("lower {}", changed.join(" or "))
    }
}

fn validate(p: &DssmParams) -> Result<(), TrainError> {
    let bad = |m: String| Err(TrainError::InvalidParams(m));
    if p.dim == 0 {
        return bad("dim must be at least 1".into());
    }
    if p.negatives == 0 {
        return bad("negatives must be at least 1".into());
    }
    if p.batch_size == 0 {
        return bad("batch size must be at least 1".into());
    }
    if p.max_history == 0 {
        return bad("max history must be at least 1".into());
    }
    if !(0.0..1.0).contains(&p.validation_fraction) {
        return bad(format!(
            "validation fraction {} must be in [0, 1)",
            p.validation_fraction
        ));
    }
    for (name, v) in [
        ("learning rate", p.lr),
        ("weight decay", p.weight_decay),
        ("margin", p.margin),
    ] {
        if !v.is_finite() || v < 0.0 {
            return bad(format!("{name} {v} must be a finite number >= 0"));
        }
    }
    Ok(())
}

/// Examples with their histories and drawn negatives, laid out flat.
struct Batch {
    /// `len x (1 + negatives)`: positive then negatives.
    tracks: Vec<u32>,
    hist_offsets: Vec<usize>,
    hist: Vec<u32>,
    width: usize,
}

impl Batch {
    fn draw(data: &Dataset, examples: &[Example], p: &DssmParams, rng: &mut ChaCha8Rng) -> Self {
        let width = 1 + p.negatives;
        let mut tracks = Vec::with_capacity(examples.len() * width);
        let mut hist_offsets = Vec::with_capacity(examples.len() + 1);
        let mut hist = Vec::new();
        let mut h = Vec::new();
        hist_offsets.push(0);
        for e in examples {
            tracks.push(e.track);
            data::draw_negatives(e.track, p.negatives, &data.negative_cdf, rng, &mut tracks);
            data.positives
                .history_into(e.user as usize, Some(e.track), p.max_history, &mut h);
            hist.extend_from_slice(&h);
            hist_offsets.push(hist.len());
        }
        Self {
            tracks,
            hist_offsets,
            hist,
            width,
        }
    }

    fn len(&self) -> usize {
        self.hist_offsets.len() - 1
    }

    fn example(&self, i: usize) -> (&[u32], &[u32]) {
        (
            &self.hist[self.hist_offsets[i]..self.hist_offsets[i + 1]],
            &self.tracks[i * self.width..(i + 1) * self.width],
        )
    }

    /// Mean loss of the batch; its gradient summed into the optimiser in chunk order.
    fn step(&self, data: &Dataset, w: &Weights, opt: &mut AdamW, p: &DssmParams) -> f64 {
        let n = self.len();
        let scale = 1.0 / n as f32;
        let chunks: Vec<(f64, Grad)> = (0..n.div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| {
                let mut g = Grad::new(w.d);
                let mut s = Scratch::new(w.d);
                let mut loss = 0.0;
                for i in c * CHUNK..((c + 1) * CHUNK).min(n) {
                    let (h, t) = self.example(i);
                    loss += f64::from(model::example(
                        w,
                        &data.items,
                        h,
                        t,
                        p.margin,
                        scale,
                        &mut s,
                        Some(&mut g),
                    ));
                }
                (loss, g)
            })
            .collect();
        let mut loss = 0.0;
        for (l, g) in &chunks {
            loss += l;
            opt.accumulate(g);
        }
        loss / n as f64
    }

    /// Mean loss, no gradient (summed in example order).
    fn loss(&self, data: &Dataset, w: &Weights, p: &DssmParams) -> f64 {
        let n = self.len();
        let losses: Vec<f64> = (0..n.div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| {
                let mut s = Scratch::new(w.d);
                (c * CHUNK..((c + 1) * CHUNK).min(n))
                    .map(|i| {
                        let (h, t) = self.example(i);
                        f64::from(model::example(
                            w,
                            &data.items,
                            h,
                            t,
                            p.margin,
                            1.0,
                            &mut s,
                            None,
                        ))
                    })
                    .sum::<f64>()
            })
            .collect();
        losses.iter().sum::<f64>() / n as f64
    }
}

/// Normalised vectors of every user with a positive (from their latest positives) and of
/// every track.
fn vectors(data: &Dataset, w: &Weights, p: &DssmParams) -> (Vec<f32>, Vec<f32>) {
    let d = w.d;
    let mut users = vec![0.0; data.positives.n_users() * d];
    users.par_chunks_mut(d).enumerate().for_each_init(
        || (Scratch::new(d), Vec::new()),
        |(s, h), (u, out)| {
            data.positives.history_into(u, None, p.max_history, h);
            model::user_vector(w, &data.items, h, s, out);
        },
    );
    let mut items = vec![0.0; data.items.n_tracks() * d];
    items
        .par_chunks_mut(d)
        .enumerate()
        .for_each(|(t, out)| model::item_vector(w, &data.items, t as u32, out));
    (users, items)
}
