//! AdamW: dense for the dense block, lazy (touched rows only) for the embedding tables.
//!
//! Gradients of a step arrive as chunk gradients ([`Grad`]) and are summed into
//! full-size buffers in chunk order (deterministic whatever thread computed which chunk);
//! only the touched rows are updated and zeroed afterwards.

use super::model::{Grad, N_TABLES, Weights};

pub const BETA1: f32 = 0.9;
pub const BETA2: f32 = 0.999;
const EPS: f32 = 1e-8;

struct Moments {
    m: Vec<f32>,
    v: Vec<f32>,
    g: Vec<f32>,
}

impl Moments {
    fn new(len: usize) -> Self {
        Self {
            m: vec![0.0; len],
            v: vec![0.0; len],
            g: vec![0.0; len],
        }
    }
}

struct Table {
    moments: Moments,
    touched: Vec<u32>,
    mark: Vec<bool>,
}

pub(crate) struct AdamW {
    pub lr: f32,
    pub weight_decay: f32,
    step: i32,
    d: usize,
    dense: Moments,
    tables: Vec<Table>,
}

impl AdamW {
    pub fn new(w: &Weights, lr: f32, weight_decay: f32) -> Self {
        Self {
            lr,
            weight_decay,
            step: 0,
            d: w.d,
            dense: Moments::new(w.dense.len()),
            tables: w
                .tables
                .iter()
                .map(|t| Table {
                    moments: Moments::new(t.len()),
                    touched: Vec::new(),
                    mark: vec![false; t.len() / w.d],
                })
                .collect(),
        }
    }

    /// Adds a chunk's gradient (call in a fixed chunk order).
    pub fn accumulate(&mut self, g: &Grad) {
        for (a, b) in self.dense.g.iter_mut().zip(&g.dense) {
            *a += b;
        }
        let d = self.d;
        for (slot, &(table, row)) in g.keys.iter().enumerate() {
            let t = &mut self.tables[table];
            let r = row as usize;
            if !t.mark[r] {
                t.mark[r] = true;
                t.touched.push(row);
            }
            for (a, b) in t.moments.g[r * d..(r + 1) * d]
                .iter_mut()
                .zip(g.row_grad(slot))
            {
                *a += b;
            }
        }
    }

    /// One AdamW step over the accumulated gradient, which is then cleared.
    pub fn step(&mut self, w: &mut Weights) {
        self.step += 1;
        let h = Hyper {
            lr: self.lr,
            wd: self.weight_decay,
            bc1: 1.0 - BETA1.powi(self.step),
            bc2: 1.0 - BETA2.powi(self.step),
        };
        let d = self.d;
        let [track, rest @ ..] = w.tables.each_mut();
        let (t_track, t_rest) = self.tables.split_at_mut(1);
        let dense_w = &mut w.dense;
        let dense_m = &mut self.dense;
        // The track table is the biggest: update it while the others are updated.
        rayon::join(
            || update_table(track, &mut t_track[0], d, &h),
            || {
                for (wt, t) in rest.into_iter().zip(t_rest.iter_mut()) {
                    update_table(wt, t, d, &h);
                }
                update(dense_w, dense_m, &h);
                dense_m.g.fill(0.0);
            },
        );
    }
}

pub struct Hyper {
    pub lr: f32,
    pub wd: f32,
    pub bc1: f32,
    pub bc2: f32,
}

fn update_table(w: &mut [f32], t: &mut Table, d: usize, h: &Hyper) {
    for &row in &t.touched {
        let r = row as usize * d..(row as usize + 1) * d;
        update_slices(
            &mut w[r.clone()],
            &mut t.moments.m[r.clone()],
            &mut t.moments.v[r.clone()],
            &mut t.moments.g[r],
            h,
        );
        t.mark[row as usize] = false;
    }
    t.touched.clear();
}

fn update(w: &mut [f32], mo: &mut Moments, h: &Hyper) {
    update_slices(w, &mut mo.m, &mut mo.v, &mut mo.g, h);
}

/// AdamW on one slice; zeroes the gradient.
pub fn update_slices(w: &mut [f32], m: &mut [f32], v: &mut [f32], g: &mut [f32], h: &Hyper) {
    for i in 0..w.len() {
        let gi = g[i];
        m[i] = BETA1 * m[i] + (1.0 - BETA1) * gi;
        v[i] = BETA2 * v[i] + (1.0 - BETA2) * gi * gi;
        let mhat = m[i] / h.bc1;
        let vhat = v[i] / h.bc2;
        w[i] -= h.lr * (h.wd * w[i] + mhat / (vhat.sqrt() + EPS));
        g[i] = 0.0;
    }
}

// `N_TABLES` documents the shape `each_mut` destructures above.
const _: () = assert!(N_TABLES == 3);
