//! rsthound: track down failed TCP connections and RST packets.
//!
//! Sources (capture files) feed a pure decoder; commands render what it finds. Nothing below
//! `capture` and `decode` reads a clock, so every behaviour can be tested from capture files.
#![forbid(unsafe_code)]

pub mod capture;
pub mod cli;
pub mod decode;
pub mod keep;
pub mod output;
pub mod read;
pub mod report;
pub mod sanitize;
pub mod scenario;
pub mod services;
pub mod stats;
pub mod synth;
pub mod timestamp;
pub mod track;
