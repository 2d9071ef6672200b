//! The world: a catalogue of tracks (artists, titles, embeddings, popularity) and users
//! with hidden tastes. Loaded from the course's files or generated from a seed.

pub mod course_format;
pub mod error;
pub mod murmur;
pub mod neighbour_file;
pub mod neighbours;
pub mod npy;
pub mod synthetic;
pub mod world_file;

pub use error::WorldError;
pub use neighbours::NeighbourCache;

use crate::config::{Config, WorldKind};
use std::sync::Arc;

/// Tracks `0..N-1` with contiguous row-major f32 embeddings.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalogue {
    pub dim: usize,
    /// `n_tracks * dim` floats, row `t` is the embedding of track `t`.
    pub embeddings: Vec<f32>,
    /// Artist index of each track, into `artist_names`.
    pub artist_of: Vec<u32>,
    pub artist_names: Vec<String>,
    pub titles: Vec<String>,
    /// Track ids, most popular first (the whole catalogue).
    pub popularity: Vec<u32>,
    /// Tracks of each artist, ascending ids.
    pub tracks_by_artist: Vec<Vec<u32>>,
}

impl Catalogue {
    /// Builds the derived indexes; `artist_names[artist_of[t]]` is the artist of `t`.
    pub fn new(
        dim: usize,
        embeddings: Vec<f32>,
        artist_of: Vec<u32>,
        artist_names: Vec<String>,
        titles: Vec<String>,
        popularity: Vec<u32>,
    ) -> Catalogue {
        let mut tracks_by_artist = vec![Vec::new(); artist_names.len()];
        for (track, &artist) in artist_of.iter().enumerate() {
            tracks_by_artist[artist as usize].push(track as u32);
        }
        Catalogue {
            dim,
            embeddings,
            artist_of,
            artist_names,
            titles,
            popularity,
            tracks_by_artist,
        }
    }

    pub fn len(&self) -> usize {
        self.artist_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.artist_of.is_empty()
    }

    pub fn embedding(&self, track: u32) -> &[f32] {
        let start = track as usize * self.dim;
        &self.embeddings[start..start + self.dim]
    }

    /// Inner product of two tracks' embeddings.
    pub fn score(&self, a: u32, b: u32) -> f32 {
        dot(self.embedding(a), self.embedding(b))
    }

    pub fn artist_name(&self, track: u32) -> &str {
        &self.artist_names[self.artist_of[track as usize] as usize]
    }
}

/// f32 inner product in eight fixed lanes, so the compiler vectorises it and the result
/// does not depend on the SIMD width of the machine.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let (chunks_a, chunks_b) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (ca, cb) in chunks_a.zip(chunks_b) {
        let (ca, cb): (&[f32; 8], &[f32; 8]) = match (ca.try_into(), cb.try_into()) {
            (Ok(x), Ok(y)) => (x, y),
            _ => unreachable!("chunks_exact yields 8 floats"),
        };
        for i in 0..8 {
            acc[i] += ca[i] * cb[i];
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// A user's hidden parameters (SIMULATOR.md §1).
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub interests: Vec<u32>,
    pub interest_neighbours: usize,
    pub consume_bias: f64,
    pub consume_sharpness: f64,
    pub session_budget: i32,
    pub artist_discount_gamma: f64,
}

/// What a real service knows of the catalogue: ids, artists and popularity, no embeddings.
/// Recommenders (but the oracle) are built from this alone.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceCatalogue {
    pub artist_of: Vec<u32>,
    pub tracks_by_artist: Vec<Vec<u32>>,
    /// Track ids, most popular first.
    pub popularity: Vec<u32>,
}

impl ServiceCatalogue {
    pub fn len(&self) -> usize {
        self.artist_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.artist_of.is_empty()
    }
}

/// Catalogue plus users plus the lazily filled first-track neighbourhoods.
#[derive(Debug)]
pub struct World {
    pub catalogue: Catalogue,
    /// The public part of `catalogue`, shared by the recommenders.
    pub service: Arc<ServiceCatalogue>,
    pub users: Vec<User>,
    /// Nearest tracks of each interest track: `k` covers the largest `interest_neighbours`
    /// and whatever the recommenders asked for with [`World::ensure_neighbours`].
    pub neighbours: NeighbourCache,
}

impl World {
    pub fn new(catalogue: Catalogue, users: Vec<User>) -> World {
        let k = users
            .iter()
            .map(|u| u.interest_neighbours)
            .max()
            .unwrap_or(1);
        let neighbours = NeighbourCache::new(catalogue.len(), k);
        let service = Arc::new(ServiceCatalogue {
            artist_of: catalogue.artist_of.clone(),
            tracks_by_artist: catalogue.tracks_by_artist.clone(),
            popularity: catalogue.popularity.clone(),
        });
        World {
            catalogue,
            service,
            users,
            neighbours,
        }
    }

    /// The world that `config` describes.
    pub fn from_config(config: &Config) -> Result<World, WorldError> {
        let world = &config.world;
        match (world.source, &world.dir) {
            (WorldKind::Synthetic, _) => {
                synthetic::generate(&world.synthetic, &config.user_defaults)
            }
            _ => Self::from_course_files(config),
        }
    }

    /// The world that `config` describes; a synthetic one read from (or generated into)
    /// the world cache under `cache_dir` (see [`world_file`]), `rebuild` regenerates it.
    /// Says where the world came from.
    pub fn from_config_cached(
        config: &Config,
        cache_dir: &std::path::Path,
        rebuild: bool,
    ) -> Result<(World, Option<neighbour_file::Origin>), WorldError> {
        let world = &config.world;
        match world.source {
            WorldKind::Synthetic => world_file::load_or_generate(
                &world.synthetic,
                &config.user_defaults,
                cache_dir,
                rebuild,
            )
            .map(|(world, origin)| (world, Some(origin))),
            WorldKind::Course => Ok((Self::from_course_files(config)?, None)),
        }
    }

    fn from_course_files(config: &Config) -> Result<World, WorldError> {
        match &config.world.dir {
            Some(dir) => course_format::load(dir, &config.user_defaults),
            None => Err(WorldError::Config(
                "world.source is course but world.dir is not set".into(),
            )),
        }
    }

    /// Makes the neighbour cache hold at least `k` neighbours per track (before any use).
    pub fn ensure_neighbours(&mut self, k: usize) {
        if k > self.neighbours.k() {
            self.neighbours = NeighbourCache::new(self.catalogue.len(), k);
        }
    }

    /// The `k` nearest tracks to `track` (at most the cache's `k`), best first.
    pub fn nearest(&self, track: u32, k: usize) -> &[u32] {
        let all = self.neighbours.get(&self.catalogue, track);
        &all[..k.min(all.len())]
    }

    /// The `interest_neighbours` nearest tracks to `interest` (the first-track candidates).
    pub fn first_track_candidates(&self, user: &User, interest: u32) -> &[u32] {
        self.nearest(interest, user.interest_neighbours)
    }
}
