//! The generated synthetic world, cached on disk as one flat binary file:
//! `<cache>/worlds/<key>.bin`, where the key hashes the synthetic config (and the
//! program's version). Generating the default world draws 1.6 M Box–Muller normals and
//! formats 61,500 names: 0.24 G instructions at every start (`valgrind --tool=cachegrind`
//! of `sim run --experiment seminar`); reading the 8 MB file takes about a tenth of that.
//!
//! Layout (little endian): magic `BSIMWLD\n`, version, tracks, dim, artists, users,
//! interests per user, a murmur3 x64-128 hash of the payload (16 bytes); payload: the
//! embeddings (f32), each track's artist, the popularity order, the users' interests,
//! consume biases (f64) and sharpnesses (f64), the byte lengths of the artist names then
//! of the titles (u32), then their text. A file that fails any check is generated again.
//! What the user defaults give every user (budget, interest neighbours) is not stored.

use super::neighbour_file::Origin;
use super::synthetic::{SyntheticWorldConfig, generate};
use super::{Catalogue, User, World, WorldError};
use crate::config::UserDefaults;
use anyhow::Context;
use std::path::{Path, PathBuf};

pub const MAGIC: &[u8; 8] = b"BSIMWLD\n";
/// Bumped when the layout or the generator's output changes.
const VERSION: u32 = 1;
pub const HEADER: usize = 8 + 6 * 4 + 16;

/// The cache file of the world `cfg` generates, under `cache_dir`.
pub fn path(cfg: &SyntheticWorldConfig, cache_dir: &Path) -> anyhow::Result<PathBuf> {
    let described = serde_json::to_string(cfg).context("cannot describe the world config")?;
    let keyed = format!("{VERSION} {} {described}", env!("CARGO_PKG_VERSION"));
    let key = super::murmur::murmur3_x64_128(keyed.as_bytes());
    Ok(cache_dir.join("worlds").join(format!("{key:032x}.bin")))
}

/// The world `cfg` generates, read from the cache file or generated and written there;
/// `rebuild` ignores the file. A damaged file is reported in one warning line and
/// replaced; a file that cannot be written costs the next run time only (a warning).
pub fn load_or_generate(
    cfg: &SyntheticWorldConfig,
    defaults: &UserDefaults,
    cache_dir: &Path,
    rebuild: bool,
) -> Result<(World, Origin), WorldError> {
    cfg.validate().map_err(WorldError::Config)?;
    let file = match path(cfg, cache_dir) {
        Ok(file) => file,
        Err(e) => {
            crate::problem!("warning: no world cache: {e:#}");
            return Ok((generate(cfg, defaults)?, Origin::NotSaved));
        }
    };
    if !rebuild && file.exists() {
        let read = std::fs::read(&file)
            .map_err(|e| e.to_string())
            .and_then(|bytes| decode(&bytes, cfg, defaults));
        match read {
            Ok(world) => return Ok((world, Origin::Read)),
            Err(reason) => crate::problem!(
                "warning: world cache {} is damaged ({reason}); generating the world again",
                file.display()
            ),
        }
    }
    let world = generate(cfg, defaults)?;
    let saved = file
        .parent()
        .map_or(Ok(()), |dir| {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the cache {}", dir.display()))
        })
        .and_then(|()| crate::atomic_file::write(&file, &encode(&world)));
    if let Err(e) = saved {
        crate::problem!("warning: world cache not saved: {e:#}");
        return Ok((world, Origin::NotSaved));
    }
    Ok((world, Origin::Computed))
}

fn hash(payload: &[u8]) -> [u8; 16] {
    super::murmur::murmur3_x64_128(payload).to_le_bytes()
}

/// The file's bytes: header, then every generated array of `world`.
pub fn encode(world: &World) -> Vec<u8> {
    let cat = &world.catalogue;
    let users = &world.users;
    let per_user = users.first().map_or(0, |u| u.interests.len());
    let names = cat.artist_names.iter().chain(&cat.titles);
    let text: usize = names.clone().map(String::len).sum();
    let mut payload = Vec::with_capacity(
        4 * (cat.embeddings.len() + 2 * cat.len() + users.len() * per_user)
            + 16 * users.len()
            + 4 * (cat.artist_names.len() + cat.titles.len())
            + text,
    );
    payload.extend(cat.embeddings.iter().flat_map(|x| x.to_le_bytes()));
    payload.extend(cat.artist_of.iter().flat_map(|a| a.to_le_bytes()));
    payload.extend(cat.popularity.iter().flat_map(|t| t.to_le_bytes()));
    payload.extend(
        users
            .iter()
            .flat_map(|u| &u.interests)
            .flat_map(|t| t.to_le_bytes()),
    );
    payload.extend(users.iter().flat_map(|u| u.consume_bias.to_le_bytes()));
    payload.extend(users.iter().flat_map(|u| u.consume_sharpness.to_le_bytes()));
    payload.extend(names.clone().flat_map(|n| (n.len() as u32).to_le_bytes()));
    names.for_each(|n| payload.extend_from_slice(n.as_bytes()));
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    let counts = [
        VERSION as usize,
        cat.len(),
        cat.dim,
        cat.artist_names.len(),
        users.len(),
        per_user,
    ];
    for n in counts {
        out.extend_from_slice(&(n as u32).to_le_bytes());
    }
    out.extend_from_slice(&hash(&payload));
    out.extend_from_slice(&payload);
    out
}

/// Takes fixed-size little-endian values off the front of the payload.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, bytes: usize) -> Result<&'a [u8], String> {
        if self.0.len() < bytes {
            return Err("the file is cut short".into());
        }
        let (head, rest) = self.0.split_at(bytes);
        self.0 = rest;
        Ok(head)
    }

    fn words<const N: usize>(&mut self, count: usize) -> Result<Vec<[u8; N]>, String> {
        Ok(self
            .take(N * count)?
            .chunks_exact(N)
            .map(|c| c.try_into().unwrap_or([0; N]))
            .collect())
    }

    fn u32s(&mut self, count: usize, below: usize, what: &str) -> Result<Vec<u32>, String> {
        let values: Vec<u32> = self
            .words::<4>(count)?
            .into_iter()
            .map(u32::from_le_bytes)
            .collect();
        match values.iter().find(|&&v| v as usize >= below) {
            Some(bad) => Err(format!("{what} {bad} is outside 0..{below}")),
            None => Ok(values),
        }
    }

    fn f64s(&mut self, count: usize) -> Result<Vec<f64>, String> {
        Ok(self
            .words::<8>(count)?
            .into_iter()
            .map(f64::from_le_bytes)
            .collect())
    }

    fn strings(&mut self, lengths: &[u32]) -> Result<Vec<String>, String> {
        lengths
            .iter()
            .map(|&len| {
                let bytes = self.take(len as usize)?;
                String::from_utf8(bytes.to_vec()).map_err(|_| "a name is not UTF-8".to_string())
            })
            .collect()
    }
}

/// The world a file made by [`encode`] holds, if it was made for `cfg`, or what is
/// wrong with it.
pub fn decode(
    bytes: &[u8],
    cfg: &SyntheticWorldConfig,
    defaults: &UserDefaults,
) -> Result<World, String> {
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return Err("not a world cache file".into());
    }
    let word =
        |i: usize| u32::from_le_bytes(bytes[8 + 4 * i..12 + 4 * i].try_into().unwrap_or([0; 4]));
    if word(0) != VERSION {
        return Err(format!("version {}, expected {VERSION}", word(0)));
    }
    let found = [word(1), word(2), word(3), word(4), word(5)].map(|w| w as usize);
    let expected = [
        cfg.tracks,
        cfg.dim,
        cfg.artists,
        cfg.users,
        cfg.interests_per_user,
    ];
    if found != expected {
        return Err(format!(
            "made for (tracks, dim, artists, users, interests per user) {found:?}, this config has {expected:?}"
        ));
    }
    let payload = &bytes[HEADER..];
    if hash(payload) != bytes[HEADER - 16..HEADER] {
        return Err("content hash mismatch".into());
    }
    let [tracks, dim, artists, users, per_user] = expected;
    let mut fields = Fields(payload);
    let embeddings: Vec<f32> = fields
        .words::<4>(tracks * dim)?
        .into_iter()
        .map(f32::from_le_bytes)
        .collect();
    let artist_of = fields.u32s(tracks, artists, "artist")?;
    let popularity = fields.u32s(tracks, tracks, "track")?;
    let interests = fields.u32s(users * per_user, tracks, "interest")?;
    let bias = fields.f64s(users)?;
    let sharpness = fields.f64s(users)?;
    let lengths = fields.u32s(artists + tracks, usize::MAX, "length")?;
    let artist_names = fields.strings(&lengths[..artists])?;
    let titles = fields.strings(&lengths[artists..])?;
    if !fields.0.is_empty() {
        return Err(format!("{} bytes too many", fields.0.len()));
    }
    let users = interests
        .chunks_exact(per_user.max(1))
        .zip(bias.into_iter().zip(sharpness))
        .map(|(interests, (consume_bias, consume_sharpness))| User {
            interests: interests.to_vec(),
            interest_neighbours: defaults.interest_neighbours,
            consume_bias,
            consume_sharpness,
            session_budget: defaults.session_budget,
            artist_discount_gamma: cfg.artist_discount_gamma,
        })
        .collect();
    let catalogue = Catalogue::new(dim, embeddings, artist_of, artist_names, titles, popularity);
    Ok(World::new(catalogue, users))
}
