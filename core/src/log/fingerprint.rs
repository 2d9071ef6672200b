//! A log's fingerprint: its bytes but for `latency`, hashed. Two runs of the same command
//! give the same fingerprint, so retraining on the same days' logs reuses its artifact.
//! Here, not in the pipeline that uses it, because it reads every byte of a log: this
//! crate is the optimized one.

use anyhow::Context;
use std::path::Path;

/// murmur3 x64-128 of a file's bytes, as 32 hex digits, read in a stream: what a shard's
/// `run.json` records of its log, and `sim merge` checks.
pub fn content_hash(path: &Path) -> anyhow::Result<String> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let hash = murmur3::murmur3_x64_128(&mut reader, 0)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(format!("{hash:032x}"))
}

/// Hash of a log's bytes with every `"latency":<value>` value left out: two runs of the
/// same command give the same fingerprint.
pub fn log_fingerprint(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let stripped = without_latency(&bytes);
    let hash = crate::world::murmur::murmur3_x64_128(&stripped);
    Ok(format!("{hash:032x}"))
}

pub fn without_latency(bytes: &[u8]) -> Vec<u8> {
    const FIELD: &[u8] = b"\"latency\":";
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(at) = memchr::memmem::find(rest, FIELD) {
        let value = &rest[at + FIELD.len()..];
        let end = value
            .iter()
            .position(|b| matches!(b, b',' | b'}' | b'\n'))
            .unwrap_or(value.len());
        out.extend_from_slice(&rest[..at + FIELD.len()]);
        rest = &value[end..];
    }
    out.extend_from_slice(rest);
    out
}
