//! One module per command, each wiring sources to the engine to sinks and returning the
//! process exit code through [`crate::cli`].

pub mod counters;
pub mod diagnose;
pub mod listeners;
pub mod read;
pub mod watch;
