//! Test tooling, outside the public API (feature `testkit`, enabled for this crate's own tests,
//! examples and benches): synthetic packets ([`synth`]) and scripted connection scenarios
//! ([`scenario`]) written as capture files.

pub mod scenario;
pub mod synth;

/// The capture writers, for tests that make capture files to read back.
pub use crate::sink::pcapng_writer::{PcapWriter, PcapngWriter};
