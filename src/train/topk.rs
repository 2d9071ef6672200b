//! Exact top-k by inner product, parallel over blocks of users.
//!
//! Users are processed in blocks of [`USER_BLOCK`] against tiles of [`ITEM_TILE`] items so
//! that a tile stays in cache while the block's users are scored against it. Each user
//! keeps a min-heap of its `k` best `(score, track)`; ties go to the lower track id, so the
//! result does not depend on the blocking or the number of threads.

use super::model::dot;
use rayon::prelude::*;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

const USER_BLOCK: usize = 32;
const ITEM_TILE: usize = 256;

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

/// For each user row of `users` (`dim` wide), the `k` tracks (rows of `items`) with the
/// largest inner product, best first.
pub(crate) fn top_k(users: &[f32], items: &[f32], dim: usize, k: usize) -> Vec<Vec<u32>> {
    if dim == 0 {
        return vec![Vec::new(); users.len()];
    }
    let n_items = items.len() / dim;
    let k = k.min(n_items);
    let mut out: Vec<Vec<u32>> = vec![Vec::new(); users.len() / dim];
    if k == 0 {
        return out;
    }
    out.par_chunks_mut(USER_BLOCK)
        .zip(users.par_chunks(USER_BLOCK * dim))
        .for_each(|(out, block)| {
            let mut heaps: Vec<BinaryHeap<Cand>> = (0..out.len())
                .map(|_| BinaryHeap::with_capacity(k + 1))
                .collect();
            for tile_start in (0..n_items).step_by(ITEM_TILE) {
                let tile_end = (tile_start + ITEM_TILE).min(n_items);
                for (u, heap) in block.chunks_exact(dim).zip(heaps.iter_mut()) {
                    for t in tile_start..tile_end {
                        let c = Cand {
                            score: dot(u, &items[t * dim..(t + 1) * dim]),
                            track: t as u32,
                        };
                        if heap.len() < k {
                            heap.push(c);
                        } else if let Some(mut worst) = heap.peek_mut() {
                            if c < *worst {
                                *worst = c;
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
        let (nu, ni) = (70, 600);
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
                let sa = dot(uv, &items[a as usize * dim..(a as usize + 1) * dim]);
                let sb = dot(uv, &items[b as usize * dim..(b as usize + 1) * dim]);
                sb.total_cmp(&sa).then(a.cmp(&b))
            });
            assert_eq!(got, &all[..10], "user {u}");
        }
        assert_eq!(top_k(&users, &items, dim, 10_000)[0].len(), ni);
    }
}
