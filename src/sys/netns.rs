//! Entering another network namespace (a container's), for the calling thread.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Moves the calling thread into the network namespace at `path` (`/run/netns/NAME`,
/// `/proc/PID/ns/net`). Sockets opened afterwards belong to it. Needs CAP_SYS_ADMIN.
pub fn enter(path: &Path) -> io::Result<()> {
    let ns = File::open(path)?;
    // SAFETY: setns only reads the descriptor, which `ns` keeps open for the duration of the
    // call; CLONE_NEWNET makes the kernel check that it refers to a network namespace.
    super::check(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) })?;
    Ok(())
}
