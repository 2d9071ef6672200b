//! The neighbour sets of a world's interest tracks, cached on disk as one flat binary
//! file: `<cache>/neighbours/<key>.bin`, where the key hashes everything the sets depend
//! on (embeddings, the interest tracks, `k`). A warm start reads ~1 MB instead of
//! searching the whole catalogue once per interest.
//!
//! Layout (little endian): magic `BSIMNBR\n`, version, tracks in the catalogue, `k`
//! (neighbours per set, at most the catalogue), sets, a murmur3 x64-128 hash of the
//! payload (16 bytes); payload: the interest track ids (ascending), then `k` neighbour
//! ids per interest, best first. A file that fails any check is computed again.

use super::World;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

pub const MAGIC: &[u8; 8] = b"BSIMNBR\n";
/// Bumped when the layout or the search's results change.
const VERSION: u32 = 1;
pub const HEADER: usize = 8 + 4 * 4 + 16;

/// Where the neighbour sets came from, for the start-up line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Read,
    /// Computed (or generated) and saved to the cache.
    Computed,
    /// Computed, but the cache could not be written (a warning said why).
    NotSaved,
}

/// The sorted, distinct interest tracks of every user: what episodes start from.
pub fn interest_tracks(world: &World) -> Vec<u32> {
    let mut tracks: Vec<u32> = world
        .users
        .iter()
        .flat_map(|u| u.interests.iter().copied())
        .collect();
    tracks.sort_unstable();
    tracks.dedup();
    tracks
}

/// The cache file of `world`'s neighbour sets under `cache_dir`.
pub fn path(world: &World, cache_dir: &Path) -> PathBuf {
    let cat = &world.catalogue;
    let mut bytes = Vec::with_capacity(16 + 4 * (cat.embeddings.len() + world.users.len() * 3));
    for n in [
        VERSION as u64,
        cat.dim as u64,
        cat.len() as u64,
        world.neighbours.k() as u64,
    ] {
        bytes.extend_from_slice(&n.to_le_bytes());
    }
    bytes.extend(cat.embeddings.iter().flat_map(|x| x.to_le_bytes()));
    bytes.extend(interest_tracks(world).iter().flat_map(|t| t.to_le_bytes()));
    let key = super::murmur::murmur3_x64_128(&bytes);
    cache_dir.join("neighbours").join(format!("{key:032x}.bin"))
}

/// Fills `world`'s neighbour sets of every interest track from the cache file, or computes
/// them (in parallel) and writes the file; `rebuild` ignores the file. A damaged file is
/// reported in one warning line and replaced. Once `stop` is set (Ctrl-C) the search
/// ends with an [`Interrupted`](crate::interrupt::Interrupted) error and writes nothing.
pub fn load_or_compute(
    world: &World,
    cache_dir: &Path,
    rebuild: bool,
    stop: &AtomicBool,
) -> anyhow::Result<Origin> {
    let clock = Instant::now();
    let file = path(world, cache_dir);
    let tracks = interest_tracks(world);
    let k = world.neighbours.k().min(world.catalogue.len());
    if !rebuild && file.exists() {
        let read = std::fs::read(&file)
            .map_err(|e| e.to_string())
            .and_then(|bytes| decode(&bytes, world.catalogue.len(), k, &tracks));
        match read {
            Ok(sets) => {
                for (&track, set) in tracks.iter().zip(sets.chunks_exact(k.max(1))) {
                    world.neighbours.set(track, set);
                }
                crate::note!(
                    "neighbours: {} interests x {k}, read from {} ({:.3} s)",
                    tracks.len(),
                    file.display(),
                    clock.elapsed().as_secs_f64()
                );
                return Ok(Origin::Read);
            }
            Err(reason) => crate::note!(
                "warning: neighbour cache {} is damaged ({reason}); computing it again",
                file.display()
            ),
        }
    }
    crate::note!(
        "neighbours: searching the {k} nearest of {} tracks for {} interests",
        world.catalogue.len(),
        tracks.len()
    );
    world
        .neighbours
        .warm_or_stop(&world.catalogue, &tracks, stop)
        .context("the neighbour search stopped; nothing was cached")?;
    let sets: Vec<&[u32]> = tracks.iter().map(|&t| world.nearest(t, k)).collect();
    let bytes = encode(world.catalogue.len(), k, &tracks, &sets);
    // A cache that cannot be written (read-only, full disk) costs the next run time only.
    let saved = file
        .parent()
        .map_or(Ok(()), |dir| {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the cache {}", dir.display()))
        })
        .and_then(|()| crate::atomic_file::write(&file, &bytes));
    match saved {
        Ok(()) => crate::note!(
            "neighbours: {} interests x {k}, computed in {:.2} s, saved to {}",
            tracks.len(),
            clock.elapsed().as_secs_f64(),
            file.display()
        ),
        Err(e) => {
            crate::problem!("warning: neighbour cache not saved: {e:#}");
            return Ok(Origin::NotSaved);
        }
    }
    Ok(Origin::Computed)
}

fn hash(payload: &[u8]) -> [u8; 16] {
    super::murmur::murmur3_x64_128(payload).to_le_bytes()
}

/// The file's bytes: header, then the tracks, then their `k` neighbours each.
pub fn encode(n_tracks: usize, k: usize, tracks: &[u32], sets: &[&[u32]]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(4 * tracks.len() * (k + 1));
    payload.extend(tracks.iter().flat_map(|t| t.to_le_bytes()));
    payload.extend(
        sets.iter()
            .flat_map(|s| s.iter())
            .flat_map(|t| t.to_le_bytes()),
    );
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    for n in [VERSION, n_tracks as u32, k as u32, tracks.len() as u32] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out.extend_from_slice(&hash(&payload));
    out.extend_from_slice(&payload);
    out
}

/// The neighbour ids (`k` per track of `tracks`) of a file made by [`encode`] for this
/// catalogue size, `k` and tracks, or what is wrong with it.
pub fn decode(bytes: &[u8], n_tracks: usize, k: usize, tracks: &[u32]) -> Result<Vec<u32>, String> {
    let word = |i: usize| -> u32 {
        let at = 8 + 4 * i;
        u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
    };
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return Err("not a neighbour cache file".into());
    }
    let (version, n, width, sets) = (word(0), word(1), word(2), word(3));
    if version != VERSION {
        return Err(format!("version {version}, expected {VERSION}"));
    }
    if (n as usize, width as usize, sets as usize) != (n_tracks, k, tracks.len()) {
        return Err(format!(
            "made for {n} tracks, {width} neighbours, {sets} interests; this world has {n_tracks}, {k}, {}",
            tracks.len()
        ));
    }
    let payload = &bytes[HEADER..];
    if payload.len() != 4 * tracks.len() * (k + 1) {
        return Err(format!(
            "{} bytes, expected {}",
            bytes.len(),
            HEADER + 4 * tracks.len() * (k + 1)
        ));
    }
    if hash(payload) != bytes[HEADER - 16..HEADER] {
        return Err("content hash mismatch".into());
    }
    let ids: Vec<u32> = payload
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let (stored_tracks, sets) = ids.split_at(tracks.len());
    if stored_tracks != tracks {
        return Err("its interest tracks differ from this world's".into());
    }
    if let Some(bad) = sets.iter().find(|&&t| t as usize >= n_tracks) {
        return Err(format!(
            "neighbour {bad} is outside the catalogue 0..{n_tracks}"
        ));
    }
    Ok(sets.to_vec())
}
