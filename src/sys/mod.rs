//! Every system call rsthound makes that needs `unsafe`: the packet socket and its memory-mapped
//! ring, entering a network namespace, dropping capabilities, and listing interfaces. Each
//! function here is a thin, safe wrapper; parsing of what the kernel hands over (ring blocks,
//! frames) happens in safe code elsewhere (`crate::live`). Every `unsafe` block says why it is
//! sound in a `// SAFETY:` comment.
#![allow(unsafe_code)]

pub mod caps;
pub mod ifaces;
pub mod netns;
pub mod packet;

use std::io;

/// Turns a `-1` return into the thread's `errno`.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}
