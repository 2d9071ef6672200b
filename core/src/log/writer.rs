//! Writing event logs: records formatted straight into byte buffers (the simulator's hot
//! path), and a buffered file writer whose every finished chunk survives an error or Ctrl-C.

use super::Message;
use std::fs::File;
use std::io::{BufWriter, IoSlice, Write};
use std::path::{Path, PathBuf};

/// An event in borrowed form; `append_event` writes exactly what serde_json writes for
/// the equivalent [`super::Event`], but for `latency`, rounded to the nanosecond and
/// written as a plain decimal (checked by tests).
#[derive(Debug, Clone, Copy)]
pub struct EventRecord<'a> {
    pub message: Message,
    pub timestamp: u64,
    pub user: u64,
    pub track: u64,
    pub time: f64,
    pub latency: f64,
    pub recommendation: Option<u64>,
    /// The `experiments` object, already rendered by [`render_treatments`].
    pub experiments: &'a str,
    pub session: Option<u64>,
    pub episode: Option<u64>,
}

/// `{"experiment":"treatment",...}` as JSON, rendered once per arm instead of per event.
pub fn render_treatments(pairs: &[(&str, &str)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = pairs
        .iter()
        .map(|(e, t)| (e.to_string(), serde_json::Value::from(*t)))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// Appends one JSON line.
pub fn append_event(buf: &mut Vec<u8>, e: &EventRecord) {
    let mut parts = SessionParts::new(e.user, e.experiments, e.session, e.episode);
    let _ = append_session_event(
        buf,
        &mut parts,
        &EventFields {
            message: e.message,
            timestamp: e.timestamp,
            track: e.track,
            time: e.time,
            latency: e.latency,
            recommendation: e.recommendation,
        },
    );
}

/// What every event of one session shares, rendered once per session instead of once
/// per event (the simulator's hot path): `,"user":U,"track":` and
/// `,"experiments":{...},"session":S,"episode":E}` with the line's end; and the digits of
/// the last timestamp, track and recommendation written, since a session's timestamps
/// count up by one and each answer is the next event's track.
pub struct SessionParts {
    /// `,"user":U,"track":`, padded for [`LineHead::put_padded`].
    user: [u8; USER_PART],
    user_len: usize,
    /// The tail, padded to at least [`TAIL`] bytes, so that a short one goes into the
    /// head by a fixed-size copy and a line into the buffer by one copy, not two.
    tail: Vec<u8>,
    tail_len: usize,
    timestamp: Digits,
    track: Digits,
    recommendation: Digits,
    /// Where each line's head is assembled: kept, since zeroing a new one per line cost
    /// a `memset` call.
    head: LineHead,
}

/// Parts to [`start`](SessionParts::start) a session with.
impl Default for SessionParts {
    fn default() -> Self {
        SessionParts {
            user: [0; USER_PART],
            user_len: 0,
            tail: Vec::new(),
            tail_len: 0,
            timestamp: Digits::new(),
            track: Digits::new(),
            recommendation: Digits::new(),
            head: LineHead::new(),
        }
    }
}

/// Room for `,"user":` (8 bytes), 20 digits and `,"track":` (9).
const USER_PART: usize = 40;

/// Tails up to this long are copied into the head: `,"experiments":{"seminar":"T1"},
/// "session":299999,"episode":299999}` and a newline are 69 bytes, 83 with `"pair":299999`.
const TAIL: usize = 96;

impl SessionParts {
    pub fn new(user: u64, experiments: &str, session: Option<u64>, episode: Option<u64>) -> Self {
        let mut parts = SessionParts::default();
        parts.start(user, experiments, session, episode);
        parts
    }

    /// Makes these the parts of another session (keeps the memory).
    pub fn start(
        &mut self,
        user: u64,
        experiments: &str,
        session: Option<u64>,
        episode: Option<u64>,
    ) {
        self.start_in_pair(user, experiments, session, episode, None);
    }

    /// [`start`](SessionParts::start) for a session that is one arm of a paired episode:
    /// its lines end with `"pair":P`.
    pub fn start_in_pair(
        &mut self,
        user: u64,
        experiments: &str,
        session: Option<u64>,
        episode: Option<u64>,
        pair: Option<u64>,
    ) {
        let mut int = itoa::Buffer::new();
        let head = &mut self.head;
        head.len = 0;
        head.put(b",\"user\":");
        head.put_slice(int.format(user).as_bytes());
        head.put(b",\"track\":");
        self.user_len = head.len;
        self.user.copy_from_slice(&head.bytes[..USER_PART]);
        let tail = &mut self.tail;
        tail.clear();
        tail.extend_from_slice(b",\"experiments\":");
        tail.extend_from_slice(experiments.as_bytes());
        if let Some(session) = session {
            tail.extend_from_slice(b",\"session\":");
            tail.extend_from_slice(int.format(session).as_bytes());
        }
        if let Some(episode) = episode {
            tail.extend_from_slice(b",\"episode\":");
            tail.extend_from_slice(int.format(episode).as_bytes());
        }
        if let Some(pair) = pair {
            tail.extend_from_slice(b",\"pair\":");
            tail.extend_from_slice(int.format(pair).as_bytes());
        }
        tail.extend_from_slice(b"}\n");
        self.tail_len = tail.len();
        tail.resize(tail.len().max(TAIL), 0);
    }
}

/// The decimal digits of the last number written, updated by counting when the next is
/// one more: cheaper than formatting a 13-digit timestamp anew.
#[derive(Clone, Copy)]
pub struct Digits {
    value: u64,
    /// The digits are `bytes[..len]`; the rest pads them for [`LineHead::put_padded`].
    pub bytes: [u8; DIGITS],
    pub len: usize,
}

/// Room for the 20 digits of `u64::MAX`, padded.
const DIGITS: usize = 24;

impl Digits {
    #[allow(clippy::new_without_default, reason = "pub for tests/unit only")]
    pub fn new() -> Digits {
        let mut bytes = [0; DIGITS];
        bytes[0] = b'0';
        Digits {
            value: 0,
            bytes,
            len: 1,
        }
    }

    pub fn set(&mut self, value: u64) -> &Digits {
        if value != self.value {
            if self.value.checked_add(1) != Some(value) || !self.count_up() {
                let mut int = itoa::Buffer::new();
                let digits = int.format(value).as_bytes();
                self.len = digits.len();
                self.bytes[..self.len].copy_from_slice(digits);
            }
            self.value = value;
        }
        self
    }

    /// Adds one to the digits, unless they are all nines (then the caller formats anew).
    fn count_up(&mut self) -> bool {
        for digit in self.bytes[..self.len].iter_mut().rev() {
            if *digit == b'9' {
                *digit = b'0';
            } else {
                *digit += 1;
                return true;
            }
        }
        false
    }
}

/// The fields that change from one event of a session to the next.
#[derive(Debug, Clone, Copy)]
pub struct EventFields {
    pub message: Message,
    pub timestamp: u64,
    pub track: u64,
    pub time: f64,
    pub latency: f64,
    pub recommendation: Option<u64>,
}

/// A line up to its session's tail, assembled on the stack by fixed-size copies (a few
/// vector moves each) rather than a capacity check and a `memcpy` call per field.
pub struct LineHead {
    bytes: [u8; LINE_HEAD],
    len: usize,
}

/// The longest head is 213 bytes (two 24-byte floats among them), then a tail of up to
/// [`TAIL`] bytes; the rest is room for the padding a fixed-size copy writes past the end.
const LINE_HEAD: usize = 320;

impl LineHead {
    #[allow(clippy::new_without_default, reason = "pub for tests/unit only")]
    pub fn new() -> LineHead {
        LineHead {
            bytes: [0; LINE_HEAD],
            len: 0,
        }
    }

    fn put<const N: usize>(&mut self, bytes: &[u8; N]) {
        self.bytes[self.len..self.len + N].copy_from_slice(bytes);
        self.len += N;
    }

    /// The first `len` bytes of `padded`; what follows writes over the rest.
    fn put_padded<const N: usize>(&mut self, padded: &[u8; N], len: usize) {
        self.bytes[self.len..self.len + N].copy_from_slice(padded);
        self.len += len;
    }

    fn put_digits(&mut self, digits: &Digits) {
        self.put_padded(&digits.bytes, digits.len);
    }

    fn put_slice(&mut self, bytes: &[u8]) {
        self.bytes[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Appends one JSON line of the session `parts` describes; returns its latency as a reader
/// of the line gets it back.
pub fn append_session_event(buf: &mut Vec<u8>, parts: &mut SessionParts, e: &EventFields) -> f64 {
    let head = &mut parts.head;
    head.len = 0;
    head.put(match e.message {
        Message::Next => b"{\"message\":\"next\",\"timestamp\":",
        Message::Last => b"{\"message\":\"last\",\"timestamp\":",
    });
    head.put_digits(parts.timestamp.set(e.timestamp));
    head.put_padded(&parts.user, parts.user_len);
    // The last answer is usually this track: its digits are at hand.
    std::mem::swap(&mut parts.track, &mut parts.recommendation);
    head.put_digits(parts.track.set(e.track));
    head.put(b",\"time\":");
    push_f64(head, e.time);
    head.put(b",\"latency\":");
    let latency = push_latency(head, e.latency);
    head.put(b",\"recommendation\":");
    match e.recommendation {
        Some(r) => head.put_digits(parts.recommendation.set(r)),
        None => head.put(b"null"),
    }
    match parts.tail.first_chunk::<TAIL>() {
        Some(padded) if parts.tail_len <= TAIL => {
            head.put_padded(padded, parts.tail_len);
            buf.extend_from_slice(head.as_bytes());
        }
        _ => {
            buf.reserve(head.len + parts.tail_len);
            buf.extend_from_slice(head.as_bytes());
            buf.extend_from_slice(&parts.tail[..parts.tail_len]);
        }
    }
    latency
}

/// A float as serde_json writes it: shortest round-trip form, `null` when not finite.
/// Listen times are hundredths in [0, 1], written without the general algorithm.
pub fn push_f64(head: &mut LineHead, x: f64) {
    // If `x` is some h/100, then 100x is within an ulp of h and this truncation is h
    // (a cast, where `round` is a library call on the baseline x86-64 target).
    let hundredths = (x * 100.0 + 0.5) as i64;
    if (0..=100).contains(&hundredths) && hundredths as f64 / 100.0 == x {
        let h = hundredths as u8;
        match (h, h % 10) {
            (100, _) => head.put(b"1.0"),
            (_, 0) => head.put(&[b'0', b'.', b'0' + h / 10]),
            _ => head.put(&[b'0', b'.', b'0' + h / 10, b'0' + h % 10]),
        }
    } else if x.is_finite() {
        head.put_slice(ryu::Buffer::new().format_finite(x).as_bytes());
    } else {
        head.put(b"null");
    }
}

/// `seconds` in whole nanoseconds, rounded half away from zero as `f64::round`, for
/// `seconds` in [0, 1e9): the cast and a compare instead of a library call.
pub fn nanos(seconds: f64) -> u64 {
    let scaled = seconds * 1e9;
    let whole = scaled as u64;
    // Exact: `whole` is `scaled` truncated, both below 2^63.
    if scaled - whole as f64 >= 0.5 {
        whole + 1
    } else {
        whole
    }
}

/// Seconds with nanosecond resolution as a plain decimal (`0.000000208`): the clock
/// measures no finer, and it is several times cheaper than the shortest-float algorithm.
/// Returns the latency a reader of the log parses back.
pub fn push_latency(head: &mut LineHead, seconds: f64) -> f64 {
    if !(seconds.is_finite() && (0.0..1e9).contains(&seconds)) {
        push_f64(head, seconds);
        return seconds;
    }
    let from = head.len;
    let nanos = nanos(seconds);
    let whole = nanos / 1_000_000_000;
    let mut int = itoa::Buffer::new();
    if whole == 0 {
        head.put(b"0");
    } else {
        head.put_slice(int.format(whole).as_bytes());
    }
    let fraction = nanos % 1_000_000_000;
    if fraction == 0 {
        head.put(b".0");
    } else {
        // The point and the zeros before the fraction's digits, then its digits without
        // the trailing zeros: latencies are mostly a few microseconds, and formatting
        // their few digits costs a quarter of formatting nine.
        let digits = int.format(fraction).as_bytes();
        head.put_padded(b".000000000", 10 - digits.len());
        let zeros = digits.iter().rev().take_while(|&&d| d == b'0').count();
        head.put_slice(&digits[..digits.len() - zeros]);
    }
    // `nanos / 1e9` is the float nearest the written decimal whenever `nanos` is exact in
    // an f64 (below 2^53 ns, 104 days); beyond, the decimal is parsed.
    if nanos < 1 << 53 {
        return nanos as f64 / 1e9;
    }
    std::str::from_utf8(&head.bytes[from..head.len])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(seconds)
}

/// Lines at least this long go to the file directly, not through the buffer.
const DIRECT_WRITE: usize = 64 << 10;

/// A buffered JSON Lines file; callers hand it whole lines only.
///
/// [`LogWriter::commit`] marks a point where the file holds whole episodes; after a
/// failed write (a full disk) [`LogWriter::cut_to_commit`] cuts the file back to it.
pub struct LogWriter {
    path: PathBuf,
    out: BufWriter<File>,
    /// Bytes of the file known to be written whole (the last commit).
    committed: u64,
    /// Bytes handed to `write_lines` so far.
    written: u64,
}

impl LogWriter {
    pub fn create(path: &Path) -> std::io::Result<LogWriter> {
        Ok(LogWriter {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 20, File::create(path)?),
            committed: 0,
            written: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write_lines(&mut self, lines: &[u8]) -> std::io::Result<()> {
        if lines.len() >= DIRECT_WRITE {
            // Copying a worker's buffer into ours first would only cost time.
            self.out.flush()?;
            self.out.get_mut().write_all(lines)?;
        } else {
            self.out.write_all(lines)?;
        }
        self.written += lines.len() as u64;
        Ok(())
    }

    /// Writes `parts` one after another straight from where they are, by vectored writes
    /// to the file: copying them into the buffer first cost a copy of every log byte
    /// (6 % of a run's instructions, `valgrind --tool=cachegrind`).
    pub fn write_parts(&mut self, parts: &[&[u8]]) -> std::io::Result<()> {
        self.out.flush()?;
        let mut slices: Vec<IoSlice> = parts.iter().map(|p| IoSlice::new(p)).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            match self.out.get_mut().write_vectored(rest) {
                Ok(0) if rest.iter().any(|s| !s.is_empty()) => {
                    return Err(std::io::ErrorKind::WriteZero.into());
                }
                Ok(0) => break,
                Ok(n) => {
                    IoSlice::advance_slices(&mut rest, n);
                    self.written += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    /// Flushes; on success everything written so far is whole on disk.
    pub fn commit(&mut self) -> std::io::Result<()> {
        self.out.flush()?;
        self.committed = self.written;
        Ok(())
    }

    /// After a failed write: drops what was not committed and cuts the file back to the
    /// last commit, so that it ends with a whole line.
    pub fn cut_to_commit(self) -> std::io::Result<()> {
        let (file, _unwritten) = self.out.into_parts();
        file.set_len(self.committed)
    }
}
