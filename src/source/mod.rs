//! Where input comes from: capture files ([`capture`]) and live frames from a packet ring
//! ([`live`]), the kernel's TCP counters ([`counters`]), tracepoint events ([`kernel`]) and
//! listening sockets ([`sockets`]). Each hands the engine borrowed packets with their link type, timestamp and
//! interface; the OS-facing parts sit behind small traits with fakes for tests.

pub mod capture;
pub mod counters;
pub mod kernel;
pub mod live;
pub mod port_hints;
pub mod services;
pub mod sockets;
