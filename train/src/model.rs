//! Parameters of the two towers, their initialisation, and the per-example forward and
//! backward passes (hand-written, `f32`).
//!
//! Layout: three embedding tables (`TRACK`, `ARTIST`, `POP`, each `rows x d`, row-major,
//! shared by both towers: a history track is embedded by the item tower) and one dense block `[W (d x d) | b (d) | P (d x 2d)]`, row-major, so that
//! `W[i][j] = dense[i * d + j]` and `P[i][j] = dense[d * d + d + i * 2d + j]`.

use super::data::{ItemFeatures, N_POP_BUCKETS};
use super::{InitKind, InitScheme};
use chacha20::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rustc_hash::FxBuildHasher;
use std::collections::HashMap;

pub(crate) const TRACK: usize = 0;
pub(crate) const ARTIST: usize = 1;
pub(crate) const POP: usize = 2;
pub const N_TABLES: usize = 3;

/// Scale of the track and popularity tables' initial rows relative to the artist table's.
///
/// A track's vector is `T + A + Q`; most tracks are played a handful of times or never,
/// so their `T` row barely moves from its initial value. At full scale that random row
/// hides the artist row and a user who loved one track of an artist is not shown the
/// artist's other tracks (measured on the seminar logs: 17 % of the top-100 by artists
/// of the user's positives at scale 1, 42 % at 0.1). Small initial `T` and `Q` make an
/// unseen track start as its artist, and what the log teaches about the track is
/// learned on top.
const TRACK_INIT_SCALE: f32 = 0.1;

/// Norms below this are clamped (the gradient then treats the norm as constant).
const NORM_EPS: f32 = 1e-6;

/// All trainable weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    pub d: usize,
    pub tables: [Vec<f32>; N_TABLES],
    pub dense: Vec<f32>,
}

pub(crate) fn dense_len(d: usize) -> usize {
    d * d + d + 2 * d * d
}

impl Weights {
    pub fn new(n_tracks: usize, n_artists: usize, d: usize, init: InitScheme, seed: u64) -> Self {
        let seed = init.seed.unwrap_or(seed ^ 0x1417_5EED_0000_0002);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let rows = [n_tracks, n_artists, N_POP_BUCKETS];
        let emb_std = match init.kind {
            InitKind::Normal => 0.1,
            InitKind::Xavier | InitKind::Identity => 1.0 / (d as f32).sqrt(),
        };
        let scales = [TRACK_INIT_SCALE, 1.0, TRACK_INIT_SCALE];
        let mut i = 0;
        let tables = rows.map(|r| {
            let std = emb_std * scales[i];
            i += 1;
            (0..r * d).map(|_| std * normal(&mut rng)).collect()
        });
        let mut dense = vec![0.0; dense_len(d)];
        let (w, rest) = dense.split_at_mut(d * d);
        let (_b, p) = rest.split_at_mut(d);
        match init.kind {
            InitKind::Normal => {
                w.iter_mut().for_each(|x| *x = 0.1 * normal(&mut rng));
                p.iter_mut().for_each(|x| *x = 0.1 * normal(&mut rng));
            }
            InitKind::Xavier => {
                glorot(w, d, d, &mut rng);
                glorot(p, 2 * d, d, &mut rng);
            }
            InitKind::Identity => {
                // The skip connection already passes `m` through: a small `P` makes the
                // user vector start as the plain bag of its history.
                glorot(w, d, d, &mut rng);
                glorot(p, 2 * d, d, &mut rng);
                p.iter_mut().for_each(|x| *x *= 0.1);
            }
        }
        Self { d, tables, dense }
    }

    pub fn w(&self) -> &[f32] {
        &self.dense[..self.d * self.d]
    }
    pub fn b(&self) -> &[f32] {
        &self.dense[self.d * self.d..self.d * self.d + self.d]
    }
    pub fn p(&self) -> &[f32] {
        &self.dense[self.d * self.d + self.d..]
    }

    pub fn row(&self, table: usize, row: u32) -> &[f32] {
        let d = self.d;
        &self.tables[table][row as usize * d..(row as usize + 1) * d]
    }

    /// Un-normalised item-tower output `x` of a track, written into `out`.
    pub fn item_raw(&self, items: &ItemFeatures, track: u32, out: &mut [f32]) {
        let t = self.row(TRACK, track);
        let a = self.row(ARTIST, items.artist_of[track as usize]);
        let q = self.row(POP, items.pop_bucket[track as usize]);
        for i in 0..self.d {
            out[i] = t[i] + a[i] + q[i];
        }
    }
}

fn normal(rng: &mut ChaCha8Rng) -> f32 {
    // Box-Muller; u1 in (0, 1].
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

fn glorot(w: &mut [f32], fan_in: usize, fan_out: usize, rng: &mut ChaCha8Rng) {
    let a = (6.0 / (fan_in + fan_out) as f64).sqrt();
    w.iter_mut()
        .for_each(|x| *x = ((rng.random::<f64>() * 2.0 - 1.0) * a) as f32);
}

/// Dot product with 8 independent accumulators (vectorises; the same order everywhere).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// `y += a * x`.
#[inline]
pub(crate) fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// Normalises `x` into `out` and returns the (clamped) norm.
#[inline]
pub(crate) fn normalize_into(x: &[f32], out: &mut [f32]) -> f32 {
    let n = dot(x, x).sqrt().max(NORM_EPS);
    for (o, v) in out.iter_mut().zip(x) {
        *o = v / n;
    }
    n
}

/// Gradient of a chunk of examples: dense block plus the touched embedding rows, in
/// order of first touch.
pub struct Grad {
    d: usize,
    pub dense: Vec<f32>,
    index: HashMap<(usize, u32), usize, FxBuildHasher>,
    /// `(table, row)` per touched row, in order of first touch.
    pub keys: Vec<(usize, u32)>,
    /// `keys.len() x d` row gradients.
    pub rows: Vec<f32>,
}

impl Grad {
    pub fn new(d: usize) -> Self {
        Self {
            d,
            dense: vec![0.0; dense_len(d)],
            index: HashMap::default(),
            keys: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// `grad[table][row] += a * x`.
    #[inline]
    fn add_row(&mut self, table: usize, row: u32, a: f32, x: &[f32]) {
        let d = self.d;
        let next = self.keys.len();
        let slot = *self.index.entry((table, row)).or_insert(next);
        if slot == next {
            self.keys.push((table, row));
            self.rows.resize(self.rows.len() + d, 0.0);
        }
        axpy(a, x, &mut self.rows[slot * d..(slot + 1) * d]);
    }

    pub fn row_grad(&self, slot: usize) -> &[f32] {
        &self.rows[slot * self.d..(slot + 1) * self.d]
    }
}

/// Per-thread buffers of one example's passes.
pub struct Scratch {
    m: Vec<f32>,
    z: Vec<f32>,
    c: Vec<f32>,
    uraw: Vec<f32>,
    u: Vec<f32>,
    g_u: Vec<f32>,
    g_c: Vec<f32>,
    tmp: Vec<f32>,
    /// `items x d` normalised item vectors.
    v: Vec<f32>,
    vnorm: Vec<f32>,
    s: Vec<f32>,
    gs: Vec<f32>,
}

impl Scratch {
    pub fn new(d: usize) -> Self {
        Self {
            m: vec![0.0; d],
            z: vec![0.0; d],
            c: vec![0.0; 2 * d],
            uraw: vec![0.0; d],
            u: vec![0.0; d],
            g_u: vec![0.0; d],
            g_c: vec![0.0; 2 * d],
            tmp: vec![0.0; d],
            v: Vec::new(),
            vnorm: Vec::new(),
            s: Vec::new(),
            gs: Vec::new(),
        }
    }
}

/// User tower: the normalised user vector of a (non-empty) history, into `s.u`;
/// returns the norm of the projection.
///
/// `m` is the mean of the history tracks' *item-tower* vectors `T + A + Q` (not of a
/// separate history table): what is learned about a track or its artist from any user
/// serves every user who played it, and a user who loved one track of an artist is close
/// to the artist's other tracks before any of them was a target. With a separate table
/// each history row was trained by the few users who played that track, and the model
/// learned little beyond popularity (its top-100 had 1 % of tracks by the artists of the
/// user's positives, and mean play counts near top-pop's).
///
/// `uraw = m + P [m ; relu(W m + b)]`: the skip term keeps the bag of the history as the
/// starting point whatever the initialisation (`normal` and `xavier` init a `P` that
/// would otherwise scramble `m`); the layers learn a correction to it.
fn user_forward(w: &Weights, items: &ItemFeatures, history: &[u32], s: &mut Scratch) -> f32 {
    let d = w.d;
    s.m.fill(0.0);
    for &h in history {
        w.item_raw(items, h, &mut s.tmp);
        axpy(1.0, &s.tmp, &mut s.m);
    }
    let inv = 1.0 / history.len().max(1) as f32;
    s.m.iter_mut().for_each(|x| *x *= inv);
    let (wm, b, p) = (w.w(), w.b(), w.p());
    for i in 0..d {
        s.z[i] = dot(&wm[i * d..(i + 1) * d], &s.m) + b[i];
    }
    s.c[..d].copy_from_slice(&s.m);
    for i in 0..d {
        s.c[d + i] = s.z[i].max(0.0);
    }
    for i in 0..d {
        s.uraw[i] = dot(&p[i * 2 * d..(i + 1) * 2 * d], &s.c) + s.m[i];
    }
    normalize_into(&s.uraw, &mut s.u)
}

/// The normalised user vector of a history.
pub fn user_vector(
    w: &Weights,
    items: &ItemFeatures,
    history: &[u32],
    s: &mut Scratch,
    out: &mut [f32],
) {
    user_forward(w, items, history, s);
    out.copy_from_slice(&s.u);
}

/// The normalised item vector of a track.
pub fn item_vector(w: &Weights, items: &ItemFeatures, track: u32, out: &mut [f32]) {
    let mut x = vec![0.0; w.d];
    w.item_raw(items, track, &mut x);
    normalize_into(&x, out);
}

/// Loss of one example (mean over its negatives) and, if `grad` is given, `scale` times
/// its gradient added to `grad`. `tracks[0]` is the positive, the rest the negatives;
/// `history` must not be empty.
#[allow(clippy::too_many_arguments)]
pub fn example(
    w: &Weights,
    items: &ItemFeatures,
    history: &[u32],
    tracks: &[u32],
    margin: f32,
    scale: f32,
    s: &mut Scratch,
    grad: Option<&mut Grad>,
) -> f32 {
    let d = w.d;
    let n = tracks.len();
    let k = (n - 1) as f32;
    let unorm = user_forward(w, items, history, s);

    s.v.resize(n * d, 0.0);
    s.vnorm.resize(n, 0.0);
    s.s.resize(n, 0.0);
    for (j, &t) in tracks.iter().enumerate() {
        w.item_raw(items, t, &mut s.tmp);
        s.vnorm[j] = normalize_into(&s.tmp, &mut s.v[j * d..(j + 1) * d]);
        s.s[j] = dot(&s.u, &s.v[j * d..(j + 1) * d]);
    }
    let mut loss = 0.0;
    // d loss / d s_j.
    let mut gs = std::mem::take(&mut s.gs);
    gs.clear();
    gs.resize(n, 0.0);
    for j in 1..n {
        let l = margin - s.s[0] + s.s[j];
        if l > 0.0 {
            loss += l;
            gs[0] -= scale / k;
            gs[j] += scale / k;
        }
    }
    let loss = loss / k;
    if let Some(g) = grad
        && gs.iter().any(|&x| x != 0.0)
    {
        backward(w, items, history, tracks, unorm, &gs, s, g);
    }
    s.gs = gs;
    loss
}

#[allow(clippy::too_many_arguments)]
fn backward(
    w: &Weights,
    items: &ItemFeatures,
    history: &[u32],
    tracks: &[u32],
    unorm: f32,
    gs: &[f32],
    s: &mut Scratch,
    g: &mut Grad,
) {
    let d = w.d;
    let n = tracks.len();

    // Item tower: v_j = x_j / |x_j|, d s_j / d x_j = (u - s_j v_j) / |x_j|.
    s.g_u.fill(0.0);
    for j in 0..n {
        if gs[j] == 0.0 {
            continue;
        }
        let vj = &s.v[j * d..(j + 1) * d];
        axpy(gs[j], vj, &mut s.g_u);
        let a = gs[j] / s.vnorm[j];
        for ((t, &u), &v) in s.tmp.iter_mut().zip(&s.u).zip(vj) {
            *t = (u - s.s[j] * v) * a;
        }
        let t = tracks[j];
        g.add_row(TRACK, t, 1.0, &s.tmp);
        g.add_row(ARTIST, items.artist_of[t as usize], 1.0, &s.tmp);
        g.add_row(POP, items.pop_bucket[t as usize], 1.0, &s.tmp);
    }

    // User tower, backwards: u = uraw / |uraw|.
    let ug = dot(&s.u, &s.g_u);
    for i in 0..d {
        s.tmp[i] = (s.g_u[i] - s.u[i] * ug) / unorm; // d loss / d uraw
    }
    let (wm, p) = (w.w(), w.p());
    let (gw, rest) = g.dense.split_at_mut(d * d);
    let (gb, gp) = rest.split_at_mut(d);
    // uraw = P c + m
    s.g_c.fill(0.0);
    s.g_c[..d].copy_from_slice(&s.tmp);
    for i in 0..d {
        let gi = s.tmp[i];
        if gi != 0.0 {
            axpy(gi, &s.c, &mut gp[i * 2 * d..(i + 1) * 2 * d]);
            axpy(gi, &p[i * 2 * d..(i + 1) * 2 * d], &mut s.g_c);
        }
    }
    // c = [m ; relu(z)], z = W m + b; s.g_c[..d] becomes d loss / d m.
    let (g_m, g_a) = s.g_c.split_at_mut(d);
    for i in 0..d {
        if s.z[i] > 0.0 {
            let gz = g_a[i];
            gb[i] += gz;
            axpy(gz, &s.m, &mut gw[i * d..(i + 1) * d]);
            axpy(gz, &wm[i * d..(i + 1) * d], g_m);
        }
    }
    // m = mean over the history of T[h] + A[artist(h)] + Q[bucket(h)].
    let inv = 1.0 / history.len() as f32;
    for &h in history {
        g.add_row(TRACK, h, inv, g_m);
        g.add_row(ARTIST, items.artist_of[h as usize], inv, g_m);
        g.add_row(POP, items.pop_bucket[h as usize], inv, g_m);
    }
}
