//! Every system call rsthound makes that needs `unsafe`: the packet socket and its memory-mapped
//! Every system call rsthound makes that needs `unsafe`: the packet socket and its memory-mapped
//! ring, perf tracepoint events and their rings (and mounting tracefs), the sock_diag netlink
//! socket, entering a network namespace, dropping capabilities, listing interfaces, and
//! memory-mapping capture files (with the SIGBUS handler that turns a file shrinking under its
//! mapping into an ordinary read error). Each function here is a thin, safe wrapper; parsing of
//! what the kernel hands over (ring blocks, frames, mapped files, perf records, netlink replies)
//! happens in safe code elsewhere (`crate::source`). Every `unsafe` block says why it is sound in
//! a `// SAFETY:` comment. (Also the one CPU instruction used through `unsafe`: a cache prefetch
//! hint; backing fresh heap memory with pages in one call; and the peak memory of child
//! processes, which the tests check a run against its budget with.)
#![allow(unsafe_code)]

pub mod caps;
pub mod ifaces;
pub mod mmap;
pub mod netlink;
pub mod netns;
pub mod packet;
pub mod perf;
pub mod prefetch;
pub mod usage;

use std::io;

/// Turns a `-1` return into the thread's `errno`.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}
