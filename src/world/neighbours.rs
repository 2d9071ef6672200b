//! The nearest tracks of a track by inner product (exact), computed once per query track
//! and cached.
//!
//! Filled lazily, or for a batch of tracks at once (`warm`), so a run touches only the
//! interests of the users it draws: start-up stays instant while each neighbourhood is
//! still computed only once per process.

use super::Catalogue;
use crate::interrupt::Interrupted;
use crate::topk::InnerProductIndex;
use std::sync::OnceLock;
use std::sync::atomic::AtomicBool;

/// The `k` nearest tracks (largest inner product) of every track, filled on first use.
#[derive(Debug)]
pub struct NeighbourCache {
    k: usize,
    slots: Vec<OnceLock<Box<[u32]>>>,
    /// The catalogue's embeddings laid out for search, built at the first query.
    index: OnceLock<InnerProductIndex>,
}

impl NeighbourCache {
    pub fn new(n_tracks: usize, k: usize) -> NeighbourCache {
        NeighbourCache {
            k,
            slots: (0..n_tracks).map(|_| OnceLock::new()).collect(),
            index: OnceLock::new(),
        }
    }

    pub fn k(&self) -> usize {
        self.k
    }

    fn index(&self, catalogue: &Catalogue) -> &InnerProductIndex {
        self.index
            .get_or_init(|| InnerProductIndex::new(&catalogue.embeddings, catalogue.dim))
    }

    /// The `k` nearest tracks to `track`'s embedding, best first.
    pub fn get(&self, catalogue: &Catalogue, track: u32) -> &[u32] {
        self.slots[track as usize].get_or_init(|| {
            let found = self
                .index(catalogue)
                .top_k(catalogue.embedding(track), self.k);
            found
                .into_iter()
                .next()
                .unwrap_or_default()
                .into_boxed_slice()
        })
    }

    /// Stores `track`'s neighbours found elsewhere (the disk cache), unless already known.
    pub fn set(&self, track: u32, nearest: &[u32]) {
        let _ = self.slots[track as usize].set(nearest.into());
    }

    /// Fills the slots of `tracks` not yet computed, in parallel blocks that share each
    /// pass over the catalogue.
    pub fn warm(&self, catalogue: &Catalogue, tracks: &[u32]) {
        // A flag nobody sets: the warm-up always finishes.
        let _ = self.warm_or_stop(catalogue, tracks, &AtomicBool::new(false));
    }

    /// [`warm`](Self::warm), given up once `stop` is set (Ctrl-C); then no slot is filled.
    pub fn warm_or_stop(
        &self,
        catalogue: &Catalogue,
        tracks: &[u32],
        stop: &AtomicBool,
    ) -> Result<(), Interrupted> {
        let mut missing: Vec<u32> = tracks
            .iter()
            .copied()
            .filter(|&t| self.slots[t as usize].get().is_none())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort_unstable();
        missing.dedup();
        let queries: Vec<f32> = missing
            .iter()
            .flat_map(|&t| catalogue.embedding(t).iter().copied())
            .collect();
        let found = self
            .index(catalogue)
            .top_k_or_stop(&queries, self.k, stop)?;
        for (&t, nearest) in missing.iter().zip(found) {
            let _ = self.slots[t as usize].set(nearest.into_boxed_slice());
        }
        Ok(())
    }
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
    fn nearest_are_exact_sorted_and_ties_go_to_the_lower_id() {
        let cat = line_catalogue(&[0.5, 3.0, -1.0, 3.0, 2.0]);
        let cache = NeighbourCache::new(5, 3);
        assert_eq!(cache.get(&cat, 1), &[1, 3, 4]);
        assert_eq!(cache.get(&cat, 2), &[2, 0, 4]);
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
