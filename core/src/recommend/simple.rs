//! The seminar's catalogue-only policies: random, top-pop, sticky artist.

use super::{RecRng, StatelessPolicy, choose};
use crate::world::ServiceCatalogue;
use rand::RngExt;
use std::sync::Arc;

/// A uniformly random track of the catalogue.
pub struct RandomTrack {
    pub n_tracks: u32,
}

impl StatelessPolicy for RandomTrack {
    fn pick(&self, _user: u32, _prev: u32, rng: &mut RecRng) -> u32 {
        rng.random_range(0..self.n_tracks)
    }
}

/// Uniformly one of the `k` most popular tracks.
pub struct TopPop {
    pub top: Vec<u32>,
}

impl StatelessPolicy for TopPop {
    fn pick(&self, _user: u32, _prev: u32, rng: &mut RecRng) -> u32 {
        choose(&self.top, rng)
    }
}

/// Uniformly one of the previous track's artist's tracks.
pub struct StickyArtist {
    pub catalogue: Arc<ServiceCatalogue>,
}

impl StatelessPolicy for StickyArtist {
    fn pick(&self, _user: u32, prev: u32, rng: &mut RecRng) -> u32 {
        let artist = self.catalogue.artist_of[prev as usize];
        choose(&self.catalogue.tracks_by_artist[artist as usize], rng)
    }
}
