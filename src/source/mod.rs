//! Sources of input that are not capture files: here, the kernel's own events.

pub mod kernel;
