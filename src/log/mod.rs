//! Event schema, writer and readers of botify-compatible logs.

pub mod event;
pub mod reader;
pub mod writer;

pub use event::{Event, Message};
