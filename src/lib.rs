//! rsthound: track down failed TCP connections and RST packets.
//!
//! The crate is laid out as its data flows:
//!
//! - [`source`]: where input comes from — capture files and live frames — each behind a small
//!   trait with a fake;
//! - [`engine`]: pure analysis — decode, track, verdicts, groupings, findings. No IO, no clock,
//!   no output format, no syscalls: time comes from the input, and what the engine concludes
//!   goes to an [`engine::EventSink`];
//! - [`sink`]: output formats (text lines, JSON lines, pcapng) implementing that trait, and the
//!   one JSON schema ([`sink::schema`]);
//! - [`command`]: one module per command, wiring sources to the engine to sinks;
//! - [`model`]: vocabulary both sides share (timestamps, link types, directions);
//! - [`sys`]: every `unsafe` system call, behind safe wrappers.
//!
//! `tests/architecture.rs` keeps these directions: the engine imports no source, sink, command
//! or sys module, and no sink imports a source.
#![deny(unsafe_code)]

pub mod cli;
pub mod command;
pub mod duration;
pub mod engine;
pub mod mem;
pub mod model;
pub mod sanitize;
pub mod sink;
pub mod source;
pub mod sys;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
