//! Live capture: the kernel filter, the ring's frames, and the interfaces being watched. The
//! system calls themselves are in `crate::sys`; this module only parses and decides.

pub mod filter;
pub mod ring;
