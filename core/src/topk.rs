//! Exact top-k by inner product, parallel over blocks of queries: the first-track
//! neighbourhoods of the world and the two-tower model's recommendations both use it.
//!
//! Two passes per block of [`QUERY_BLOCK`] queries. First, the block times tiles of
//! [`ITEM_TILE`] items through `matrixmultiply::sgemm` (a blocked, SIMD, FMA matrix
//! product) gives approximate scores; a query keeps every item whose approximate score is
//! within `2 * margin` of its k-th best, where `margin` bounds the rounding error of any
//! f32 summation order (|error| <= gamma_d * sum |q_i x_i| <= gamma_d * |q| * |x|, with
//! gamma_d = d u / (1 - d u), u = 2^-24). No item of the exact top k can fall outside that
//! band. Second, the kept items are scored again with the reference sum ([`score`]: the
//! dimensions in order, no FMA) and ranked by it, ties to the lower id. So the result is
//! the exact top k of [`score`], whatever the blocking, the number of threads, or the
//! SIMD width and FMA support of the CPU.
//!
//! Why `matrixmultiply` (measured, 2026-11-29): the block product alone, as above (64
//! queries x 512-track tiles x 32 dims, f32), 9,047 x 50,000 x 32 = 29 GFLOP, through
//! `matrixmultiply` 0.3.11, `gemm` 0.19.0 and `faer` 0.24.4 (default features off but
//! `std`, `rayon`; each called single-threaded per block, rayon over blocks) in a scratch
//! project under /tmp. The machine never got below load 8 (four engineers on 2 cores), so
//! wall times were useless; the figure is GFLOP per CPU second of the process (utime +
//! stime), best of 2, 1 / 2 threads:
//!
//! | block x tile | matrixmultiply | gemm        | faer        |
//! | ------------ | -------------- | ----------- | ----------- |
//! | 64 x 512     | 40.8 / 38.1    | 38.6 / 45.2 | 43.9 / 46.0 |
//! | 128 x 1024   | 42.0 / 43.2    | 50.8 / 49.1 | 48.3 / 55.7 |
//! | 256 x 4096   | 36.2 / 37.6    | 49.1 / 49.1 | 60.3 / 57.9 |
//!
//! A core's peak (Zen 3 EPYC at 2.45 GHz, AVX2 + FMA: 2 FMA pipes x 8 f32 x 2 flop per
//! cycle) is 78.4 GFLOP/s (157 for 2 cores): at the shapes used here all three reach
//! 49-59 % of it per CPU second; with 32 dims the product is bound by packing and by
//! writing the scores, not by the FMA units, and the crates differ by less than the
//! run-to-run noise (~10 %). Larger blocks would favour `faer` by up to 1.6x on the
//! product alone, but the scan of the scores and the exact rescoring cost the same with
//! any crate, and larger score blocks leave the L2 cache. Clean build cost of that
//! project (CPU seconds, `cargo build --release`): rayon alone 16 s, + `matrixmultiply`
//! 22 s, + `gemm` 76 s; `faer` more (it depends on `gemm`, `nano-gemm` and `pulp`).
//! `matrixmultiply` builds the fastest of the three and is a direct dependency of this
//! crate (its only user: statrs is built without nalgebra), so it stays: no crate wins by
//! a margin that pays for its build minutes.
//! The whole search through `sim bench` (its `exact neighbour search` line):
//! docs/PERFORMANCE.md, "Inside one process".

use crate::interrupt::{self, Interrupted};
use rayon::prelude::*;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::AtomicBool;

const QUERY_BLOCK: usize = 64;
/// Items per tile: the block's scores of a tile (`QUERY_BLOCK x ITEM_TILE` floats,
/// 128 KiB) stay in the L2 cache between the product and the scan.
pub const ITEM_TILE: usize = 512;

/// The inner product exactly as the search ranks it: a plain sum over the dimensions in
/// order (the same float operations as the search always did).
pub fn score(u: &[f32], v: &[f32]) -> f32 {
    u.iter().zip(v).fold(0.0, |acc, (a, b)| acc + a * b)
}

/// An f32 as an integer of the same total order (`f32::total_cmp`).
pub fn order_key(x: f32) -> i32 {
    let bits = x.to_bits() as i32;
    bits ^ (((bits >> 31) as u32) >> 1) as i32
}

/// Items laid out for the search, built once and searched many times.
#[derive(Debug)]
pub struct InnerProductIndex {
    /// Row-major, `dim` floats per item.
    items: Vec<f32>,
    n_items: usize,
    dim: usize,
    /// The largest Euclidean norm of an item (for the rounding bound).
    max_norm: f64,
}

impl InnerProductIndex {
    /// `items`: row-major, `dim` floats per item.
    pub fn new(items: &[f32], dim: usize) -> InnerProductIndex {
        let n_items = items.len().checked_div(dim).unwrap_or(0);
        let max_norm = items.chunks_exact(dim.max(1)).map(norm).fold(0.0, f64::max);
        InnerProductIndex {
            items: items[..n_items * dim].to_vec(),
            n_items,
            dim,
            max_norm,
        }
    }

    /// For each query row of `queries` (`dim` wide), the `k` items with the largest
    /// inner product ([`score`]), best first, ties to the lower id.
    pub fn top_k(&self, queries: &[f32], k: usize) -> Vec<Vec<u32>> {
        // A flag nobody sets: the search always finishes.
        self.top_k_or_stop(queries, k, &AtomicBool::new(false))
            .unwrap_or_default()
    }

    /// [`top_k`](Self::top_k), given up once `stop` is set (Ctrl-C): every block of
    /// [`QUERY_BLOCK`] queries checks it before its pass over the items.
    pub fn top_k_or_stop(
        &self,
        queries: &[f32],
        k: usize,
        stop: &AtomicBool,
    ) -> Result<Vec<Vec<u32>>, Interrupted> {
        if self.dim == 0 {
            return Ok(Vec::new());
        }
        let k = k.min(self.n_items);
        let mut out: Vec<Vec<u32>> = vec![Vec::new(); queries.len() / self.dim];
        if k == 0 {
            return Ok(out);
        }
        out.par_chunks_mut(QUERY_BLOCK)
            .zip(queries.par_chunks(QUERY_BLOCK * self.dim))
            .try_for_each(|(out, block)| {
                interrupt::check(stop)?;
                self.search_block(block, k, out);
                Ok(())
            })?;
        Ok(out)
    }

    /// A bound on |approximate - reference| score of `query` against any item, doubled.
    fn band(&self, query: &[f32]) -> f64 {
        let u = f32::EPSILON as f64 / 2.0;
        let d = self.dim as f64;
        let gamma = d * u / (1.0 - d * u);
        // The norms' own rounding and underflow, generously.
        let band = 2.0 * gamma * norm(query) * self.max_norm * (1.0 + 1e-6)
            + 2.0 * d * f32::MIN_POSITIVE as f64;
        if band.is_finite() {
            band
        } else {
            f64::INFINITY
        }
    }

    fn search_block(&self, block: &[f32], k: usize, out: &mut [Vec<u32>]) {
        let dim = self.dim;
        let rows = block.len() / dim;
        let bands: Vec<f64> = block.chunks_exact(dim).map(|q| self.band(q)).collect();
        // Per query: the k best approximate scores so far (a min-heap of order keys),
        // the band's floor below the k-th, and the items above that floor.
        let mut best: Vec<BinaryHeap<Reverse<i32>>> = (0..rows)
            .map(|_| BinaryHeap::with_capacity(k + 1))
            .collect();
        let mut floor = vec![f32::NEG_INFINITY; rows];
        let mut kept: Vec<Vec<(f32, u32)>> = (0..rows).map(|_| Vec::new()).collect();
        let mut scores = vec![0.0f32; rows * ITEM_TILE];
        for start in (0..self.n_items).step_by(ITEM_TILE) {
            let tile = ITEM_TILE.min(self.n_items - start);
            let items = &self.items[start * dim..(start + tile) * dim];
            // SAFETY: `block` is rows x dim, `items` tile x dim (read transposed as
            // dim x tile), `scores` holds rows x tile; the strides say exactly that.
            unsafe {
                matrixmultiply::sgemm(
                    rows,
                    dim,
                    tile,
                    1.0,
                    block.as_ptr(),
                    dim as isize,
                    1,
                    items.as_ptr(),
                    1,
                    dim as isize,
                    0.0,
                    scores.as_mut_ptr(),
                    tile as isize,
                    1,
                );
            }
            for q in 0..rows {
                let (best, floor, kept) = (&mut best[q], &mut floor[q], &mut kept[q]);
                for (j, &s) in scores[q * tile..(q + 1) * tile].iter().enumerate() {
                    if s < *floor {
                        continue;
                    }
                    kept.push((s, (start + j) as u32));
                    if best.len() < k {
                        best.push(Reverse(order_key(s)));
                    } else if let Some(mut worst) = best.peek_mut()
                        && order_key(s) > worst.0
                    {
                        *worst = Reverse(order_key(s));
                    }
                    if best.len() == k
                        && let Some(&Reverse(kth)) = best.peek()
                    {
                        *floor = band_floor(kth, bands[q]);
                    }
                }
                if kept.len() > 4 * k + 256 {
                    let f = *floor;
                    kept.retain(|c| c.0 >= f);
                }
            }
        }
        for (q, (out, kept)) in out.iter_mut().zip(kept).enumerate() {
            let query = &block[q * dim..(q + 1) * dim];
            let mut exact: Vec<(f32, u32)> = kept
                .into_iter()
                .filter(|c| c.0 >= floor[q])
                .map(|(_, t)| {
                    let t0 = t as usize * dim;
                    (score(query, &self.items[t0..t0 + dim]), t)
                })
                .collect();
            exact.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            *out = exact.into_iter().take(k).map(|(_, t)| t).collect();
        }
    }
}

/// The floor of the band below the k-th best approximate score (given as its order key),
/// rounded down so that no item within `band` of it is dropped.
pub fn band_floor(kth: i32, band: f64) -> f32 {
    let bits = kth ^ (((kth >> 31) as u32) >> 1) as i32;
    let kth = f32::from_bits(bits as u32);
    ((kth as f64 - band) as f32).next_down()
}

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt()
}

/// For each user row of `users` (`dim` wide), the `k` tracks (rows of `items`) with the
/// largest inner product ([`score`]), best first.
pub fn top_k(users: &[f32], items: &[f32], dim: usize, k: usize) -> Vec<Vec<u32>> {
    InnerProductIndex::new(items, dim).top_k(users, k)
}
