//! Exact top-k by inner product, parallel over blocks of queries: the first-track
//! neighbourhoods of the world and the two-tower model's recommendations both use it.
//!
//! Queries are processed in blocks of [`USER_BLOCK`] against tiles of [`ITEM_TILE`] items so
//! that a tile stays in cache while the block's queries are scored against it; the kernel
//! scores [`GROUP`] queries against [`LANES`] items (transposed) at once, which the compiler
//! turns into SIMD without horizontal sums. Each score is a sum over the dimensions in
//! order ([`score`]), whatever the blocking. Each query
//! keeps a min-heap of its `k` best `(score, track)`; ties go to the lower track id, so the
//! result does not depend on the blocking, the number of threads or the CPU's SIMD width
//! (the AVX2 build of the same code does the same float operations in the same order).

use rayon::prelude::*;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

const USER_BLOCK: usize = 64;
/// Items per cache tile (`ITEM_TILE x dim` floats, 64 KiB at dim 64).
const ITEM_TILE: usize = 256;
/// Items scored at once by the kernel (one SIMD-friendly row of lanes).
const LANES: usize = 8;
/// Users scored at once by the kernel.
const GROUP: usize = 4;
const _: () = assert!(GROUP == 4, "the kernel is written for 4 users");

/// A candidate ordered so that the heap's top is the *worst* kept one.
#[derive(Clone, Copy, PartialEq)]
struct Cand {
    score: f32,
    track: u32,
}

impl Eq for Cand {}

impl Ord for Cand {
    /// Greater = worse: lower score, or equal score and higher id.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.track.cmp(&other.track))
    }
}

impl PartialOrd for Cand {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The inner product exactly as the search computes it: a plain sum over `k` in order.
#[cfg(test)]
fn score(u: &[f32], v: &[f32]) -> f32 {
    u.iter().zip(v).fold(0.0, |acc, (a, b)| acc + a * b)
}

/// Items regrouped in blocks of [`LANES`], transposed within a block
/// (`block[k * LANES + lane]`), the last block padded with zeros.
fn transpose(items: &[f32], dim: usize) -> Vec<f32> {
    let n = items.len() / dim;
    let mut out = vec![0.0; n.div_ceil(LANES) * LANES * dim];
    for t in 0..n {
        let (b, lane) = (t / LANES, t % LANES);
        for k in 0..dim {
            out[b * LANES * dim + k * LANES + lane] = items[t * dim + k];
        }
    }
    out
}

/// Scores of `GROUP` users against one transposed block of `LANES` items.
#[inline(always)]
fn kernel(users: &[&[f32]; GROUP], block: &[f32]) -> [[f32; LANES]; GROUP] {
    let mut acc = [[0.0f32; LANES]; GROUP];
    let rows = block.chunks_exact(LANES);
    for ((((row, &x0), &x1), &x2), &x3) in
        rows.zip(users[0]).zip(users[1]).zip(users[2]).zip(users[3])
    {
        for l in 0..LANES {
            let r = row[l];
            acc[0][l] += x0 * r;
            acc[1][l] += x1 * r;
            acc[2][l] += x2 * r;
            acc[3][l] += x3 * r;
        }
    }
    acc
}

/// Items laid out for the kernel, built once and searched many times.
#[derive(Debug)]
pub struct InnerProductIndex {
    blocks: Vec<f32>,
    n_items: usize,
    dim: usize,
}

impl InnerProductIndex {
    /// `items`: row-major, `dim` floats per item.
    pub fn new(items: &[f32], dim: usize) -> InnerProductIndex {
        let n_items = items.len().checked_div(dim).unwrap_or(0);
        InnerProductIndex {
            blocks: if dim == 0 {
                Vec::new()
            } else {
                transpose(items, dim)
            },
            n_items,
            dim,
        }
    }

    /// For each query row of `queries` (`dim` wide), the `k` items with the largest
    /// inner product ([`score`]), best first.
    pub fn top_k(&self, queries: &[f32], k: usize) -> Vec<Vec<u32>> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { top_k_avx2(&self.blocks, self.n_items, queries, self.dim, k) };
        }
        top_k_blocks(&self.blocks, self.n_items, queries, self.dim, k)
    }
}

/// For each user row of `users` (`dim` wide), the `k` tracks (rows of `items`) with the
/// largest inner product ([`score`]), best first.
pub fn top_k(users: &[f32], items: &[f32], dim: usize, k: usize) -> Vec<Vec<u32>> {
    InnerProductIndex::new(items, dim).top_k(users, k)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn top_k_avx2(
    blocks: &[f32],
    n_items: usize,
    users: &[f32],
    dim: usize,
    k: usize,
) -> Vec<Vec<u32>> {
    top_k_blocks(blocks, n_items, users, dim, k)
}

#[inline(always)]
fn top_k_blocks(
    blocks: &[f32],
    n_items: usize,
    users: &[f32],
    dim: usize,
    k: usize,
) -> Vec<Vec<u32>> {
    if dim == 0 {
        return Vec::new();
    }
    let k = k.min(n_items);
    let mut out: Vec<Vec<u32>> = vec![Vec::new(); users.len() / dim];
    if k == 0 {
        return out;
    }
    let zero = vec![0.0f32; dim];
    out.par_chunks_mut(USER_BLOCK)
        .zip(users.par_chunks(USER_BLOCK * dim))
        .for_each(|(out, block_users)| {
            let rows: Vec<&[f32]> = block_users.chunks_exact(dim).collect();
            let mut heaps: Vec<BinaryHeap<Cand>> = (0..rows.len())
                .map(|_| BinaryHeap::with_capacity(k + 1))
                .collect();
            // The worst kept score once a heap is full: items come in increasing id order,
            // so a score not above it cannot enter (ties go to the lower id).
            let mut floor = vec![f32::NEG_INFINITY; rows.len()];
            for tile in (0..n_items.div_ceil(LANES)).step_by(ITEM_TILE / LANES) {
                let tile_end = (tile + ITEM_TILE / LANES).min(n_items.div_ceil(LANES));
                for g0 in (0..rows.len()).step_by(GROUP) {
                    let group: [&[f32]; GROUP] =
                        std::array::from_fn(|g| rows.get(g0 + g).copied().unwrap_or(&zero));
                    for b in tile..tile_end {
                        let block = &blocks[b * LANES * dim..(b + 1) * LANES * dim];
                        let scores = kernel(&group, block);
                        for (g, scores) in scores.iter().enumerate() {
                            let Some(heap) = heaps.get_mut(g0 + g) else {
                                break;
                            };
                            let floor = &mut floor[g0 + g];
                            for (l, &score) in scores.iter().enumerate() {
                                if score <= *floor {
                                    continue;
                                }
                                let track = (b * LANES + l) as u32;
                                if track as usize >= n_items {
                                    break;
                                }
                                let c = Cand { score, track };
                                if heap.len() < k {
                                    heap.push(c);
                                } else if let Some(mut worst) = heap.peek_mut()
                                    && c < *worst
                                {
                                    *worst = c;
                                }
                                if heap.len() == k {
                                    *floor = heap.peek().map_or(f32::NEG_INFINITY, |c| c.score);
                                }
                            }
                        }
                    }
                }
            }
            for (o, heap) in out.iter_mut().zip(heaps) {
                *o = heap
                    .into_sorted_vec()
                    .into_iter()
                    .map(|c| c.track)
                    .collect();
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn matches_a_full_sort() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let dim = 5;
        let (nu, ni) = (70, 603);
        let users: Vec<f32> = (0..nu * dim).map(|_| rng.random::<f32>() - 0.5).collect();
        let mut items: Vec<f32> = (0..ni * dim).map(|_| rng.random::<f32>() - 0.5).collect();
        // A tie: item 7 duplicates item 3, so item 3 must come first.
        let dup: Vec<f32> = items[3 * dim..4 * dim].to_vec();
        items[7 * dim..8 * dim].copy_from_slice(&dup);
        let got = top_k(&users, &items, dim, 10);
        for (u, got) in got.iter().enumerate() {
            let uv = &users[u * dim..(u + 1) * dim];
            let mut all: Vec<u32> = (0..ni as u32).collect();
            all.sort_by(|&a, &b| {
                let sa = score(uv, &items[a as usize * dim..(a as usize + 1) * dim]);
                let sb = score(uv, &items[b as usize * dim..(b as usize + 1) * dim]);
                sb.total_cmp(&sa).then(a.cmp(&b))
            });
            assert_eq!(got, &all[..10], "user {u}");
        }
        assert_eq!(top_k(&users, &items, dim, 10_000)[0].len(), ni);
    }
}
