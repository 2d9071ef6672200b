//! Writing event logs: records formatted straight into byte buffers (the simulator's hot
//! path), and a buffered file writer whose every finished chunk survives an error or Ctrl-C.

use super::Message;
use std::fs::File;
use std::io::{BufWriter, Write};
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
    let parts = SessionParts::new(e.user, e.experiments, e.session, e.episode);
    append_session_event(
        buf,
        &parts,
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
/// `,"experiments":{...},"session":S,"episode":E}` with the line's end.
pub struct SessionParts {
    bytes: Vec<u8>,
    /// End of the user part in `bytes`; the rest is the tail.
    user_end: usize,
}

impl SessionParts {
    pub fn new(user: u64, experiments: &str, session: Option<u64>, episode: Option<u64>) -> Self {
        let mut int = itoa::Buffer::new();
        let mut bytes = Vec::with_capacity(80 + experiments.len());
        bytes.extend_from_slice(b",\"user\":");
        bytes.extend_from_slice(int.format(user).as_bytes());
        bytes.extend_from_slice(b",\"track\":");
        let user_end = bytes.len();
        bytes.extend_from_slice(b",\"experiments\":");
        bytes.extend_from_slice(experiments.as_bytes());
        if let Some(session) = session {
            bytes.extend_from_slice(b",\"session\":");
            bytes.extend_from_slice(int.format(session).as_bytes());
        }
        if let Some(episode) = episode {
            bytes.extend_from_slice(b",\"episode\":");
            bytes.extend_from_slice(int.format(episode).as_bytes());
        }
        bytes.extend_from_slice(b"}\n");
        SessionParts { bytes, user_end }
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

/// Appends one JSON line of the session `parts` describes.
pub fn append_session_event(buf: &mut Vec<u8>, parts: &SessionParts, e: &EventFields) {
    let mut int = itoa::Buffer::new();
    buf.extend_from_slice(match e.message {
        Message::Next => b"{\"message\":\"next\",\"timestamp\":",
        Message::Last => b"{\"message\":\"last\",\"timestamp\":",
    });
    buf.extend_from_slice(int.format(e.timestamp).as_bytes());
    buf.extend_from_slice(&parts.bytes[..parts.user_end]);
    buf.extend_from_slice(int.format(e.track).as_bytes());
    buf.extend_from_slice(b",\"time\":");
    push_f64(buf, e.time);
    buf.extend_from_slice(b",\"latency\":");
    push_latency(buf, e.latency);
    buf.extend_from_slice(b",\"recommendation\":");
    match e.recommendation {
        Some(r) => buf.extend_from_slice(int.format(r).as_bytes()),
        None => buf.extend_from_slice(b"null"),
    }
    buf.extend_from_slice(&parts.bytes[parts.user_end..]);
}

/// A float as serde_json writes it: shortest round-trip form, `null` when not finite.
/// Listen times are hundredths in [0, 1], written without the general algorithm.
fn push_f64(buf: &mut Vec<u8>, x: f64) {
    let hundredths = (x * 100.0).round();
    if (0.0..=100.0).contains(&hundredths) && hundredths / 100.0 == x {
        let h = hundredths as u8;
        match (h, h % 10) {
            (100, _) => buf.extend_from_slice(b"1.0"),
            (_, 0) => buf.extend_from_slice(&[b'0', b'.', b'0' + h / 10]),
            _ => buf.extend_from_slice(&[b'0', b'.', b'0' + h / 10, b'0' + h % 10]),
        }
    } else if x.is_finite() {
        buf.extend_from_slice(ryu::Buffer::new().format_finite(x).as_bytes());
    } else {
        buf.extend_from_slice(b"null");
    }
}

/// Seconds with nanosecond resolution as a plain decimal (`0.000000208`): the clock
/// measures no finer, and it is several times cheaper than the shortest-float algorithm.
fn push_latency(buf: &mut Vec<u8>, seconds: f64) {
    if !(seconds.is_finite() && (0.0..1e9).contains(&seconds)) {
        return push_f64(buf, seconds);
    }
    let nanos = (seconds * 1e9).round() as u64;
    let mut int = itoa::Buffer::new();
    buf.extend_from_slice(int.format(nanos / 1_000_000_000).as_bytes());
    let fraction = nanos % 1_000_000_000;
    if fraction == 0 {
        buf.extend_from_slice(b".0");
        return;
    }
    let digits = int.format(fraction).as_bytes();
    buf.push(b'.');
    buf.extend(std::iter::repeat_n(b'0', 9 - digits.len()));
    let significant = digits.len() - digits.iter().rev().take_while(|&&d| d == b'0').count();
    buf.extend_from_slice(&digits[..significant]);
}

/// The latency a reader of the log gets back for `seconds`: what [`push_latency`] writes,
/// parsed. `nanos / 1e9` is the float nearest the written decimal whenever `nanos` is
/// exact in an f64 (below 2^53 ns, 104 days); beyond, the decimal is written and parsed.
pub fn logged_latency(seconds: f64) -> f64 {
    if !(seconds.is_finite() && (0.0..1e9).contains(&seconds)) {
        return seconds;
    }
    let nanos = (seconds * 1e9).round() as u64;
    if nanos < 1 << 53 {
        return nanos as f64 / 1e9;
    }
    let mut buf = Vec::new();
    push_latency(&mut buf, seconds);
    std::str::from_utf8(&buf)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(seconds)
}

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
        self.out.write_all(lines)?;
        self.written += lines.len() as u64;
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
        let mut buf = Vec::new();
        push_latency(&mut buf, seconds);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn latency_is_a_plain_decimal_with_nanosecond_resolution() {
        assert_eq!(latency_text(2.08e-7), "0.000000208");
        assert_eq!(latency_text(0.00042), "0.00042");
        assert_eq!(latency_text(1.5), "1.5");
        assert_eq!(latency_text(3.0), "3.0");
        assert_eq!(latency_text(0.0), "0.0");
        assert_eq!(latency_text(1.23456789123), "1.234567891");
        assert_eq!(latency_text(f64::NAN), "null");
    }

    #[test]
    fn logged_latency_is_what_a_reader_parses_back() {
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
            let parsed: f64 = latency_text(seconds).parse().unwrap();
            assert_eq!(
                logged_latency(seconds).to_bits(),
                parsed.to_bits(),
                "{seconds}"
            );
        }
    }

    #[test]
    fn listen_times_are_written_as_serde_json_writes_them() {
        for h in 0..=100 {
            let x = h as f64 / 100.0;
            let mut buf = Vec::new();
            push_f64(&mut buf, x);
            assert_eq!(
                String::from_utf8(buf).unwrap(),
                serde_json::to_string(&x).unwrap()
            );
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
