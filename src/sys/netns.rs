//! Entering another network namespace (a container's), for the calling thread.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// The namespace files under `/proc/PID/ns/` that are not network namespaces.
const OTHER_NAMESPACES: [&str; 9] = [
    "cgroup",
    "ipc",
    "mnt",
    "pid",
    "pid_for_children",
    "time",
    "time_for_children",
    "user",
    "uts",
];

/// Moves the calling thread into the network namespace at `path` (`/run/netns/NAME`,
/// `/proc/PID/ns/net`). Sockets opened afterwards belong to it. Needs CAP_SYS_ADMIN.
///
/// A path that is no network namespace fails with [`io::ErrorKind::InvalidInput`] and says so,
/// before anything is opened: opening `/proc/1/ns/mnt` may be refused for ptrace reasons even to
/// root, which would otherwise read as a missing privilege.
pub fn enter(path: &Path) -> io::Result<()> {
    let in_proc_ns = path
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|d| d == "ns");
    if in_proc_ns
        && let Some(kind) = path.file_name().and_then(|n| n.to_str())
        && OTHER_NAMESPACES.contains(&kind)
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("this is a {kind} namespace, not a network namespace (give /proc/PID/ns/net)"),
        ));
    }
    let ns = File::open(path)?;
    // SAFETY: setns only reads the descriptor, which `ns` keeps open for the duration of the
    // call; CLONE_NEWNET makes the kernel check that it refers to a network namespace.
    match super::check(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) }) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a network namespace (give a name from `ip netns`, /proc/PID/ns/net or a PID)",
        )),
        Err(e) => Err(e),
        Ok(_) => Ok(()),
    }
}
