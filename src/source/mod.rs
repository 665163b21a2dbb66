//! Sources of input, each behind a small trait with a fake.

pub mod sockets;
