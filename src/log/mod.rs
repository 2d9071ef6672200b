//! Event schema, writer and readers of botify-compatible logs.

pub mod event;
pub mod reader;

pub use event::{Event, Message};
