//! `#[serde(deserialize_with = ...)]` helpers for counts and sizes that must be >= 1.
//!
//! The check runs while the number itself is read, so a YAML error points at the line of
//! the faulty value and names its key path (e.g. `arms.T1.source.top_k`), not at the map
//! around it.

use serde::Deserializer;
use serde::de::{Error, Unexpected, Visitor};
use std::fmt;
use std::marker::PhantomData;

struct AtLeastOne<T>(PhantomData<T>);

impl<T: TryFrom<u64>> Visitor<'_> for AtLeastOne<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer >= 1")
    }

    fn visit_u64<E: Error>(self, v: u64) -> Result<T, E> {
        if v == 0 {
            return Err(E::invalid_value(Unexpected::Unsigned(0), &self));
        }
        T::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &"a smaller integer"))
    }

    fn visit_i64<E: Error>(self, v: i64) -> Result<T, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
        }
    }
}

/// An integer >= 1.
pub fn required<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<T, D::Error> {
    d.deserialize_u64(AtLeastOne(PhantomData))
}

/// An optional integer >= 1 (for fields with `#[serde(default)]`: absent is `None`).
pub fn optional<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<Option<T>, D::Error> {
    required(d).map(Some)
}
