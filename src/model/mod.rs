//! Vocabulary shared by sources, the engine and sinks: when a packet was seen
//! ([`Timestamp`]), what framing it has ([`LinkType`]) and which way it went ([`Direction`]).

pub mod link;
pub mod timestamp;

pub use link::{Direction, LinkType, Origin};
pub use timestamp::Timestamp;
