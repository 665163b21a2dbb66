//! The pure analysis: packets are decoded ([`decode`]), followed per connection ([`track`]),
//! given verdicts, grouped and turned into findings ([`report`]), with RST lines rate-limited
//! in storms ([`storm`]). Nothing here does IO, reads a clock or makes a system call: time comes
//! from the packets (or is passed in), and what the engine concludes goes to an [`EventSink`].

pub mod attribution;
pub mod counters;
pub mod decode;
pub mod diagnosis;
pub mod fusion;
pub mod kevent;
pub mod listeners;
pub mod payload;
pub mod port_hints;
pub mod report;
mod run;
pub mod services;
pub(crate) mod slot_index;
pub mod stats;
pub mod storm;
pub mod summary;
pub mod track;

pub use run::*;
