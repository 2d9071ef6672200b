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
