//! Implicit-feedback matrix factorisation by weighted alternating least squares (Hu,
//! Koren and Volinsky 2008), for per-user lists (`sim train mf`; the course's LightFM arm).
//!
//! - **Data**: `r[u][i]` = the number of plays of track `i` by user `u` with
//!   `time > positive_threshold` (the first track of a session, reported as 1.0, counts:
//!   it was played). Preference `p = 1` where `r > 0`, else 0; confidence
//!   `c = 1 + alpha * r`.
//! - **Loss**: `sum over all (u, i) of c (p - x_u . y_i)^2 + reg (|x|^2 + |y|^2)`.
//! - **Step** (one half-iteration, users given items; items given users the same way):
//!   `x_u = (YᵀY + Σ_{i ∈ I_u} (c_ui - 1) y_i y_iᵀ + reg I)⁻¹ Σ_{i ∈ I_u} c_ui y_i`,
//!   solved by Cholesky. `YᵀY` is summed over fixed chunks of rows, added in chunk order;
//!   every row's solve is independent: the result does not depend on the thread count.
//! - **Lists**: the `top_k` tracks with the largest `x_u . y_i` for every user with a
//!   positive (exact search, ties by lower id).
//!
//! Why ALS rather than a BPR/WARP ranking loss: each step is a closed-form solve (no
//! learning rate or sampling to tune), rows are independent (parallel and deterministic
//! for free), and a few iterations converge. BPR was not tried. Measured instead, the
//! factors (`experiments/course_table.yml`'s T3 recipe, ratio to random of time per
//! session without the first track at 3,000 episodes per arm, ± about 0.1; fit time of
//! `sim train mf` on the log of `sim run --experiment experiments/seminar.yml --episodes
//! 20000 --seed 1`, load average 11 on 2 cores):
//! dim 16: 1.67, 30 s; dim 32 (default): 1.54, 43 s; dim 64: 2.07, 93 s. 32 stays: it
//! gives 1.78 at 20,000 episodes per arm (the course's LightFM: 1.85), while 64 costs twice
//! the time and closes the gap to the diversified contextual arm (course 2.22).

use super::{Interaction, TrainError};
use chacha20::ChaCha8Rng;
use rand::SeedableRng;
use rayon::prelude::*;
use std::collections::HashMap;

/// Rows summed per chunk of the Gram matrix (a fixed size: the sum's order is fixed).
const GRAM_CHUNK: usize = 1024;

/// Hyper-parameters of [`train_mf`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MfParams {
    pub top_k: usize,
    /// Factors per user and per track.
    pub dim: usize,
    /// Alternating iterations (users, then tracks).
    pub iterations: usize,
    /// L2 regularisation of every factor.
    pub reg: f64,
    /// Confidence per positive play.
    pub alpha: f64,
    /// A play is positive when `time > positive_threshold`.
    pub positive_threshold: f32,
    /// Seed of the initial factors.
    pub seed: u64,
}

impl Default for MfParams {
    fn default() -> Self {
        Self {
            top_k: 100,
            dim: 32,
            iterations: 8,
            reg: 0.1,
            alpha: 20.0,
            positive_threshold: 0.8,
            seed: 0,
        }
    }
}

/// Counters of one training run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct MfSummary {
    pub interactions: usize,
    /// Distinct positive (user, track) pairs.
    pub positives: usize,
    pub users: usize,
    pub tracks: usize,
}

/// Trained factors: users with a positive, in increasing id order.
pub struct MfModel {
    pub dim: usize,
    pub users: Vec<u32>,
    /// `users.len() x dim`.
    pub user_factors: Vec<f32>,
    /// `n_tracks x dim`.
    pub item_factors: Vec<f32>,
    pub summary: MfSummary,
}

impl MfModel {
    /// The `top_k` best tracks of every user, best first.
    pub fn recommendations(&self, top_k: usize) -> Vec<(u32, Vec<u32>)> {
        let lists =
            botify_sim_core::topk::top_k(&self.user_factors, &self.item_factors, self.dim, top_k);
        self.users.iter().copied().zip(lists).collect()
    }
}

/// Sparse rows: for each row, its (column, plays) entries.
type Rows = Vec<Vec<(u32, f32)>>;

/// Fits the factors on the interactions of a catalogue of `n_tracks` tracks.
pub fn train_mf(
    interactions: &[Interaction],
    n_tracks: usize,
    params: &MfParams,
) -> Result<MfModel, TrainError> {
    for (name, value) in [("dim", params.dim), ("iterations", params.iterations)] {
        if value == 0 {
            return Err(TrainError::InvalidParams(format!(
                "{name} must be at least 1, got 0"
            )));
        }
    }
    if !(params.reg > 0.0 && params.reg.is_finite()) {
        return Err(TrainError::InvalidParams(format!(
            "reg must be a finite number > 0, got {}",
            params.reg
        )));
    }
    if !(params.alpha >= 0.0 && params.alpha.is_finite()) {
        return Err(TrainError::InvalidParams(format!(
            "alpha must be a finite number >= 0, got {}",
            params.alpha
        )));
    }
    if interactions.is_empty() {
        return Err(TrainError::EmptyLog);
    }
    let mut counts: HashMap<(u32, u32), f32> = HashMap::new();
    for (index, i) in interactions.iter().enumerate() {
        if i.track as usize >= n_tracks {
            return Err(TrainError::TrackOutOfRange {
                index,
                user: i.user,
                track: i.track,
                n_tracks,
            });
        }
        if i.time > params.positive_threshold {
            *counts.entry((i.user, i.track)).or_default() += 1.0;
        }
    }
    if counts.is_empty() {
        return Err(TrainError::NoPositives {
            events: interactions.len(),
            threshold: params.positive_threshold,
        });
    }
    let mut pairs: Vec<((u32, u32), f32)> = counts.into_iter().collect();
    pairs.sort_by_key(|(key, _)| *key);
    let mut users: Vec<u32> = pairs.iter().map(|((u, _), _)| *u).collect();
    users.dedup();
    let mut by_user: Rows = vec![Vec::new(); users.len()];
    let mut by_item: Rows = vec![Vec::new(); n_tracks];
    let mut row = 0;
    for &((user, track), plays) in &pairs {
        while users[row] != user {
            row += 1;
        }
        by_user[row].push((track, plays));
        by_item[track as usize].push((row as u32, plays));
    }

    let d = params.dim;
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let mut init = |n: usize| -> Vec<f64> {
        use rand::RngExt;
        (0..n * d)
            .map(|_| (rng.random::<f64>() - 0.5) * 0.2 / (d as f64).sqrt())
            .collect()
    };
    let mut x = init(users.len());
    let mut y = init(n_tracks);
    for _ in 0..params.iterations {
        x = solve_rows(&by_user, &y, d, params);
        y = solve_rows(&by_item, &x, d, params);
    }
    let user_factors: Vec<f32> = x.iter().map(|v| *v as f32).collect();
    let item_factors: Vec<f32> = y.iter().map(|v| *v as f32).collect();
    for (side, factors) in [("user", &user_factors), ("track", &item_factors)] {
        if factors.iter().any(|v| !v.is_finite()) || factors.iter().all(|v| *v == 0.0) {
            return Err(TrainError::Degenerate(format!(
                "the {side} factors are all 0 or not finite, so every list would be the id order: --reg {:?} is too large for these logs (the default is {:?}); lower it",
                params.reg,
                MfParams::default().reg
            )));
        }
    }
    Ok(MfModel {
        dim: d,
        summary: MfSummary {
            interactions: interactions.len(),
            positives: pairs.len(),
            users: users.len(),
            tracks: n_tracks,
        },
        users,
        user_factors,
        item_factors,
    })
}

/// One half-iteration: every row's factors given the other side's `fixed` factors.
fn solve_rows(rows: &Rows, fixed: &[f64], d: usize, params: &MfParams) -> Vec<f64> {
    let gram = gram(fixed, d);
    rows.par_iter()
        .flat_map_iter(|entries| solve_row(entries, fixed, &gram, d, params))
        .collect()
}

/// `FᵀF` of the `n x d` matrix `f`, summed over fixed chunks in chunk order.
pub fn gram(f: &[f64], d: usize) -> Vec<f64> {
    let partials: Vec<Vec<f64>> = f
        .par_chunks(GRAM_CHUNK * d)
        .map(|chunk| {
            let mut g = vec![0.0; d * d];
            for row in chunk.chunks_exact(d) {
                for a in 0..d {
                    for b in 0..d {
                        g[a * d + b] += row[a] * row[b];
                    }
                }
            }
            g
        })
        .collect();
    let mut g = vec![0.0; d * d];
    for p in partials {
        g.iter_mut().zip(p).for_each(|(s, v)| *s += v);
    }
    g
}

/// The weighted least-squares solution of one row (see the module doc): the core step.
pub fn solve_row(
    entries: &[(u32, f32)],
    fixed: &[f64],
    gram: &[f64],
    d: usize,
    params: &MfParams,
) -> Vec<f64> {
    // Without entries the right-hand side is 0, so the solution is exactly 0. Most tracks
    // have no positive play (20,000 seminar episodes: plays of fewer than 24,000 of 50,000
    // tracks); skipping their d³ solve took a dim-32 fit from 127 s to 43 s, same bytes.
    if entries.is_empty() {
        return vec![0.0; d];
    }
    let mut a = gram.to_vec();
    let mut b = vec![0.0; d];
    for &(col, plays) in entries {
        let c = 1.0 + params.alpha * plays as f64;
        let v = &fixed[col as usize * d..(col as usize + 1) * d];
        for p in 0..d {
            b[p] += c * v[p];
            for q in 0..d {
                a[p * d + q] += (c - 1.0) * v[p] * v[q];
            }
        }
    }
    for p in 0..d {
        a[p * d + p] += params.reg;
    }
    cholesky_solve(&mut a, &mut b, d);
    b
}

/// Solves `A z = b` in place for a symmetric positive definite `A` (`d x d`, row major):
/// `b` becomes `z`. `A` is positive definite here because `reg > 0`.
fn cholesky_solve(a: &mut [f64], b: &mut [f64], d: usize) {
    // A = L Lᵀ, L stored in the lower triangle of `a`.
    for j in 0..d {
        let mut diag = a[j * d + j];
        for k in 0..j {
            diag -= a[j * d + k] * a[j * d + k];
        }
        let diag = diag.sqrt();
        a[j * d + j] = diag;
        for i in j + 1..d {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= a[i * d + k] * a[j * d + k];
            }
            a[i * d + j] = s / diag;
        }
    }
    for i in 0..d {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i * d + k] * b[k];
        }
        b[i] = s / a[i * d + i];
    }
    for i in (0..d).rev() {
        let mut s = b[i];
        for k in i + 1..d {
            s -= a[k * d + i] * b[k];
        }
        b[i] = s / a[i * d + i];
    }
}
