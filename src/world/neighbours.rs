//! Exact top-k by inner product, computed once per query track and cached.
//!
//! Filled lazily: a run touches only the interests of the users it draws, so start-up
//! stays instant while each neighbourhood is still computed only once per process.

use super::{Catalogue, dot};
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
        self.slots[track as usize]
            .get_or_init(|| top_k_by_inner_product(catalogue, catalogue.embedding(track), self.k))
    }
}

/// The `k` tracks with the largest `dot(embedding, query)`, best first; ties go to the lower id.
pub fn top_k_by_inner_product(catalogue: &Catalogue, query: &[f32], k: usize) -> Box<[u32]> {
    let mut scored: Vec<(f32, u32)> = catalogue
        .embeddings
        .chunks_exact(catalogue.dim)
        .enumerate()
        .map(|(t, row)| (dot(row, query), t as u32))
        .collect();
    let better = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    let k = k.min(scored.len());
    if k == 0 {
        return Box::new([]);
    }
    if k < scored.len() {
        scored.select_nth_unstable_by(k - 1, better);
        scored.truncate(k);
    }
    scored.sort_unstable_by(better);
    scored.into_iter().map(|(_, t)| t).collect()
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
        assert_eq!(&*top_k_by_inner_product(&cat, &[1.0], 3), &[1, 3, 4]);
        assert_eq!(&*top_k_by_inner_product(&cat, &[-1.0], 2), &[2, 0]);
        assert_eq!(top_k_by_inner_product(&cat, &[1.0], 10).len(), 5);
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
