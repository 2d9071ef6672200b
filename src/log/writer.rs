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
    tail: Vec<u8>,
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
            timestamp: Digits::new(),
            track: Digits::new(),
            recommendation: Digits::new(),
            head: LineHead::new(),
        }
    }
}

/// Room for `,"user":` (8 bytes), 20 digits and `,"track":` (9).
const USER_PART: usize = 40;

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
        tail.extend_from_slice(b"}\n");
    }
}

/// The decimal digits of the last number written, updated by counting when the next is
/// one more: cheaper than formatting a 13-digit timestamp anew.
#[derive(Clone, Copy)]
struct Digits {
    value: u64,
    /// The digits are `bytes[..len]`; the rest pads them for [`LineHead::put_padded`].
    bytes: [u8; DIGITS],
    len: usize,
}

/// Room for the 20 digits of `u64::MAX`, padded.
const DIGITS: usize = 24;

impl Digits {
    fn new() -> Digits {
        let mut bytes = [0; DIGITS];
        bytes[0] = b'0';
        Digits {
            value: 0,
            bytes,
            len: 1,
        }
    }

    fn set(&mut self, value: u64) -> &Digits {
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
struct LineHead {
    bytes: [u8; LINE_HEAD],
    len: usize,
}

/// The longest head is 213 bytes (two 24-byte floats among them); the rest is room for
/// the padding a fixed-size copy writes past the end.
const LINE_HEAD: usize = 320;

impl LineHead {
    fn new() -> LineHead {
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

    fn as_bytes(&self) -> &[u8] {
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
    buf.reserve(head.len + parts.tail.len());
    buf.extend_from_slice(head.as_bytes());
    buf.extend_from_slice(&parts.tail);
    latency
}

/// A float as serde_json writes it: shortest round-trip form, `null` when not finite.
/// Listen times are hundredths in [0, 1], written without the general algorithm.
fn push_f64(head: &mut LineHead, x: f64) {
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
fn nanos(seconds: f64) -> u64 {
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
fn push_latency(head: &mut LineHead, seconds: f64) -> f64 {
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

    /// A writer appending to an open `file` (say, one opened to append and locked): what
    /// it holds already counts as committed.
    pub fn from_file(path: &Path, file: File) -> std::io::Result<LogWriter> {
        let length = file.metadata()?.len();
        Ok(LogWriter {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 20, file),
            committed: length,
            written: length,
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

#[cfg(test)]
mod tests {
    use super::super::Event;
    use super::*;
    use rand::{RngExt, SeedableRng};

    fn latency_text(seconds: f64) -> String {
        let mut head = LineHead::new();
        let _ = push_latency(&mut head, seconds);
        String::from_utf8(head.as_bytes().to_vec()).unwrap()
    }

    /// More parts than one vectored write takes (1,024 on Linux), empty ones among them,
    /// after buffered lines: the file holds them all, in order, and a commit covers them.
    #[test]
    fn parts_are_written_whole_and_in_order_after_buffered_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let mut log = LogWriter::create(&path).unwrap();
        log.write_lines(b"{\"first\":0}\n").unwrap();
        let lines: Vec<String> = (0..3000)
            .map(|i| match i % 7 {
                0 => String::new(),
                _ => format!("{{\"n\":{i}}}\n").repeat(i % 5 + 1),
            })
            .collect();
        let parts: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
        log.write_parts(&parts).unwrap();
        log.write_lines(b"{\"last\":0}\n").unwrap();
        log.commit().unwrap();
        let expected = format!("{{\"first\":0}}\n{}{{\"last\":0}}\n", lines.concat());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
        // Everything handed over counts as written: nothing is cut back.
        log.cut_to_commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
    }

    #[test]
    fn latency_is_a_plain_decimal_with_nanosecond_resolution() {
        assert_eq!(latency_text(2.08e-7), "0.000000208");
        assert_eq!(latency_text(0.00042), "0.00042");
        assert_eq!(latency_text(1.5), "1.5");
        assert_eq!(latency_text(3.0), "3.0");
        assert_eq!(latency_text(0.0), "0.0");
        assert_eq!(latency_text(1.23456789123), "1.234567891");
        assert_eq!(latency_text(0.1), "0.1");
        assert_eq!(latency_text(0.000001), "0.000001");
        assert_eq!(latency_text(2.000000001), "2.000000001");
        assert_eq!(latency_text(0.120000345), "0.120000345");
        assert_eq!(latency_text(f64::NAN), "null");
    }

    #[test]
    fn the_returned_latency_is_what_a_reader_parses_back() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let mut values = vec![
            0.0, 1e-9, 4.9e-10, 5e-10, 2.08e-7, 0.00042, 1.5, 9.1e6, 2.5e7,
        ];
        values.extend((0..20_000).map(|i| match i % 3 {
            0 => rng.random::<f64>() * 1e-3,
            1 => rng.random::<f64>() * 10.0,
            _ => rng.random::<f64>() * 1e8,
        }));
        for seconds in values {
            let mut head = LineHead::new();
            let returned = push_latency(&mut head, seconds);
            let parsed: f64 = String::from_utf8(head.as_bytes().to_vec())
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(returned.to_bits(), parsed.to_bits(), "{seconds}");
        }
    }

    #[test]
    fn listen_times_are_written_as_serde_json_writes_them() {
        for h in 0..=100 {
            let x = h as f64 / 100.0;
            let mut head = LineHead::new();
            push_f64(&mut head, x);
            assert_eq!(
                String::from_utf8(head.as_bytes().to_vec()).unwrap(),
                serde_json::to_string(&x).unwrap()
            );
        }
    }

    #[test]
    fn nanos_round_half_away_from_zero_as_f64_round() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        // Halves and the floats next to them, where a cast plus 0.5 would go wrong.
        let mut values: Vec<f64> = (0..2000u64)
            .flat_map(|n| {
                let half = (n as f64 + 0.5) / 1e9;
                [half, half.next_up(), half.next_down()]
            })
            .collect();
        values.extend([
            0.0,
            0.5f64.next_down() * 1e-9,
            ((1u64 << 52) as f64 - 0.5) * 1e-9,
            9.99e8,
        ]);
        values
            .extend((0..20_000).map(|_| rng.random::<f64>() * 10f64.powi(rng.random_range(-9..9))));
        for seconds in values {
            assert_eq!(
                nanos(seconds),
                (seconds * 1e9).round() as u64,
                "{seconds:e}"
            );
        }
    }

    #[test]
    fn counted_digits_equal_formatted_ones() {
        let mut digits = Digits::new();
        let mut values: Vec<u64> = (0..1100).collect();
        values.extend([
            9_999,
            10_000,
            10_001,
            5,
            99_999_999_999_999,
            100_000_000_000_000,
        ]);
        values.extend([
            u64::MAX - 1,
            u64::MAX,
            0,
            10_u64.pow(19) - 1,
            10_u64.pow(19),
        ]);
        for value in values {
            let set = digits.set(value);
            assert_eq!(
                &set.bytes[..set.len],
                itoa::Buffer::new().format(value).as_bytes(),
                "{value}"
            );
        }
    }

    #[test]
    fn a_session_written_line_after_line_equals_serde_json_of_each_event() {
        // A session's events share one `SessionParts`: timestamps count up (through a
        // carry), each answer is usually the next track, sometimes not.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
        let treatments = render_treatments(&[("seminar", "T1")]);
        let mut parts = SessionParts::new(77, &treatments, Some(9), Some(9));
        let (mut timestamp, mut track) = (1_699_999_999_990u64, 0u64);
        for i in 0..300 {
            let recommendation = rng.random_range(0..60_000);
            let fields = EventFields {
                message: if i % 50 == 49 {
                    Message::Last
                } else {
                    Message::Next
                },
                timestamp,
                track,
                time: rng.random_range(0..=100) as f64 / 100.0,
                latency: rng.random_range(0..3_000_000_000u64) as f64 / 1e9,
                recommendation: (i % 50 != 49).then_some(recommendation),
            };
            let mut buf = Vec::new();
            append_session_event(&mut buf, &mut parts, &fields);
            let owned = Event {
                message: fields.message,
                timestamp,
                user: 77,
                track,
                time: fields.time,
                latency: fields.latency,
                recommendation: fields.recommendation,
                experiments: [("seminar".to_string(), "T1".to_string())]
                    .into_iter()
                    .collect(),
                session: Some(9),
                episode: Some(9),
            };
            assert_eq!(
                String::from_utf8(buf).unwrap(),
                format!("{}\n", serde_json::to_string(&owned).unwrap())
            );
            timestamp += if i % 7 == 6 { 1000 } else { 1 };
            track = if i % 5 == 4 {
                rng.random()
            } else {
                recommendation
            };
        }
    }

    #[test]
    fn hand_written_lines_equal_serde_json_of_the_owned_event() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let treatments = render_treatments(&[("de\"fault", "T3"), ("ALL", "C")]);
        for i in 0..2000 {
            let record = EventRecord {
                message: if i % 2 == 0 {
                    Message::Next
                } else {
                    Message::Last
                },
                timestamp: rng.random(),
                user: rng.random_range(0..100_000),
                track: rng.random(),
                time: if i % 11 == 0 {
                    rng.random::<f64>()
                } else {
                    (rng.random_range(0..=100) as f64) / 100.0
                },
                // Latencies in whole nanoseconds are written exactly as serde_json would.
                latency: rng.random_range(0..2_000_000_000u64) as f64 / 1e9,
                recommendation: (i % 3 != 0).then(|| rng.random_range(0..50_000)),
                experiments: &treatments,
                session: (i % 5 != 0).then_some(i),
                episode: (i % 7 != 0).then_some(i),
            };
            let mut buf = Vec::new();
            append_event(&mut buf, &record);
            let line = String::from_utf8(buf).unwrap();
            let owned = Event {
                message: record.message,
                timestamp: record.timestamp,
                user: record.user,
                track: record.track,
                time: record.time,
                latency: record.latency,
                recommendation: record.recommendation,
                experiments: [("de\"fault", "T3"), ("ALL", "C")]
                    .iter()
                    .map(|(e, t)| (e.to_string(), t.to_string()))
                    .collect(),
                session: record.session,
                episode: record.episode,
            };
            assert_eq!(
                format!("{}\n", serde_json::to_string(&owned).unwrap()),
                line
            );
        }
    }
}
