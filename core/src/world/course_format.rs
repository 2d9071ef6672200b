//! The course's world files: `tracks.json` + `tracks.npy` + `users.json` (SIMULATOR.md §1),
//! plus an optional `top_tracks.json` (a JSON array of track ids, most popular first).

use super::{Catalogue, User, World, WorldError, npy};
use crate::config::UserDefaults;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

#[derive(Deserialize)]
struct TrackLine {
    track: i64,
    artist: String,
    title: String,
}

#[derive(Deserialize)]
struct UserLine {
    user: i64,
    interests: Vec<i64>,
    interest_neighbours: Option<usize>,
    consume_bias: Option<f64>,
    consume_sharpness: Option<f64>,
    session_budget: Option<i32>,
    artist_discount_gamma: Option<f64>,
}

#[derive(Serialize)]
struct TrackLineOut<'a> {
    track: usize,
    artist: &'a str,
    title: &'a str,
}

#[derive(Serialize)]
struct UserLineOut<'a> {
    user: usize,
    interests: &'a [u32],
    interest_neighbours: usize,
    consume_bias: f64,
    consume_sharpness: f64,
    session_budget: i32,
    artist_discount_gamma: f64,
}

/// Loads a course-format directory; missing per-user keys take `defaults`.
pub fn load(dir: &Path, defaults: &UserDefaults) -> Result<World, WorldError> {
    let tracks_path = dir.join("tracks.json");
    let tracks: Vec<TrackLine> = read_json_lines(&tracks_path)?;
    let tracks = order_by_id(tracks, &tracks_path, "track", |t| t.track)?;
    let (embeddings, dim) = read_embeddings(&dir.join("tracks.npy"), tracks.len())?;

    let mut artist_index: HashMap<String, u32> = HashMap::new();
    let mut artist_names = Vec::new();
    let mut artist_of = Vec::with_capacity(tracks.len());
    let mut titles = Vec::with_capacity(tracks.len());
    for t in tracks {
        let next = artist_index.len() as u32;
        let idx = *artist_index.entry(t.artist.clone()).or_insert_with(|| {
            artist_names.push(t.artist);
            next
        });
        artist_of.push(idx);
        titles.push(t.title);
    }
    let n = artist_of.len();
    let popularity = read_popularity(&dir.join("top_tracks.json"), n)?;
    let catalogue = Catalogue::new(dim, embeddings, artist_of, artist_names, titles, popularity);

    let users_path = dir.join("users.json");
    let lines: Vec<UserLine> = read_json_lines(&users_path)?;
    let lines = order_by_id(lines, &users_path, "user", |u| u.user)?;
    let users = lines
        .into_iter()
        .map(|line| user_from_line(line, n, defaults, &users_path))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(World::new(catalogue, users))
}

fn user_from_line(
    line: UserLine,
    n_tracks: usize,
    defaults: &UserDefaults,
    path: &Path,
) -> Result<User, WorldError> {
    let bad = |message: String| WorldError::file(path, format!("user {}: {message}", line.user));
    if line.interests.is_empty() {
        return Err(bad("has no interests".into()));
    }
    let mut interests = Vec::with_capacity(line.interests.len());
    for &i in &line.interests {
        if i < 0 || i as usize >= n_tracks {
            return Err(bad(format!(
                "interest {i} is not a track id (expected 0..{})",
                n_tracks.saturating_sub(1)
            )));
        }
        interests.push(i as u32);
    }
    let params = UserDefaults {
        interest_neighbours: line
            .interest_neighbours
            .unwrap_or(defaults.interest_neighbours),
        consume_bias: line.consume_bias.unwrap_or(defaults.consume_bias),
        consume_sharpness: line.consume_sharpness.unwrap_or(defaults.consume_sharpness),
        session_budget: line.session_budget.unwrap_or(defaults.session_budget),
        artist_discount_gamma: line
            .artist_discount_gamma
            .unwrap_or(defaults.artist_discount_gamma),
    };
    params.validate("").map_err(bad)?;
    let user = User {
        interests,
        interest_neighbours: params.interest_neighbours,
        consume_bias: params.consume_bias,
        consume_sharpness: params.consume_sharpness,
        session_budget: params.session_budget,
        artist_discount_gamma: params.artist_discount_gamma,
    };
    Ok(user)
}

/// Parses every non-blank line; an error names the file and the line number.
fn read_json_lines<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, WorldError> {
    let text = std::fs::read_to_string(path).map_err(|source| WorldError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| WorldError::Line {
                path: path.to_path_buf(),
                line: i + 1,
                message: e.to_string(),
            })
        })
        .collect()
}

/// Sorts records by id and checks the ids are exactly `0..N-1`.
fn order_by_id<T>(
    mut items: Vec<T>,
    path: &Path,
    field: &str,
    id: impl Fn(&T) -> i64,
) -> Result<Vec<T>, WorldError> {
    if items.is_empty() {
        return Err(WorldError::file(path, format!("no {field}s in the file")));
    }
    items.sort_by_key(&id);
    for (expected, item) in items.iter().enumerate() {
        let got = id(item);
        if got == expected as i64 {
            continue;
        }
        let message = if expected > 0 && got == expected as i64 - 1 {
            format!("duplicate {field} id {got}")
        } else {
            format!(
                "{field} ids must be exactly 0..{} but id {expected} is missing (found {got})",
                items.len() - 1
            )
        };
        return Err(WorldError::file(path, message));
    }
    Ok(items)
}

/// Reads an `[N, D]` float array as row-major f32, accepting `<f4`, `>f4` and `<f8`.
fn read_embeddings(path: &Path, n_tracks: usize) -> Result<(Vec<f32>, usize), WorldError> {
    let bytes = std::fs::read(path).map_err(|source| WorldError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |m: String| WorldError::file(path, m);
    let npy::Array { shape, values } = npy::read_f32(&bytes).map_err(bad)?;
    if shape.len() != 2 {
        return Err(bad(format!(
            "expected a 2-D array [tracks, dim], got shape {shape:?}"
        )));
    }
    let (rows, dim) = (shape[0], shape[1]);
    if rows != n_tracks {
        return Err(bad(format!(
            "has {rows} rows but tracks.json has {n_tracks} tracks"
        )));
    }
    if dim == 0 {
        return Err(bad("embedding dimension is 0".into()));
    }
    if let Some(pos) = values.iter().position(|x| !x.is_finite()) {
        return Err(bad(format!(
            "row {} (track {}) column {} is {} (embeddings must be finite)",
            pos / dim,
            pos / dim,
            pos % dim,
            values[pos]
        )));
    }
    Ok((values, dim))
}

/// `top_tracks.json` when present (its ids first, the rest by id); id order otherwise.
fn read_popularity(path: &Path, n_tracks: usize) -> Result<Vec<u32>, WorldError> {
    if !path.exists() {
        return Ok((0..n_tracks as u32).collect());
    }
    let top = read_top_tracks(path, n_tracks)?;
    let mut seen = vec![false; n_tracks];
    let mut order = Vec::with_capacity(n_tracks);
    for t in top.into_iter().chain(0..n_tracks as u32) {
        if !seen[t as usize] {
            seen[t as usize] = true;
            order.push(t);
        }
    }
    Ok(order)
}

/// A course `top_tracks.json`: a JSON array of track ids, most popular first.
pub fn read_top_tracks(path: &Path, n_tracks: usize) -> Result<Vec<u32>, WorldError> {
    let text = std::fs::read_to_string(path).map_err(|source| WorldError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let ids: Vec<i64> = serde_json::from_str(&text)
        .map_err(|e| WorldError::file(path, format!("expected a JSON array of track ids: {e}")))?;
    ids.into_iter()
        .map(|t| {
            if t < 0 || t as usize >= n_tracks {
                Err(WorldError::file(
                    path,
                    format!("track id {t} is outside the catalogue 0..{}", n_tracks - 1),
                ))
            } else {
                Ok(t as u32)
            }
        })
        .collect()
}

/// Writes `world` in the course format (plus `top_tracks.json`) into `dir`; each file
/// whole or not at all.
pub fn export(world: &World, dir: &Path) -> anyhow::Result<()> {
    use crate::atomic_file::{write, write_with};
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("{}: cannot create: {e}", dir.display()))?;
    let cat = &world.catalogue;
    write_with(&dir.join("tracks.json"), |tracks| {
        for t in 0..cat.len() {
            let line = TrackLineOut {
                track: t,
                artist: cat.artist_name(t as u32),
                title: &cat.titles[t],
            };
            serde_json::to_writer(&mut *tracks, &line)?;
            tracks.write_all(b"\n")?;
        }
        Ok(())
    })?;
    write_with(&dir.join("tracks.npy"), |out| {
        npy::write_f32(out, cat.len(), cat.dim, &cat.embeddings)
    })?;
    write_with(&dir.join("users.json"), |users| {
        for (id, u) in world.users.iter().enumerate() {
            let line = UserLineOut {
                user: id,
                interests: &u.interests,
                interest_neighbours: u.interest_neighbours,
                consume_bias: u.consume_bias,
                consume_sharpness: u.consume_sharpness,
                session_budget: u.session_budget,
                artist_discount_gamma: u.artist_discount_gamma,
            };
            serde_json::to_writer(&mut *users, &line)?;
            users.write_all(b"\n")?;
        }
        Ok(())
    })?;
    write(
        &dir.join("top_tracks.json"),
        &serde_json::to_vec(&cat.popularity)?,
    )
}
