//! One module per command, wiring sources to the engine and the output.

pub mod counters;
