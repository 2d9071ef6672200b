//! `sim world export` and `sim world info`.

use super::setup::load_world;
use crate::config::Config;
use crate::world::{Catalogue, course_format};
use anyhow::Context;
use chacha20::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use std::path::Path;
use std::process::ExitCode;

pub fn export(dir: &Path, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = Config::load_or_default(config)?;
    // Exporting a course world into its own folder would rewrite the files it reads.
    if let (crate::config::WorldKind::Course, Some(source)) =
        (config.world.source, &config.world.dir)
        && crate::overwrite::same_file(source, dir)
    {
        anyhow::bail!(
            "{}: is the folder the config's world is read from; export into another folder",
            dir.display()
        );
    }
    let world = load_world(&config)?;
    course_format::export(&world, dir)
        .with_context(|| format!("cannot export the world to {}", dir.display()))?;
    crate::out!(
        "wrote tracks.json, tracks.npy, users.json, top_tracks.json to {}",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn info(config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = Config::load_or_default(config)?;
    let world = load_world(&config)?;
    let cat = &world.catalogue;
    let mut sizes: Vec<usize> = cat.tracks_by_artist.iter().map(Vec::len).collect();
    sizes.sort_unstable();
    crate::out!(
        "tracks {}  artists {}  users {}  dim {}",
        cat.len(),
        sizes.len(),
        world.users.len(),
        cat.dim
    );
    crate::out!(
        "tracks per artist: median {}  largest {}",
        sizes.get(sizes.len() / 2).copied().unwrap_or(0),
        sizes.last().copied().unwrap_or(0)
    );
    let scales = ScoreScales::sample(cat, SCALE_SAMPLES);
    // One measure a line (a terminal holds them), each saying what its figures are.
    crate::out!(
        "score (dot product) of track pairs, up to {SCALE_SAMPLES} sampled (seed 0), mean ± sd [min, max]:"
    );
    for (label, spread) in [
        ("same artist", &scales.same_artist),
        ("different artists", &scales.random_pair),
        ("a track with itself", &scales.self_pair),
    ] {
        crate::out!("  {label:<22}{spread}");
    }
    let users = &world.users;
    crate::out!("users' listening parameters, mean ± sd [min, max]:");
    for (label, spread) in [
        (
            "consume_bias",
            Spread::of(users.iter().map(|u| u.consume_bias)),
        ),
        (
            "consume_sharpness",
            Spread::of(users.iter().map(|u| u.consume_sharpness)),
        ),
        (
            "session_budget",
            Spread::of(users.iter().map(|u| u.session_budget as f64)),
        ),
        (
            "artist_discount_gamma",
            Spread::of(users.iter().map(|u| u.artist_discount_gamma)),
        ),
    ] {
        crate::out!("  {label:<22}{spread}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Pairs sampled per kind for the score scales: enough for two digits of the means.
const SCALE_SAMPLES: usize = 20_000;

/// Mean and standard deviation of the scores of sampled track pairs: how far apart
/// "similar" and "unrelated" are, against the users' `consume_bias`.
struct ScoreScales {
    same_artist: Spread,
    random_pair: Spread,
    self_pair: Spread,
}

impl ScoreScales {
    fn sample(cat: &Catalogue, samples: usize) -> ScoreScales {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let n = cat.len() as u32;
        let multi: Vec<&Vec<u32>> = cat
            .tracks_by_artist
            .iter()
            .filter(|t| t.len() >= 2)
            .collect();
        let mut same = Vec::new();
        if !multi.is_empty() {
            for _ in 0..samples {
                let tracks = multi[rng.random_range(0..multi.len())];
                let a = rng.random_range(0..tracks.len());
                let b = (a + rng.random_range(1..tracks.len())) % tracks.len();
                same.push(cat.score(tracks[a], tracks[b]) as f64);
            }
        }
        let mut random = Vec::new();
        let mut selves = Vec::new();
        for _ in 0..samples.min(n as usize * n as usize) {
            let (a, b) = (rng.random_range(0..n), rng.random_range(0..n));
            if cat.artist_of[a as usize] != cat.artist_of[b as usize] {
                random.push(cat.score(a, b) as f64);
            }
            selves.push(cat.score(a, a) as f64);
        }
        ScoreScales {
            same_artist: Spread::of(same),
            random_pair: Spread::of(random),
            self_pair: Spread::of(selves),
        }
    }
}

/// Mean ± standard deviation and range of some values, printed as `mean ± sd [min, max]`.
struct Spread {
    values: usize,
    mean: f64,
    sd: f64,
    min: f64,
    max: f64,
}

impl Spread {
    fn of(values: impl IntoIterator<Item = f64>) -> Spread {
        let values: Vec<f64> = values.into_iter().collect();
        let count = values.len().max(1) as f64;
        let mean = values.iter().sum::<f64>() / count;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / count;
        Spread {
            values: values.len(),
            mean,
            sd: var.sqrt(),
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.values == 0 {
            return write!(f, "(none)");
        }
        write!(
            f,
            "{:.3} ± {:.3} [{:.3}, {:.3}]",
            self.mean, self.sd, self.min, self.max
        )
    }
}
