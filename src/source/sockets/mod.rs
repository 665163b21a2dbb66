//! The sockets source: every listening TCP socket (IPv4 and IPv6) of the host or of another
//! network namespace, with its accept queue, backlog, drop count and owning processes, and the
//! sysctls that bound listeners. Behind [`SocketSource`], with the real netlink `sock_diag`
//! implementation ([`NetlinkSockets`]) and a fake ([`FakeSockets`]).

pub mod diag;
pub mod owners;
pub mod sysctl;

use crate::engine::listeners::{ListenSysctls, Listener, ListenerKey};
use crate::sys::netlink::{DumpError, sock_diag_dump};
use diag::{AF_INET, AF_INET6, DiagError, DiagSocket, End, TCP_LISTEN};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A sock_diag reply larger than this is given up on (about 250,000 listeners).
pub const MAX_DUMP_BYTES: usize = 64 << 20;

pub use crate::engine::listeners::{OwnersSeen, Snapshot};

/// Why no snapshot could be taken.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot enter network namespace {path}: {source}{hint}")]
    Netns {
        path: String,
        source: std::io::Error,
        hint: &'static str,
    },
    #[error(transparent)]
    Dump(#[from] DumpError),
    #[error("{family}: {source}")]
    Parse {
        family: &'static str,
        source: DiagError,
    },
    #[error("the sock_diag thread failed")]
    Thread,
    #[error("no more snapshots (fake source)")]
    Exhausted,
}

/// A source of listener snapshots.
pub trait SocketSource {
    fn snapshot(&mut self) -> Result<Snapshot, SourceError>;

    /// Only the addresses that listen now, without owners or sysctls: cheap enough to ask
    /// whenever the kernel reports a socket entering or leaving LISTEN.
    fn listening(&mut self) -> Result<Vec<ListenerKey>, SourceError> {
        Ok(self.snapshot()?.listeners.iter().map(|l| l.key).collect())
    }
}

/// The real source: sock_diag in the wanted namespace, `/proc` for the owners.
#[derive(Debug, Clone)]
pub struct NetlinkSockets {
    /// The namespace (`/run/netns/NAME`, `/proc/PID/ns/net`); `None` for the caller's own.
    pub netns: Option<PathBuf>,
    /// Normally `/proc`.
    pub proc: PathBuf,
}

impl NetlinkSockets {
    pub fn new(netns: Option<PathBuf>) -> NetlinkSockets {
        NetlinkSockets {
            netns,
            proc: PathBuf::from("/proc"),
        }
    }
}

/// What the thread inside the namespace brings back.
struct Inside {
    sockets: Vec<DiagSocket>,
    sysctls: ListenSysctls,
    notes: Vec<String>,
}

impl SocketSource for NetlinkSockets {
    fn snapshot(&mut self) -> Result<Snapshot, SourceError> {
        let netns = self.netns.clone();
        // setns changes only the calling thread: a dedicated thread enters the namespace, so
        // the caller's never changes. sock_diag and /proc/sys/net both answer for the
        // namespace of the thread that asks.
        let inside = std::thread::spawn(move || -> Result<Inside, SourceError> {
            if let Some(path) = &netns {
                crate::sys::netns::enter(path).map_err(|e| SourceError::Netns {
                    path: crate::sanitize::sanitize_text(path.as_os_str().as_encoded_bytes(), 256),
                    hint: match e.kind() {
                        std::io::ErrorKind::NotFound => {
                            " (`ip netns list` shows the names; a PID or a path like /proc/PID/ns/net also works)"
                        }
                        std::io::ErrorKind::PermissionDenied => {
                            ": entering another network namespace needs CAP_SYS_ADMIN (run as root)"
                        }
                        _ => "",
                    },
                    source: e,
                })?;
            }
            let mut notes = Vec::new();
            let mut sockets = Vec::new();
            dump_family(AF_INET, "IPv4", &mut sockets, &mut notes)?;
            dump_family(AF_INET6, "IPv6", &mut sockets, &mut notes)?;
            let sysctls = sysctl::read(Path::new("/proc/sys"), &mut notes);
            Ok(Inside {
                sockets,
                sysctls,
                notes,
            })
        })
        .join()
        .map_err(|_| SourceError::Thread)??;
        Ok(assemble(inside, &self.proc))
    }

    fn listening(&mut self) -> Result<Vec<ListenerKey>, SourceError> {
        match &self.netns {
            None => Self::listening_here(),
            Some(_) => Ok(self.snapshot()?.listeners.iter().map(|l| l.key).collect()),
        }
    }
}

impl NetlinkSockets {
    fn listening_here() -> Result<Vec<ListenerKey>, SourceError> {
        let (mut sockets, mut notes) = (Vec::new(), Vec::new());
        dump_family(AF_INET, "IPv4", &mut sockets, &mut notes)?;
        dump_family(AF_INET6, "IPv6", &mut sockets, &mut notes)?;
        Ok(sockets
            .iter()
            .filter(|s| s.state == TCP_LISTEN)
            .map(|s| ListenerKey {
                addr: s.src,
                port: s.sport,
            })
            .collect())
    }
}

fn dump_family(
    family: u8,
    name: &'static str,
    out: &mut Vec<DiagSocket>,
    notes: &mut Vec<String>,
) -> Result<(), SourceError> {
    let bytes = sock_diag_dump(
        &diag::listeners_request(family),
        MAX_DUMP_BYTES,
        diag::ends_dump,
    )?;
    match diag::parse_reply(&bytes, out) {
        Ok(End::Done) => Ok(()),
        Ok(End::Unfinished) => {
            notes.push(format!(
                "{name}: the sock_diag reply ended without its end marker: listeners may be missing"
            ));
            Ok(())
        }
        // A kernel without IPv6 (ipv6.disable=1) has no inet6 diag handler.
        Err(DiagError::Kernel { errno }) if family == AF_INET6 => {
            notes.push(format!(
                "IPv6 listeners not listed: {}",
                DiagError::Kernel { errno }
            ));
            Ok(())
        }
        Err(source) => Err(SourceError::Parse {
            family: name,
            source,
        }),
    }
}

/// Joins the sockets with their owners and says what could not be seen.
fn assemble(inside: Inside, proc: &Path) -> Snapshot {
    let Inside {
        sockets,
        sysctls,
        mut notes,
    } = inside;
    let inodes: HashSet<u32> = sockets.iter().map(|s| s.inode).collect();
    let scan = match owners::scan(proc, &inodes) {
        Ok(s) => s,
        Err(e) => {
            notes.push(format!(
                "processes not looked up: cannot list {}: {e}",
                crate::sanitize::sanitize_os(proc.as_os_str(), 256)
            ));
            owners::OwnerScan::default()
        }
    };
    let mut listeners: Vec<Listener> = sockets
        .into_iter()
        .filter(|s| s.state == TCP_LISTEN)
        .map(|s| Listener {
            key: ListenerKey {
                addr: s.src,
                port: s.sport,
            },
            inode: s.inode,
            uid: s.uid,
            ifindex: s.ifindex,
            queue: s.rqueue,
            backlog: s.wqueue,
            drops: s.drops.map(u64::from),
            owners: scan.owners.get(&s.inode).cloned().unwrap_or_default(),
        })
        .collect();
    listeners.sort_by(|a, b| a.key.cmp(&b.key).then(a.inode.cmp(&b.inode)));
    let seen = OwnersSeen {
        pids_scanned: scan.pids_scanned,
        pids_vanished: scan.pids_vanished,
        pids_denied: scan.pids_denied,
        pids_skipped: scan.pids_skipped,
        owners_dropped: scan.owners_dropped,
        unowned: listeners.iter().filter(|l| l.owners.is_empty()).count() as u64,
    };
    notes.extend(owner_notes(&seen, &listeners));
    Snapshot {
        listeners,
        sysctls,
        notes,
        owners: seen,
    }
}

/// The lines saying which owners could not be found, and why.
pub fn owner_notes(seen: &OwnersSeen, listeners: &[Listener]) -> Vec<String> {
    let mut notes = Vec::new();
    if seen.pids_denied > 0 {
        notes.push(format!(
            "{} processes could not be looked into (other users' processes need root or CAP_SYS_PTRACE): the listeners they hold show no process",
            seen.pids_denied
        ));
    }
    if seen.unowned > 0 {
        notes.push(format!(
            "{} of {} listeners have no process found (held by a process outside this PID namespace, one that could not be looked into, or one that exited during the scan)",
            seen.unowned,
            listeners.len()
        ));
    }
    if seen.pids_vanished > 0 {
        notes.push(format!(
            "{} processes exited during the scan",
            seen.pids_vanished
        ));
    }
    if seen.pids_skipped > 0 {
        notes.push(format!(
            "{} processes not scanned: more than {} processes",
            seen.pids_skipped,
            owners::MAX_PIDS
        ));
    }
    if seen.owners_dropped > 0 {
        notes.push(format!(
            "{} owners not listed: at most {} processes are listed per socket",
            seen.owners_dropped,
            owners::MAX_OWNERS_PER_SOCKET
        ));
    }
    if listeners.iter().any(|l| l.drops.is_none()) {
        notes.push(
            "the kernel gave no drop counts (SK_MEMINFO_DROPS needs Linux 4.6 or later)".into(),
        );
    }
    notes
}

/// A fake source: hands out its snapshots in order, then fails.
#[derive(Debug, Default)]
pub struct FakeSockets {
    pub snapshots: std::collections::VecDeque<Snapshot>,
}

impl SocketSource for FakeSockets {
    fn snapshot(&mut self) -> Result<Snapshot, SourceError> {
        self.snapshots.pop_front().ok_or(SourceError::Exhausted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_its_own_listener_with_backlog_and_owner() {
        // sock_diag needs no privilege for the caller's own namespace.
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
        s.listen(3).unwrap();
        let port = s.local_addr().unwrap().as_socket().unwrap().port();
        let snap = NetlinkSockets::new(None).snapshot().unwrap();
        let l = snap
            .listeners
            .iter()
            .find(|l| l.key.port == port && l.key.addr.is_loopback())
            .expect("own listener listed");
        assert_eq!((l.queue, l.backlog), (0, 3));
        assert!(l.owners.iter().any(|o| o.pid == std::process::id()));
        assert!(snap.sysctls.somaxconn.is_some());
    }

    #[test]
    fn notes_say_what_was_not_seen() {
        let seen = OwnersSeen {
            pids_denied: 4,
            unowned: 1,
            owners_dropped: 2,
            ..OwnersSeen::default()
        };
        let l = Listener {
            key: ListenerKey {
                addr: std::net::Ipv4Addr::LOCALHOST.into(),
                port: 1,
            },
            inode: 1,
            uid: 0,
            ifindex: 0,
            queue: 0,
            backlog: 1,
            drops: None,
            owners: vec![],
        };
        let notes = owner_notes(&seen, &[l]);
        assert_eq!(notes.len(), 4, "{notes:?}");
        assert!(notes[0].starts_with("4 processes could not be looked into"));
        assert!(notes[1].starts_with("1 of 1 listeners have no process"));
        assert!(notes[2].starts_with("2 owners not listed"));
        assert!(notes[3].contains("no drop counts"));
        let mut fake = FakeSockets::default();
        assert!(matches!(fake.snapshot(), Err(SourceError::Exhausted)));
    }
}
