//! Writing event logs: borrowed records serialised straight into byte buffers, and a
//! buffered file writer whose every finished chunk survives an error or Ctrl-C.

use super::Message;
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// An event in borrowed form; serialises exactly as [`super::Event`] does.
#[derive(Debug, serde::Serialize)]
pub struct EventRecord<'a> {
    pub message: Message,
    pub timestamp: u64,
    pub user: u64,
    pub track: u64,
    pub time: f64,
    pub latency: f64,
    pub recommendation: Option<u64>,
    pub experiments: Treatments<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub episode: Option<u64>,
}

/// `experiments`: experiment name -> treatment, written as a JSON object.
#[derive(Debug, Clone, Copy)]
pub struct Treatments<'a>(pub &'a [(&'a str, &'a str)]);

impl Serialize for Treatments<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (experiment, treatment) in self.0 {
            map.serialize_entry(experiment, treatment)?;
        }
        map.end()
    }
}

/// Appends one JSON line.
pub fn append_event(buf: &mut Vec<u8>, event: &EventRecord) {
    // Writing plain numbers and strings into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, event);
    buf.push(b'\n');
}

/// A buffered JSON Lines file; callers hand it whole lines only.
pub struct LogWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl LogWriter {
    pub fn create(path: &Path) -> std::io::Result<LogWriter> {
        Ok(LogWriter {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 20, File::create(path)?),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write_lines(&mut self, lines: &[u8]) -> std::io::Result<()> {
        self.out.write_all(lines)
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::super::Event;
    use super::*;

    #[test]
    fn borrowed_record_round_trips_through_the_owned_event() {
        let mut buf = Vec::new();
        append_event(
            &mut buf,
            &EventRecord {
                message: Message::Next,
                timestamp: 5,
                user: 17,
                track: 4211,
                time: 0.37,
                latency: 0.00042,
                recommendation: Some(977),
                experiments: Treatments(&[("default", "T3")]),
                session: Some(3),
                episode: Some(3),
            },
        );
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(
            text,
            "{\"message\":\"next\",\"timestamp\":5,\"user\":17,\"track\":4211,\"time\":0.37,\"latency\":0.00042,\"recommendation\":977,\"experiments\":{\"default\":\"T3\"},\"session\":3,\"episode\":3}\n"
        );
        let event: Event = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(serde_json::to_string(&event).unwrap(), text.trim());
    }
}
