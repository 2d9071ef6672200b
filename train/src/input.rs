//! Reading training input from files: event logs (JSON Lines of [`botify_sim_core::log::Event`])
//! and the catalogue's `tracks.json`. Every error names the file and line at fault.
//!
//! Logs are read in blocks of lines; the lines of a block are parsed in parallel and
//! kept in file order. Only the fields training needs are decoded (`message`, `user`,
//! `track`, `time`); other fields are not checked.

use super::Interaction;
use botify_sim_core::log::Message;
use rayon::prelude::*;
use serde::Deserialize;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Lines parsed per parallel block.
const BLOCK_LINES: usize = 65_536;

#[derive(Debug, Error)]
pub enum InputError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: not an event ({source})", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        source: serde_json::Error,
    },
    #[error("{}:{line}: {field} {value} does not fit in 32 bits", path.display())]
    IdTooLarge {
        path: PathBuf,
        line: usize,
        field: &'static str,
        value: u64,
    },
    #[error(
        "{}:{line}: track {track} is not in the catalogue ({n_tracks} tracks, ids 0..{n_tracks})",
        path.display()
    )]
    TrackOutOfRange {
        path: PathBuf,
        line: usize,
        track: u64,
        n_tracks: usize,
    },
    #[error("{}:{line}: listen time {time} is not a finite number", path.display())]
    BadTime {
        path: PathBuf,
        line: usize,
        time: f64,
    },
    #[error("{}:{line}: not a track ({source})", path.display())]
    TrackParse {
        path: PathBuf,
        line: usize,
        source: serde_json::Error,
    },
    #[error("{}:{line}: expected track id {expected} (ids must be 0..N-1 in order), found {found}", path.display())]
    TrackOrder {
        path: PathBuf,
        line: usize,
        expected: usize,
        found: u64,
    },
    #[error("{}: no tracks", path.display())]
    NoTracks { path: PathBuf },
}

#[derive(Deserialize)]
struct LogLine {
    message: Message,
    user: u64,
    track: u64,
    time: f64,
}

/// One play of a log and whether its event ended the session (a `last` event): what the
/// next-track trainer needs to know where one session stops and the next begins.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Play {
    pub interaction: Interaction,
    pub ends_session: bool,
}

/// Plays of one log file (both `next` and `last` events), in file order. Blank lines are
/// skipped. With `n_tracks`, a track id outside `0..n_tracks` is an error.
pub fn read_log(path: &Path, n_tracks: Option<usize>) -> Result<Vec<Interaction>, InputError> {
    Ok(read_plays(path, n_tracks)?
        .into_iter()
        .map(|p| p.interaction)
        .collect())
}

/// As [`read_log`], keeping which events ended a session.
pub fn read_plays(path: &Path, n_tracks: Option<usize>) -> Result<Vec<Play>, InputError> {
    let io = |source| InputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path).map_err(io)?);
    let mut out = Vec::new();
    let mut block: Vec<String> = Vec::with_capacity(BLOCK_LINES);
    let mut first_line = 1;
    loop {
        block.clear();
        let mut eof = false;
        while block.len() < BLOCK_LINES {
            let mut s = String::new();
            if reader.read_line(&mut s).map_err(io)? == 0 {
                eof = true;
                break;
            }
            block.push(s);
        }
        // Collected whole, then checked in line order: the error named is the first bad
        // line's, whichever thread found it first.
        let parsed: Vec<Result<Option<Play>, InputError>> = block
            .par_iter()
            .enumerate()
            .map(|(i, s)| parse_line(path, first_line + i, s, n_tracks))
            .collect();
        for play in parsed {
            out.extend(play?);
        }
        first_line += block.len();
        if eof {
            return Ok(out);
        }
    }
}

fn parse_line(
    path: &Path,
    line: usize,
    s: &str,
    n_tracks: Option<usize>,
) -> Result<Option<Play>, InputError> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    let e: LogLine = serde_json::from_str(s).map_err(|source| InputError::Parse {
        path: path.to_path_buf(),
        line,
        source,
    })?;
    let id = |field, value: u64| {
        u32::try_from(value).map_err(|_| InputError::IdTooLarge {
            path: path.to_path_buf(),
            line,
            field,
            value,
        })
    };
    if let Some(n) = n_tracks
        && e.track >= n as u64
    {
        return Err(InputError::TrackOutOfRange {
            path: path.to_path_buf(),
            line,
            track: e.track,
            n_tracks: n,
        });
    }
    if !e.time.is_finite() {
        return Err(InputError::BadTime {
            path: path.to_path_buf(),
            line,
            time: e.time,
        });
    }
    Ok(Some(Play {
        interaction: Interaction {
            user: id("user", e.user)?,
            track: id("track", e.track)?,
            time: e.time as f32,
        },
        ends_session: e.message == Message::Last,
    }))
}

#[derive(Deserialize)]
struct TrackLine {
    track: u64,
    artist: String,
}

/// The artist index of every track of a course `tracks.json` (JSON Lines
/// `{"track": i, "artist": "...", ...}`, ids exactly `0..N-1` in order); artists are
/// numbered in order of first appearance.
pub fn read_tracks(path: &Path) -> Result<Vec<u32>, InputError> {
    let io = |source| InputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let reader = BufReader::new(File::open(path).map_err(io)?);
    let mut artists: HashMap<String, u32> = HashMap::new();
    let mut artist_of = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(io)?;
        if line.trim().is_empty() {
            continue;
        }
        let t: TrackLine =
            serde_json::from_str(&line).map_err(|source| InputError::TrackParse {
                path: path.to_path_buf(),
                line: i + 1,
                source,
            })?;
        if t.track != artist_of.len() as u64 {
            return Err(InputError::TrackOrder {
                path: path.to_path_buf(),
                line: i + 1,
                expected: artist_of.len(),
                found: t.track,
            });
        }
        let next = artists.len() as u32;
        artist_of.push(*artists.entry(t.artist).or_insert(next));
    }
    if artist_of.is_empty() {
        return Err(InputError::NoTracks {
            path: path.to_path_buf(),
        });
    }
    Ok(artist_of)
}
