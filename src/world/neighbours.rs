//! Exact top-k by inner product, computed once per query track and cached.
//!
//! Filled lazily, or for a batch of tracks at once (`warm`), so a run touches only the
//! interests of the users it draws: start-up stays instant while each neighbourhood is
//! still computed only once per process.

use super::{Catalogue, dot};
use rayon::prelude::*;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::OnceLock;

/// The `k` nearest tracks (largest inner product) of every track, filled on first use.
#[derive(Debug)]
pub struct NeighbourCache {
    k: usize,
    slots: Vec<OnceLock<Box<[u32]>>>,
}

impl NeighbourCache {
    pub fn new(n_tracks: usize, k: usize) -> NeighbourCache {
        NeighbourCache {
            k,
            slots: (0..n_tracks).map(|_| OnceLock::new()).collect(),
        }
    }

    pub fn k(&self) -> usize {
        self.k
    }

    /// The `k` nearest tracks to `track`'s embedding, best first.
    pub fn get(&self, catalogue: &Catalogue, track: u32) -> &[u32] {
        self.slots[track as usize].get_or_init(|| {
            top_k_by_inner_product(catalogue, &[catalogue.embedding(track)], self.k)
                .pop()
                .unwrap_or_default()
        })
    }

    /// Fills the slots of `tracks` not yet computed, in parallel batches sharing each pass
    /// over the catalogue.
    pub fn warm(&self, catalogue: &Catalogue, tracks: &[u32]) {
        let mut missing: Vec<u32> = tracks
            .iter()
            .copied()
            .filter(|&t| self.slots[t as usize].get().is_none())
            .collect();
        missing.sort_unstable();
        missing.dedup();
        missing.par_chunks(QUERY_BATCH).for_each(|batch| {
            let queries: Vec<&[f32]> = batch.iter().map(|&t| catalogue.embedding(t)).collect();
            let results = top_k_by_inner_product(catalogue, &queries, self.k);
            for (&t, result) in batch.iter().zip(results) {
                let _ = self.slots[t as usize].set(result);
            }
        });
    }
}

/// Queries scored together per pass over the catalogue (their vectors stay in L1).
const QUERY_BATCH: usize = 8;

/// A score with the ordering "better first": larger score, then lower id.
#[derive(Clone, Copy, PartialEq)]
struct Ranked(f32, u32);

impl Eq for Ranked {}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0).then(other.1.cmp(&self.1))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// For each query, the `k` tracks with the largest `dot(embedding, query)`, best first;
/// ties go to the lower id. One pass over the catalogue serves all queries.
///
/// On x86-64 with AVX2 the same code runs compiled for AVX2 (about twice as fast);
/// `dot`'s fixed lanes and no FMA keep the scores bit-identical to the portable build.
pub fn top_k_by_inner_product(
    catalogue: &Catalogue,
    queries: &[&[f32]],
    k: usize,
) -> Vec<Box<[u32]>> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { top_k_avx2(catalogue, queries, k) };
    }
    top_k_portable(catalogue, queries, k)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn top_k_avx2(catalogue: &Catalogue, queries: &[&[f32]], k: usize) -> Vec<Box<[u32]>> {
    top_k_portable(catalogue, queries, k)
}

#[inline(always)]
fn top_k_portable(catalogue: &Catalogue, queries: &[&[f32]], k: usize) -> Vec<Box<[u32]>> {
    let k = k.min(catalogue.len());
    // Min-heaps of the best k so far: the root is the one to beat.
    let mut heaps: Vec<BinaryHeap<Reverse<Ranked>>> = queries
        .iter()
        .map(|_| BinaryHeap::with_capacity(k + 1))
        .collect();
    // The score to beat per query once its heap is full: most rows fail this one test.
    let mut bar = vec![f32::NEG_INFINITY; queries.len()];
    if k > 0 {
        for (t, row) in catalogue.embeddings.chunks_exact(catalogue.dim).enumerate() {
            for (q, query) in queries.iter().enumerate() {
                let score = dot(row, query);
                if score < bar[q] {
                    continue;
                }
                let heap = &mut heaps[q];
                let candidate = Ranked(score, t as u32);
                if heap.len() < k {
                    heap.push(Reverse(candidate));
                } else if heap.peek().is_some_and(|Reverse(worst)| candidate > *worst) {
                    heap.pop();
                    heap.push(Reverse(candidate));
                }
                if heap.len() == k {
                    bar[q] = heap.peek().map_or(f32::NEG_INFINITY, |Reverse(w)| w.0);
                }
            }
        }
    }
    heaps
        .into_iter()
        .map(|heap| {
            let mut best: Vec<Ranked> = heap.into_iter().map(|Reverse(r)| r).collect();
            best.sort_unstable_by(|a, b| b.cmp(a));
            best.into_iter().map(|r| r.1).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_catalogue(values: &[f32]) -> Catalogue {
        let n = values.len();
        Catalogue::new(
            1,
            values.to_vec(),
            vec![0; n],
            vec!["a".into()],
            vec![String::new(); n],
            (0..n as u32).collect(),
        )
    }

    #[test]
    fn top_k_is_exact_sorted_and_breaks_ties_by_id() {
        let cat = line_catalogue(&[0.5, 3.0, -1.0, 3.0, 2.0]);
        let got = top_k_by_inner_product(&cat, &[&[1.0], &[-1.0]], 3);
        assert_eq!(&*got[0], &[1, 3, 4]);
        assert_eq!(&*got[1], &[2, 0, 4]);
        assert_eq!(top_k_by_inner_product(&cat, &[&[1.0]], 10)[0].len(), 5);
    }

    #[test]
    fn batched_warm_up_equals_one_query_at_a_time() {
        let values: Vec<f32> = (0..200).map(|i| ((i * 37) % 101) as f32 - 50.0).collect();
        let cat = line_catalogue(&values);
        let lazy = NeighbourCache::new(200, 7);
        let warm = NeighbourCache::new(200, 7);
        let tracks: Vec<u32> = (0..200).step_by(3).collect();
        warm.warm(&cat, &tracks);
        for &t in &tracks {
            assert_eq!(lazy.get(&cat, t), warm.get(&cat, t));
        }
    }

    #[test]
    fn cache_answers_the_same_slice_twice() {
        let cat = line_catalogue(&[0.5, 3.0, -1.0]);
        let cache = NeighbourCache::new(3, 2);
        let first = cache.get(&cat, 1).as_ptr();
        assert_eq!(cache.get(&cat, 1), &[1, 0]);
        assert_eq!(first, cache.get(&cat, 1).as_ptr());
    }
}
