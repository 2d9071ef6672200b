//! Streaming reader of botify-compatible event logs: our `events.jsonl` (with `session`
//! ids) and the botify service's `data.json` (without), from several files at once.
//!
//! Files are read in blocks of a few MiB; the lines of a block are parsed in parallel
//! (rayon) with borrowed, zero-copy deserialization into a compact [`ParsedEvent`]. The
//! `experiments` object of an event is kept as an id into [`ExperimentSets`] (logs repeat
//! the same few objects), so a block costs memory, the whole log never does.
//!
//! A malformed line is an error naming the file and the 1-based line number, unless
//! `skip_bad_lines` is set: then it is counted (with the first few messages kept).

use crate::log::Message;
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// FxHash's multiply-rotate hasher: fast for the short keys of log processing (ids,
/// small strings); keys come from a log, not from an adversary.
#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
        let mut word = [0u8; 8];
        let rest = chunks.remainder();
        word[..rest.len()].copy_from_slice(rest);
        self.write_u64(u64::from_le_bytes(word) ^ rest.len() as u64);
    }
    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`FxHasher`]s.
pub type FxBuildHasher = std::hash::BuildHasherDefault<FxHasher>;

/// Bytes read per block (a block is split at line ends and parsed in parallel).
pub const DEFAULT_BLOCK_SIZE: usize = 8 << 20;

/// How many bad-line messages are kept when bad lines are skipped.
const KEPT_BAD_LINE_MESSAGES: usize = 5;

/// What can go wrong while reading logs.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}:{line}: malformed event: {message} (use --skip-bad-lines to count and skip such lines)"
    )]
    Malformed {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{path}: no event logs (*.jsonl, *.json, *.json.N) in this directory")]
    EmptyDirectory { path: PathBuf },
}

/// One event, reduced to what the report needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParsedEvent {
    /// Milliseconds.
    pub timestamp: u64,
    pub user: u64,
    pub time: f64,
    /// Seconds.
    pub latency: f64,
    /// Explicit session id (our logs); `None` in the botify service's `data.json`.
    pub session: Option<u64>,
    /// The line has an `episode`: a simulator's log, whose session ids count the episodes
    /// of one run (so they are unique within its file only). `sim serve` writes none: its
    /// ids are unique across its replicas' logs and restarts.
    pub episode: bool,
    /// A `"last"` event, which ends its session.
    pub last: bool,
    /// Id of the event's `experiments` object in [`ExperimentSets`].
    pub experiments: u32,
    /// The previous track (`None` when the line has none) and the answer (`None` for a
    /// `"last"` event): not used by the report, read for `botify_sim.read_log`.
    pub track: Option<u64>,
    pub recommendation: Option<u64>,
}

/// The distinct `experiments` objects seen so far, each parsed once.
#[derive(Debug, Default)]
pub struct ExperimentSets {
    index: HashMap<String, u32>,
    sets: Vec<Vec<(String, String)>>,
}

impl ExperimentSets {
    /// The (experiment, treatment) pairs of set `id`.
    pub fn get(&self, id: u32) -> &[(String, String)] {
        self.sets.get(id as usize).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Number of distinct sets.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    fn intern(&mut self, raw: &str) -> Result<u32, String> {
        if let Some(&id) = self.index.get(raw) {
            return Ok(id);
        }
        let map = parse_experiments(raw)?;
        let id = self.sets.len() as u32;
        self.sets.push(map.into_iter().collect());
        self.index.insert(raw.to_owned(), id);
        Ok(id)
    }
}

fn parse_experiments(raw: &str) -> Result<BTreeMap<String, String>, String> {
    serde_json::from_str(raw)
        .map_err(|e| format!("`experiments` must map experiment names to treatment names: {e}"))
}

/// Counters of a read.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ReadStats {
    pub files: usize,
    /// Events taken from each file, in the order of the files given.
    pub events_per_file: Vec<u64>,
    pub bytes: u64,
    pub events: u64,
    pub bad_lines: u64,
    /// The first few bad lines, as `file:line: message`.
    pub bad_line_examples: Vec<String>,
}

impl ReadStats {
    fn record_bad(&mut self, path: &Path, line: u64, message: &str) {
        self.bad_lines += 1;
        if self.bad_line_examples.len() < KEPT_BAD_LINE_MESSAGES {
            self.bad_line_examples
                .push(format!("{}:{line}: {message}", path.display()));
        }
    }
}

/// Options of a read.
#[derive(Debug, Clone)]
pub struct ReaderOptions {
    pub skip_bad_lines: bool,
    pub block_size: usize,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        Self {
            skip_bad_lines: false,
            block_size: DEFAULT_BLOCK_SIZE,
        }
    }
}

/// Files `sim` writes beside its logs (`sim run`, `sim report`, `sim train`): never logs.
const OWN_OUTPUTS: [&str; 2] = ["ab.json", "run.json"];

/// The log files that inputs name: files as given, directories expanded.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Inputs {
    pub files: Vec<PathBuf>,
    /// Files in the directories that are not event logs, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Expands directories into the event logs they hold: `*.jsonl`, `*.json` and rotated
/// logs `*.json.N` (the botify service's `data.json.1` ... `data.json.N`), oldest rotation
/// first; files are kept as given. Files of a directory that are not event logs (a
/// report's `ab.json`, `run.json`, a training summary, any `.json` whose first line is not
/// one JSON object) are skipped and listed.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Inputs, ReadError> {
    let mut expanded = Inputs::default();
    for input in inputs {
        if !input.is_dir() {
            expanded.files.push(input.clone());
            continue;
        }
        let io = |source| ReadError::Io {
            path: input.clone(),
            source,
        };
        let mut found = Vec::new();
        for entry in std::fs::read_dir(input).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let Some(order) = log_name_order(&path) else {
                continue;
            };
            if !path.is_file() {
                continue;
            }
            match not_a_log(&path) {
                Some(reason) => expanded.skipped.push((path, reason)),
                None => found.push((order, path)),
            }
        }
        if found.is_empty() {
            return Err(ReadError::EmptyDirectory {
                path: input.clone(),
            });
        }
        found.sort();
        expanded
            .files
            .extend(found.into_iter().map(|(_, path)| path));
    }
    Ok(expanded)
}

/// For a log file name, its sort key within a directory: the base name, then the
/// rotation (`data.json.3` before `data.json.2` before `data.json`: oldest first, so
/// events with equal timestamps keep their order). `None`: not a log name.
fn log_name_order(path: &Path) -> Option<(String, Reverse<u64>)> {
    let name = path.file_name()?.to_str()?;
    if name.ends_with(".jsonl") || name.ends_with(".json") {
        return Some((name.to_string(), Reverse(0)));
    }
    let (base, rotation) = name.rsplit_once('.')?;
    let rotation: u64 = rotation.parse().ok().filter(|n| *n > 0)?;
    base.ends_with(".json")
        .then(|| (base.to_string(), Reverse(rotation)))
}

/// Why a file found in a directory is not an event log, if it is not.
fn not_a_log(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    if OWN_OUTPUTS.contains(&name) || name.ends_with(".summary.json") {
        return Some("an output of sim, not an event log".to_string());
    }
    if name.ends_with(".jsonl") {
        return None;
    }
    // A pretty-printed JSON document starts with a lone `{` or `[`; an event log's first
    // line is a whole event.
    let mut head = Vec::new();
    File::open(path)
        .and_then(|f| f.take(64 << 10).read_to_end(&mut head))
        .ok()?;
    let first = head
        .split(|b| *b == b'\n')
        .map(|l| l.trim_ascii())
        .find(|l| !l.is_empty())?;
    let is_event = first.starts_with(b"{")
        && first.ends_with(b"}")
        && memchr::memmem::find(first, b"\"message\"").is_some();
    (!is_event).then(|| "its first line is not an event".to_string())
}

/// Reads `files` and calls `visit(file_index, event, sets)` for every event.
///
/// With one file, events come in file order. With several, the files are merged by
/// timestamp (ties: lower file index first, then file order), so that logs of several
/// service replicas, each in time order, come out as one log in time order.
pub fn read_events<F>(
    files: &[PathBuf],
    options: &ReaderOptions,
    sets: &mut ExperimentSets,
    mut visit: F,
) -> Result<ReadStats, ReadError>
where
    F: FnMut(usize, &ParsedEvent, &ExperimentSets),
{
    let mut stats = ReadStats {
        files: files.len(),
        events_per_file: vec![0; files.len()],
        ..ReadStats::default()
    };
    if files.len() == 1 {
        // Pipelined: parse block k+1 (in parallel pieces) while block k is integrated and
        // visited.
        let mut stream = FileStream::open(&files[0], options)?;
        let mut parsed: Option<Vec<Piece>> = None;
        loop {
            let block = stream.read_block(&mut stats)?;
            if block.is_none() && parsed.is_none() {
                break;
            }
            let position = &mut stream.position;
            let previous = parsed.take();
            let mut next = None;
            let mut done = Ok(());
            rayon::in_place_scope(|scope| {
                scope.spawn(|_| next = block.as_deref().map(parse_block));
                if let Some(pieces) = previous {
                    match position.integrate(pieces, sets, &mut stats) {
                        Ok(events) => {
                            for event in &events {
                                visit(0, event, sets);
                            }
                            stats.events_per_file[0] += events.len() as u64;
                        }
                        Err(e) => done = Err(e),
                    }
                }
            });
            done?;
            parsed = next;
        }
        return Ok(stats);
    }
    let mut streams = files
        .iter()
        .map(|f| FileStream::open(f, options))
        .collect::<Result<Vec<_>, _>>()?;
    let mut batches: Vec<(Vec<ParsedEvent>, usize)> = Vec::with_capacity(streams.len());
    let mut heap = BinaryHeap::new();
    for (i, stream) in streams.iter_mut().enumerate() {
        let batch = next_nonempty(stream, sets, &mut stats)?.unwrap_or_default();
        if let Some(first) = batch.first() {
            heap.push(Reverse((first.timestamp, i)));
        }
        batches.push((batch, 0));
    }
    while let Some(Reverse((_, i))) = heap.pop() {
        let (batch, pos) = &mut batches[i];
        visit(i, &batch[*pos], sets);
        stats.events_per_file[i] += 1;
        *pos += 1;
        if *pos == batch.len() {
            *batch = next_nonempty(&mut streams[i], sets, &mut stats)?.unwrap_or_default();
            *pos = 0;
        }
        if let Some(next) = batch.get(*pos) {
            heap.push(Reverse((next.timestamp, i)));
        }
    }
    Ok(stats)
}

fn next_nonempty(
    stream: &mut FileStream,
    sets: &mut ExperimentSets,
    stats: &mut ReadStats,
) -> Result<Option<Vec<ParsedEvent>>, ReadError> {
    while let Some(batch) = stream.next_batch(sets, stats)? {
        if !batch.is_empty() {
            return Ok(Some(batch));
        }
    }
    Ok(None)
}

/// One log file read block by block.
struct FileStream {
    position: Position,
    file: File,
    /// Bytes read but not yet parsed (the start of an unfinished line).
    carry: Vec<u8>,
    block_size: usize,
    eof: bool,
}

impl FileStream {
    fn open(path: &Path, options: &ReaderOptions) -> Result<Self, ReadError> {
        let file = File::open(path).map_err(|source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            position: Position {
                path: path.to_path_buf(),
                lines_before: 0,
                skip_bad_lines: options.skip_bad_lines,
            },
            file,
            carry: Vec::new(),
            block_size: options.block_size.max(1024),
            eof: false,
        })
    }

    /// Parses the next block of whole lines; `None` at the end of the file.
    fn next_batch(
        &mut self,
        sets: &mut ExperimentSets,
        stats: &mut ReadStats,
    ) -> Result<Option<Vec<ParsedEvent>>, ReadError> {
        let Some(block) = self.read_block(stats)? else {
            return Ok(None);
        };
        let pieces = parse_block(&block);
        self.position.integrate(pieces, sets, stats).map(Some)
    }

    /// Reads the next block of whole lines; `None` at the end of the file.
    fn read_block(&mut self, stats: &mut ReadStats) -> Result<Option<Vec<u8>>, ReadError> {
        if self.eof && self.carry.is_empty() {
            return Ok(None);
        }
        let mut block = std::mem::take(&mut self.carry);
        // Read until the block holds at least one line end (or the file ends).
        loop {
            if self.eof {
                break;
            }
            let start = block.len();
            // Appends without zero-filling the buffer first.
            let n = (&mut self.file)
                .take(self.block_size as u64)
                .read_to_end(&mut block)
                .map_err(|source| ReadError::Io {
                    path: self.position.path.clone(),
                    source,
                })?;
            stats.bytes += n as u64;
            if n == 0 {
                self.eof = true;
            }
            if memchr::memrchr(b'\n', &block[start..]).is_some() {
                break;
            }
        }
        let cut = if self.eof {
            block.len()
        } else {
            memchr::memrchr(b'\n', &block).map_or(block.len(), |p| p + 1)
        };
        self.carry = block[cut..].to_vec();
        block.truncate(cut);
        Ok(Some(block))
    }
}

/// Where a file's parsed blocks are: turns block-relative line numbers into file lines.
struct Position {
    path: PathBuf,
    /// Lines before the next block to integrate.
    lines_before: u64,
    skip_bad_lines: bool,
}

impl Position {
    /// Interns the pieces' experiment sets, reports bad lines, returns the events in order.
    fn integrate(
        &mut self,
        pieces: Vec<Piece>,
        sets: &mut ExperimentSets,
        stats: &mut ReadStats,
    ) -> Result<Vec<ParsedEvent>, ReadError> {
        let mut events = Vec::with_capacity(pieces.iter().map(|p| p.events.len()).sum());
        let mut line_base = self.lines_before;
        for piece in pieces {
            if let Some((line, message)) = piece.bad.first()
                && !self.skip_bad_lines
            {
                return Err(ReadError::Malformed {
                    path: self.path.clone(),
                    line: line_base + line,
                    message: message.clone(),
                });
            }
            for (line, message) in &piece.bad {
                stats.record_bad(&self.path, line_base + line, message);
            }
            let mut global = Vec::with_capacity(piece.sets.len());
            for (raw, line) in &piece.sets {
                match sets.intern(raw) {
                    Ok(id) => global.push(id),
                    // Already validated while parsing; kept for safety.
                    Err(message) => {
                        return Err(ReadError::Malformed {
                            path: self.path.clone(),
                            line: line_base + line,
                            message,
                        });
                    }
                }
            }
            for mut event in piece.events {
                event.experiments = global[event.experiments as usize];
                events.push(event);
            }
            line_base += piece.lines;
        }
        self.lines_before = line_base;
        stats.events += events.len() as u64;
        Ok(events)
    }
}

/// Parses a block of whole lines in parallel pieces.
fn parse_block(block: &[u8]) -> Vec<Piece> {
    let pieces = split_pieces(block, rayon::current_num_threads() * 4);
    pieces
        .par_iter()
        .map(|&(a, b)| parse_piece(&block[a..b]))
        .collect()
}

/// Splits `block` into about `n` ranges that end at line ends.
fn split_pieces(block: &[u8], n: usize) -> Vec<(usize, usize)> {
    let n = n.max(1);
    let target = block.len().div_ceil(n).max(64 << 10);
    let mut pieces = Vec::with_capacity(n);
    let mut start = 0;
    while start < block.len() {
        let mut end = (start + target).min(block.len());
        if end < block.len() {
            end = memchr::memchr(b'\n', &block[end..]).map_or(block.len(), |p| end + p + 1);
        }
        pieces.push((start, end));
        start = end;
    }
    pieces
}

/// The fields the report reads (and the ids it checks), borrowed from the line. Ids are
/// read raw so that a bad one is reported by name.
#[derive(Deserialize)]
pub struct Line<'a> {
    message: Message,
    #[serde(borrow)]
    timestamp: &'a RawValue,
    #[serde(borrow)]
    user: &'a RawValue,
    time: f64,
    latency: f64,
    #[serde(borrow)]
    experiments: &'a RawValue,
    #[serde(default, borrow)]
    session: Option<&'a RawValue>,
    #[serde(default, borrow)]
    track: Option<&'a RawValue>,
    #[serde(default, borrow)]
    recommendation: Option<&'a RawValue>,
    #[serde(default)]
    episode: Option<serde::de::IgnoredAny>,
}

impl<'a> Line<'a> {
    pub fn into_fast(self) -> Result<FastLine<'a>, String> {
        Ok(FastLine {
            track: optional_id("track", self.track)?,
            recommendation: optional_id("recommendation", self.recommendation)?,
            last: self.message == Message::Last,
            timestamp: id("timestamp", self.timestamp)?,
            user: id("user", self.user)?,
            time: self.time,
            latency: self.latency,
            experiments: self.experiments.get(),
            session: optional_id("session", self.session)?,
            episode: self.episode.is_some(),
        })
    }
}

/// A JSON non-negative integer (ids and millisecond timestamps).
fn id(name: &str, raw: &RawValue) -> Result<u64, String> {
    let text = raw.get();
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<u64>() {
        Ok(v) if digits => Ok(v),
        _ => Err(format!(
            "`{name}` must be a non-negative integer, got {text}"
        )),
    }
}

/// [`id`], or `null` / absent.
fn optional_id(name: &str, raw: Option<&RawValue>) -> Result<Option<u64>, String> {
    match raw {
        Some(raw) if raw.get() != "null" => id(name, raw).map(Some),
        _ => Ok(None),
    }
}

/// The values no event can hold: a listened share outside [0, 1], a negative or
/// infinite latency.
fn check_values(line: &FastLine) -> Result<(), String> {
    if !(0.0..=1.0).contains(&line.time) {
        return Err(format!("`time` must be in [0, 1], got {:?}", line.time));
    }
    if !(line.latency.is_finite() && line.latency >= 0.0) {
        return Err(format!(
            "`latency` must be a finite number of seconds >= 0, got {:?}",
            line.latency
        ));
    }
    Ok(())
}

/// The result of parsing a range of lines.
pub struct Piece {
    pub events: Vec<ParsedEvent>,
    /// Lines in the range (line ends, plus an unterminated last line).
    lines: u64,
    /// Distinct raw `experiments` objects, with the (0-based within the piece, +1) line
    /// where each was first seen; events refer to them by index.
    sets: Vec<(String, u64)>,
    /// (1-based line within the piece, message).
    pub bad: Vec<(u64, String)>,
}

/// The fields of a line as the fast path reads them.
pub struct FastLine<'a> {
    pub last: bool,
    pub timestamp: u64,
    pub user: u64,
    pub time: f64,
    pub latency: f64,
    pub experiments: &'a str,
    pub session: Option<u64>,
    episode: bool,
    pub track: Option<u64>,
    pub recommendation: Option<u64>,
}

/// A byte cursor over one line (valid UTF-8, so token slices need no re-validation).
struct Cursor<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\r' | b'\n') {
            self.i += 1;
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }

    /// A string without escapes (the fast path gives up on escapes).
    #[inline]
    fn plain_str(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        // Keys and values read here are short: a plain loop beats a SIMD search.
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b'"' => {
                    self.i += 1;
                    return Some(&self.b[start..self.i - 1]);
                }
                b'\\' => return None,
                _ => self.i += 1,
            }
        }
        None
    }

    /// An unsigned integer.
    #[inline]
    fn uint(&mut self) -> Option<u64> {
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            self.i += 1;
        }
        if self.i == start || matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        // JSON forbids leading zeros.
        if self.i - start > 1 && self.b[start] == b'0' {
            return None;
        }
        Some(v)
    }

    /// A JSON number as f64 (correctly rounded by the standard library).
    #[inline]
    fn float(&mut self) -> Option<f64> {
        let start = self.i;
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.peek() {
            self.i += 1;
        }
        let token = self.s.get(start..self.i)?;
        let first = *token.as_bytes().first()?;
        let lastc = *token.as_bytes().last()?;
        if !(first == b'-' || first.is_ascii_digit()) || !lastc.is_ascii_digit() {
            return None;
        }
        token.parse().ok()
    }

    #[inline]
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }

    /// Skips any value; objects and arrays by bracket depth (strings respected).
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => {
                self.i += 1;
                loop {
                    let rest = &self.b[self.i..];
                    let p = memchr::memchr2(b'"', b'\\', rest)?;
                    if rest[p] == b'\\' {
                        self.i += p + 2;
                    } else {
                        self.i += p + 1;
                        return Some(());
                    }
                }
            }
            b'{' | b'[' => {
                self.raw_container()?;
                Some(())
            }
            b'n' => self.literal(b"null"),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'-' | b'0'..=b'9' => {
                // Scan the number without converting it.
                self.i += 1;
                while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.peek() {
                    self.i += 1;
                }
                Some(())
            }
            _ => None,
        }
    }

    /// An object or array, returned raw.
    fn raw_container(&mut self) -> Option<&'a str> {
        let start = self.i;
        let mut depth = 0usize;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        self.i += 1;
                        return self.s.get(start..self.i);
                    }
                }
                b'"' => {
                    self.skip_value()?;
                    continue;
                }
                _ => {}
            }
            self.i += 1;
        }
        None
    }
}

/// Parses the common, well-formed line quickly; `None` means "let serde_json decide" (it
/// gives the error message, or handles what the fast path does not, such as escapes).
pub fn parse_fast(line: &str) -> Option<FastLine<'_>> {
    const MESSAGE: u16 = 1;
    const TIMESTAMP: u16 = 2;
    const USER: u16 = 4;
    const TIME: u16 = 8;
    const LATENCY: u16 = 16;
    const EXPERIMENTS: u16 = 32;
    const SESSION: u16 = 64;
    const TRACK: u16 = 128;
    const RECOMMENDATION: u16 = 256;
    let mut c = Cursor {
        s: line,
        b: line.as_bytes(),
        i: 0,
    };
    let mut seen = 0u16;
    let mut out = FastLine {
        last: false,
        timestamp: 0,
        user: 0,
        time: 0.0,
        latency: 0.0,
        experiments: "",
        session: None,
        episode: false,
        track: None,
        recommendation: None,
    };
    c.ws();
    c.eat(b'{')?;
    c.ws();
    if c.eat(b'}').is_none() {
        loop {
            c.ws();
            let key = c.plain_str()?;
            c.ws();
            c.eat(b':')?;
            c.ws();
            let bit = match key {
                b"message" => {
                    out.last = match c.plain_str()? {
                        b"next" => false,
                        b"last" => true,
                        _ => return None,
                    };
                    MESSAGE
                }
                b"timestamp" => {
                    out.timestamp = c.uint()?;
                    TIMESTAMP
                }
                b"user" => {
                    out.user = c.uint()?;
                    USER
                }
                b"time" => {
                    out.time = c.float()?;
                    TIME
                }
                b"latency" => {
                    out.latency = c.float()?;
                    LATENCY
                }
                b"experiments" => {
                    if c.peek()? != b'{' {
                        return None;
                    }
                    out.experiments = c.raw_container()?;
                    EXPERIMENTS
                }
                b"track" => {
                    out.track = Some(c.uint()?);
                    TRACK
                }
                b"recommendation" => {
                    out.recommendation = if c.peek()? == b'n' {
                        c.literal(b"null")?;
                        None
                    } else {
                        Some(c.uint()?)
                    };
                    RECOMMENDATION
                }
                b"session" => {
                    out.session = if c.peek()? == b'n' {
                        c.literal(b"null")?;
                        None
                    } else {
                        Some(c.uint()?)
                    };
                    SESSION
                }
                b"episode" => {
                    out.episode = c.peek()? != b'n';
                    c.skip_value()?;
                    0
                }
                _ => {
                    c.skip_value()?;
                    0
                }
            };
            if seen & bit != 0 {
                return None; // duplicate field: serde_json reports it
            }
            seen |= bit;
            c.ws();
            match c.peek()? {
                b',' => c.i += 1,
                b'}' => {
                    c.i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    c.ws();
    let required = MESSAGE | TIMESTAMP | USER | TIME | LATENCY | EXPERIMENTS;
    (c.i == c.b.len() && seen & required == required).then_some(out)
}

pub fn parse_piece(bytes: &[u8]) -> Piece {
    let mut events = Vec::with_capacity(bytes.len() / 160 + 1);
    let mut local: HashMap<&str, u32, FxBuildHasher> = HashMap::default();
    let mut sets = Vec::new();
    let mut bad = Vec::new();
    let mut line_no = 0u64;
    let mut start = 0;
    // The fast path works on text: check the piece's UTF-8 once; if that fails, serde_json
    // checks (and reports) line by line.
    let text = std::str::from_utf8(bytes).ok();
    while start < bytes.len() {
        let line_start = start;
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |p| start + p);
        let line = &bytes[line_start..end];
        start = end + 1;
        line_no += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let fast = text
            .and_then(|t| t.get(line_start..end))
            .and_then(parse_fast);
        let parsed = match fast {
            Some(fast) => Ok(fast),
            None => serde_json::from_slice::<Line>(line)
                .map_err(|e| e.to_string())
                .and_then(Line::into_fast),
        };
        let parsed = match parsed.and_then(|p| check_values(&p).map(|()| p)) {
            Ok(parsed) => parsed,
            Err(message) => {
                bad.push((line_no, message));
                continue;
            }
        };
        let raw = parsed.experiments;
        let id = match local.get(raw) {
            Some(&id) => id,
            None => {
                if let Err(message) = parse_experiments(raw) {
                    bad.push((line_no, message));
                    continue;
                }
                let id = sets.len() as u32;
                sets.push((raw.to_owned(), line_no));
                local.insert(raw, id);
                id
            }
        };
        events.push(ParsedEvent {
            timestamp: parsed.timestamp,
            user: parsed.user,
            time: parsed.time,
            latency: parsed.latency,
            session: parsed.session,
            episode: parsed.episode,
            last: parsed.last,
            experiments: id,
            track: parsed.track,
            recommendation: parsed.recommendation,
        });
    }
    Piece {
        events,
        lines: line_no,
        sets,
        bad,
    }
}
