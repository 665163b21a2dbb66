//! One module per command: wires its sources to the engine and its output.

pub mod listeners;
