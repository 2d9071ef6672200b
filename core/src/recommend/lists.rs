//! Id-keyed recommendation lists from JSON Lines files: per user (`{"user", "tracks"}`)
//! or per track (`{"track", "recommendations"}`).

use anyhow::{Context, bail};
use serde_json::Value;
use std::io::BufRead;
use std::path::Path;

/// Lists indexed by key id; an absent key has an empty list.
#[derive(Debug, Default)]
pub struct IdLists {
    lists: Vec<Box<[u32]>>,
}

impl IdLists {
    /// The non-empty list of `key`, if any.
    pub fn get(&self, key: u32) -> Option<&[u32]> {
        self.lists
            .get(key as usize)
            .map(|l| &l[..])
            .filter(|l| !l.is_empty())
    }

    pub fn keys_with_lists(&self) -> usize {
        self.lists.iter().filter(|l| !l.is_empty()).count()
    }

    pub fn from_pairs(pairs: impl IntoIterator<Item = (u32, Vec<u32>)>) -> IdLists {
        let mut lists: Vec<Box<[u32]>> = Vec::new();
        for (key, tracks) in pairs {
            let k = key as usize;
            if lists.len() <= k {
                lists.resize_with(k + 1, Default::default);
            }
            lists[k] = tracks.into_boxed_slice();
        }
        IdLists { lists }
    }

    /// Reads `{"<key_field>": id, "<list_field>": [track, ...]}` per line; every track must
    /// be in `0..n_tracks`. Errors name the file, the line and the value at fault.
    pub fn read(
        path: &Path,
        key_field: &str,
        list_field: &str,
        n_tracks: usize,
    ) -> anyhow::Result<IdLists> {
        let file = std::fs::File::open(path)
            .with_context(|| format!("cannot open recommendation file {}", path.display()))?;
        let mut pairs = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let at = || format!("{}:{}", path.display(), i + 1);
            let line = line.with_context(|| format!("{}: cannot read", at()))?;
            if line.trim().is_empty() {
                continue;
            }
            let value: Value =
                serde_json::from_str(&line).with_context(|| format!("{}: invalid JSON", at()))?;
            let key = value
                .get(key_field)
                .and_then(Value::as_u64)
                .filter(|k| *k <= u32::MAX as u64)
                .with_context(|| format!("{}: missing or invalid \"{key_field}\" id", at()))?
                as u32;
            let items = value
                .get(list_field)
                .and_then(Value::as_array)
                .with_context(|| format!("{}: missing \"{list_field}\" array", at()))?;
            let mut tracks = Vec::with_capacity(items.len());
            for item in items {
                match item.as_u64() {
                    Some(t) if (t as usize) < n_tracks => tracks.push(t as u32),
                    _ => bail!(
                        "{}: {list_field} holds {item}, not a track id of the catalogue 0..{}",
                        at(),
                        n_tracks.saturating_sub(1)
                    ),
                }
            }
            if !seen.insert(key) {
                bail!("{}: duplicate {key_field} {key}", at());
            }
            pairs.push((key, tracks));
        }
        Ok(IdLists::from_pairs(pairs))
    }
}
