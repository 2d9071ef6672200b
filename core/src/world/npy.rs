//! The `.npy` format (NumPy's), for exactly what the course's `tracks.npy` needs: a float
//! array read as row-major f32 (`<f4` and `>f4` as they are, `<f8` converted; C or
//! Fortran order; version 1.0 and 2.0 headers), and an `<f4` array written.
//!
//! Hand-written rather than the `npyz` crate: npyz parses the header with a full
//! Python-literal grammar (`py_literal` on `pest`, with `stacker` and `psm`: 11 crates),
//! which cost about 20 CPU s of every clean release build (`py_literal` 8.7 s, `pest` and
//! its generator crates about 9 s, per `cargo build --release --timings` on a quiet 2-core
//! machine), for a header that is one small dict.

use std::io::Write;

/// A 2-D or other array read from a `.npy` file, values in row-major (C) order.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

pub const MAGIC: &[u8] = b"\x93NUMPY";

/// Reads a `.npy` file's bytes; the error says what is wrong (the caller names the file).
pub fn read_f32(bytes: &[u8]) -> Result<Array, String> {
    let not_npy = || "not a .npy file (no \\x93NUMPY magic)".to_string();
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(not_npy());
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        major => {
            return Err(format!(
                "unsupported .npy version {major}.{} (expected 1.0 or 2.0)",
                bytes[7]
            ));
        }
    };
    let header = bytes
        .get(start..start + header_len)
        .ok_or_else(|| format!("the header is cut short ({header_len} bytes announced)"))?;
    let header = std::str::from_utf8(header).map_err(|_| "the header is not text".to_string())?;
    let header = Header::parse(header).map_err(|e| format!("bad header {header:?}: {e}"))?;
    let data = &bytes[start + header_len..];

    let width: usize = match header.descr.as_str() {
        "<f4" | ">f4" => 4,
        "<f8" => 8,
        other => {
            return Err(format!(
                "unsupported dtype {other} (expected float32 '<f4' or '>f4', or float64 '<f8')"
            ));
        }
    };
    // A crafted shape can multiply past `usize`: checked, or it wraps to a small size
    // that a short file matches.
    let needed = header
        .shape
        .iter()
        .try_fold(width, |bytes, &n| bytes.checked_mul(n))
        .ok_or_else(|| {
            format!(
                "shape {:?} of {} is too large: its byte size overflows a {}-bit size",
                header.shape,
                header.descr,
                usize::BITS
            )
        })?;
    if data.len() != needed {
        return Err(format!(
            "the data has {} bytes but shape {:?} of {} needs {needed}",
            data.len(),
            header.shape,
            header.descr,
        ));
    }
    let values: Vec<f32> = match header.descr.as_str() {
        "<f4" => data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        ">f4" => data
            .chunks_exact(4)
            .map(|c| f32::from_be_bytes(c.try_into().unwrap()))
            .collect(),
        _ => data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32)
            .collect(),
    };
    let values = if header.fortran_order && header.shape.len() > 1 {
        c_order(&header.shape, &values)
    } else {
        values
    };
    Ok(Array {
        shape: header.shape,
        values,
    })
}

/// Fortran-order (first index fastest) values reordered to C order (last index fastest).
pub fn c_order(shape: &[usize], fortran: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; fortran.len()];
    let mut index = vec![0usize; shape.len()];
    for &value in fortran {
        let c_position = index.iter().zip(shape).fold(0, |acc, (&i, &n)| acc * n + i);
        out[c_position] = value;
        // Next Fortran index: the first axis turns fastest.
        for (i, &n) in index.iter_mut().zip(shape) {
            *i += 1;
            if *i < n {
                break;
            }
            *i = 0;
        }
    }
    out
}

/// Writes a `rows x cols` little-endian f32 array in C order (version 1.0 header).
pub fn write_f32(
    out: &mut impl Write,
    rows: usize,
    cols: usize,
    values: &[f32],
) -> std::io::Result<()> {
    assert_eq!(values.len(), rows * cols, "values do not fill the shape");
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // NumPy pads the header with spaces so the data starts at a multiple of 64 bytes.
    let unpadded = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    out.write_all(MAGIC)?;
    out.write_all(&[1, 0])?;
    out.write_all(&(header.len() as u16).to_le_bytes())?;
    out.write_all(header.as_bytes())?;
    for value in values {
        out.write_all(&value.to_le_bytes())?;
    }
    Ok(())
}

/// The header dict: `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
#[derive(Debug, PartialEq)]
pub struct Header {
    descr: String,
    fortran_order: bool,
    pub shape: Vec<usize>,
}

impl Header {
    pub fn parse(text: &str) -> Result<Header, String> {
        let mut p = Literal {
            rest: text.trim_end(),
        };
        let (mut descr, mut fortran_order, mut shape) = (None, None, None);
        p.expect('{')?;
        while !p.eat('}') {
            let key = p.string()?;
            p.expect(':')?;
            match key.as_str() {
                "descr" => descr = Some(p.string()?),
                "fortran_order" => fortran_order = Some(p.boolean()?),
                "shape" => shape = Some(p.tuple()?),
                other => return Err(format!("unknown key {other:?}")),
            }
            if !p.eat(',') {
                p.expect('}')?;
                break;
            }
        }
        if !p.rest.is_empty() {
            return Err(format!("text after the dict: {:?}", p.rest));
        }
        Ok(Header {
            descr: descr.ok_or("no 'descr'")?,
            fortran_order: fortran_order.ok_or("no 'fortran_order'")?,
            shape: shape.ok_or("no 'shape'")?,
        })
    }
}

/// The few Python literals a header holds: quoted strings, booleans, tuples of integers.
struct Literal<'a> {
    rest: &'a str,
}

impl Literal<'_> {
    fn eat(&mut self, c: char) -> bool {
        self.rest = self.rest.trim_start();
        match self.rest.strip_prefix(c) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected {c:?} at {:?}", self.rest))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.rest = self.rest.trim_start();
        let quote = match self.rest.chars().next() {
            Some(q @ ('\'' | '"')) => q,
            _ => return Err(format!("expected a quoted string at {:?}", self.rest)),
        };
        let body = &self.rest[1..];
        let end = body
            .find(quote)
            .ok_or_else(|| format!("unterminated string at {:?}", self.rest))?;
        self.rest = &body[end + 1..];
        Ok(body[..end].to_string())
    }

    fn boolean(&mut self) -> Result<bool, String> {
        self.rest = self.rest.trim_start();
        for (word, value) in [("True", true), ("False", false)] {
            if let Some(rest) = self.rest.strip_prefix(word) {
                self.rest = rest;
                return Ok(value);
            }
        }
        Err(format!("expected True or False at {:?}", self.rest))
    }

    /// `()`, `(3,)`, `(3, 4)`, ...
    fn tuple(&mut self) -> Result<Vec<usize>, String> {
        self.expect('(')?;
        let mut items = Vec::new();
        while !self.eat(')') {
            self.rest = self.rest.trim_start();
            let digits = self.rest.len()
                - self
                    .rest
                    .trim_start_matches(|c: char| c.is_ascii_digit())
                    .len();
            let item = self.rest[..digits]
                .parse()
                .map_err(|_| format!("expected a dimension at {:?}", self.rest))?;
            items.push(item);
            self.rest = &self.rest[digits..];
            if !self.eat(',') {
                self.expect(')')?;
                break;
            }
        }
        Ok(items)
    }
}
