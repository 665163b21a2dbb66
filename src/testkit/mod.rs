//! Test tooling, outside the public API (feature `testkit`, enabled for this crate's own tests,
//! examples and benches): synthetic packets ([`synth`]), scripted connection scenarios
//! ([`scenario`]) written as capture files, and the bodies of the fuzz targets ([`fuzz`]).

pub mod fuzz;
pub mod scenario;
pub mod snap;
pub mod synth;

/// The capture writers, for tests that make capture files to read back.
pub use crate::sink::pcapng_writer::{PcapWriter, PcapngWriter};
