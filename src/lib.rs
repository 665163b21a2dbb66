//! rsthound: track down failed TCP connections and RST packets.
//!
//! Sources (capture files) feed a pure decoder; commands render what it finds. Nothing below
//! `capture` and `decode` reads a clock, so every behaviour can be tested from capture files.
#![deny(unsafe_code)]

pub mod capture;
pub mod cli;
pub mod decode;
pub mod engine;
mod handoff;
pub mod keep;
pub mod live;
pub mod output;
pub mod pipeline;
pub mod read;
pub mod report;
pub mod sanitize;
pub mod scenario;
pub mod services;
mod slot_index;
pub mod source;
pub mod stats;
pub mod storm;
pub mod synth;
pub mod sys;
pub mod timestamp;
pub mod track;
pub mod watch;
