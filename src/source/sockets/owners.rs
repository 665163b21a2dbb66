//! Socket inode → the processes holding it, from `/proc/<pid>/fd` (each fd of a socket reads
//! back as `socket:[INODE]`), with each process's comm, command line, uid and cgroup. Bounded;
//! processes that vanish mid-scan, and those we may not look into, are counted, never guessed.

use crate::engine::listeners::Owner;
use crate::sanitize::sanitize_text;
use std::collections::{HashMap, HashSet};
use std::io;
use std::path::Path;

/// Processes scanned at most (a host with more is reported as partly scanned).
pub const MAX_PIDS: usize = 1 << 20;
/// Owners kept per socket (a pre-forked server can share one listener among hundreds).
pub const MAX_OWNERS_PER_SOCKET: usize = 16;
/// Characters kept of a command line and of a cgroup path.
const MAX_CMDLINE: usize = 200;
const MAX_COMM: usize = 32;

/// The result of one scan.
#[derive(Debug, Default)]
pub struct OwnerScan {
    pub owners: HashMap<u32, Vec<Owner>>,
    pub pids_scanned: u64,
    /// Processes that exited between listing /proc and reading their fds.
    pub pids_vanished: u64,
    /// Processes whose fds we may not read (another user's, without CAP_SYS_PTRACE).
    pub pids_denied: u64,
    /// Processes not looked at because of [`MAX_PIDS`].
    pub pids_skipped: u64,
    /// Owners not kept because of [`MAX_OWNERS_PER_SOCKET`].
    pub owners_dropped: u64,
}

/// Finds the owners of `inodes` under `proc` (normally `/proc`).
pub fn scan(proc: &Path, inodes: &HashSet<u32>) -> io::Result<OwnerScan> {
    let mut scan = OwnerScan::default();
    if inodes.is_empty() {
        return Ok(scan);
    }
    for entry in std::fs::read_dir(proc)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if scan.pids_scanned as usize >= MAX_PIDS {
            scan.pids_skipped += 1;
            continue;
        }
        scan.pids_scanned += 1;
        let dir = entry.path();
        let fds = match std::fs::read_dir(dir.join("fd")) {
            Ok(fds) => fds,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                scan.pids_vanished += 1;
                continue;
            }
            Err(_) => {
                scan.pids_denied += 1;
                continue;
            }
        };
        let mut found: Vec<u32> = Vec::new();
        for fd in fds {
            let Ok(fd) = fd else { continue };
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            if let Some(inode) = socket_inode(target.as_os_str().as_encoded_bytes())
                && inodes.contains(&inode)
                && !found.contains(&inode)
            {
                found.push(inode);
            }
        }
        if found.is_empty() {
            continue;
        }
        let Some(owner) = describe(&dir, pid) else {
            scan.pids_vanished += 1;
            continue;
        };
        for inode in found {
            let list = scan.owners.entry(inode).or_default();
            if list.len() < MAX_OWNERS_PER_SOCKET {
                list.push(owner.clone());
            } else {
                scan.owners_dropped += 1;
            }
        }
    }
    for list in scan.owners.values_mut() {
        list.sort_by_key(|o| o.pid);
    }
    Ok(scan)
}

/// `socket:[12345]` → 12345.
pub fn socket_inode(link: &[u8]) -> Option<u32> {
    let digits = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The process's comm, command line, uid and cgroup; `None` when it is gone.
fn describe(dir: &Path, pid: u32) -> Option<Owner> {
    let comm = std::fs::read(dir.join("comm")).ok()?;
    let comm = comm.strip_suffix(b"\n").unwrap_or(&comm);
    let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
    // Arguments are NUL-separated; shown space-separated (a trailing NUL ends the last one).
    let cmdline: Vec<u8> = cmdline
        .strip_suffix(b"\0")
        .unwrap_or(&cmdline)
        .iter()
        .map(|&b| if b == 0 { b' ' } else { b })
        .collect();
    let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
    let cgroup = std::fs::read(dir.join("cgroup")).unwrap_or_default();
    Some(Owner {
        pid,
        comm: sanitize_text(comm, MAX_COMM),
        cmdline: sanitize_text(&cmdline, MAX_CMDLINE),
        uid: status_uid(&status),
        cgroup: cgroup_v2_path(&cgroup).map(|p| sanitize_text(p, MAX_CMDLINE)),
    })
}

/// The real uid from `/proc/PID/status` (`Uid:\treal\teffective\t…`).
fn status_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The cgroup v2 path (`0::/system.slice/x.service`), or else the first line's path.
fn cgroup_v2_path(cgroup: &[u8]) -> Option<&[u8]> {
    let mut first = None;
    for line in cgroup.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        if let Some(p) = line.strip_prefix(b"0::") {
            return Some(p);
        }
        // hierarchy-ID:controllers:path
        let path = line.splitn(3, |&b| b == b':').nth(2);
        first = first.or(path);
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn socket_links_are_read_strictly() {
        assert_eq!(socket_inode(b"socket:[12345]"), Some(12345));
        assert_eq!(socket_inode(b"socket:[]"), None);
        assert_eq!(socket_inode(b"pipe:[12345]"), None);
        assert_eq!(socket_inode(b"socket:[99999999999]"), None);
        assert_eq!(socket_inode(b"socket:[12"), None);
    }

    #[test]
    fn cgroup_prefers_the_unified_line() {
        assert_eq!(
            cgroup_v2_path(b"1:name=systemd:/a\n0::/system.slice/x.service\n"),
            Some(&b"/system.slice/x.service"[..])
        );
        assert_eq!(cgroup_v2_path(b"3:cpu:/b\n"), Some(&b"/b"[..]));
        assert_eq!(cgroup_v2_path(b""), None);
    }

    #[test]
    fn finds_this_process_as_owner_of_its_own_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let inode = {
            use std::os::fd::AsRawFd;
            let link = std::fs::read_link(format!("/proc/self/fd/{}", l.as_raw_fd())).unwrap();
            socket_inode(link.as_os_str().as_encoded_bytes()).unwrap()
        };
        let scan = scan(Path::new("/proc"), &HashSet::from([inode])).unwrap();
        let owners = &scan.owners[&inode];
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0].pid, std::process::id());
        let me = std::fs::metadata("/proc/self").unwrap().uid();
        assert_eq!(owners[0].uid, Some(me));
        assert!(scan.pids_scanned >= 1);
        drop(l);
    }
}
