//! The kernel's view fused with the packets: for an RST seen on the wire, whether this host's
//! TCP stack sent it (`tcp:tcp_send_reset` fired for the same addresses) and why, or whether it
//! left the host without the stack sending it — forged by a local firewall rule — and which
//! processes own its connection. Also the connection attempts that failed per process, RST or
//! not. Pure: the attributed kernel events and the packets' times are handed in.
//!
//! The two arrive through different rings: a `tcp_send_reset` is recorded when the stack builds
//! the RST, before the packet reaches the packet socket, so a caller that drains the kernel
//! events before it looks a packet up finds its event; [`MATCH_WINDOW_NS`] absorbs the rest.

use crate::engine::attribution::Attributed;
use crate::engine::kevent::{EventKind, Process, TcpState};
use foldhash::HashMap;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

/// A kernel event and a packet further apart than this are not the same RST.
pub const MATCH_WINDOW_NS: u64 = 2_000_000_000;
/// RSTs the stack sent, remembered until a packet claims them.
pub const MAX_RESETS: usize = 65_536;
/// Connections whose connect() caller is remembered (by local and remote address).
pub const MAX_SOCKETS: usize = 65_536;
/// (process, destination) pairs whose failed attempts are counted.
pub const MAX_FAILED_GROUPS: usize = 4_096;

/// Who made an RST, as the kernel tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RstOrigin {
    /// This host's TCP stack sent it (`tcp_send_reset` fired).
    Stack,
    /// It left this host, but the stack did not send it: a firewall rule (nftables/iptables
    /// `reject with tcp reset`) forged it.
    ForgedLocally,
    /// It came from another host.
    Remote,
    /// The kernel view cannot tell (events off or lost, or the RST left the host before they
    /// were on).
    Unknown,
}

/// What the kernel said about one RST.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelNote {
    pub origin: RstOrigin,
    /// `enum sk_rst_reason` by name (`NO_SOCKET`, `TCP_ABORT_ON_CLOSE`…), when the stack sent it
    /// on a kernel that says why (6.10+).
    pub reason: Option<Arc<str>>,
    /// The process that called connect() on the connection.
    pub client: Option<Arc<Process>>,
    /// The process in whose system call the stack sent the RST (the one that closed or aborted).
    pub sender: Option<Arc<Process>>,
    /// The process that owned the local socket that received the RST.
    pub receiver: Option<Arc<Process>>,
    /// For an RST refusing a connection to a local port: who listened there before, and when
    /// it stopped (nothing listens there now).
    pub past_listener: Option<PastListener>,
    /// The RST was sent by a listening socket, for a handshake it would not complete: on Linux
    /// (seen on 6.18) a full accept queue with `net.ipv4.tcp_abort_on_overflow = 1` resets the
    /// client's final ACK this way (`tcp_check_req` → `embryonic_reset`, reason `INVALID_SYN`,
    /// the event's socket in LISTEN and its destination 0.0.0.0:0, the listener having none).
    pub listener_reset: Option<ListenerReset>,
}

/// A listening socket that reset a client's handshake.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenerReset {
    /// The listener as the kernel names it (0.0.0.0:7300 for a wildcard listener).
    pub listener: SocketAddr,
    /// Who holds it (`slowacceptd`, pid), when the caller knows.
    pub owner: Option<(String, u32)>,
    /// `net.ipv4.tcp_abort_on_overflow` of the namespace, when the caller read it.
    pub abort_on_overflow: Option<u32>,
}

/// A listener that stopped before an RST refused a connection to its port.
#[derive(Debug, Clone, PartialEq)]
pub struct PastListener {
    /// `collector-agent (pid 812)`, or `unknown process` when no snapshot or event named it.
    pub who: String,
    /// When it stopped (or the latest time it may have stopped).
    pub until: crate::model::Timestamp,
    /// Whether `until` is the exact time (a LISTEN → CLOSE event), not a snapshot's bound.
    pub exact: bool,
}

impl KernelNote {
    /// Whether the note says anything beyond "cannot tell".
    pub fn is_informative(&self) -> bool {
        self.origin != RstOrigin::Unknown
            || self.reason.is_some()
            || self.client.is_some()
            || self.sender.is_some()
            || self.receiver.is_some()
            || self.past_listener.is_some()
            || self.listener_reset.is_some()
    }
}

#[derive(Debug, Clone)]
struct SentReset {
    time_ns: u64,
    reason: Option<Arc<str>>,
    client: Option<Arc<Process>>,
    sender: Option<Arc<Process>>,
    /// The client was matched by the RST's destination (a RST for no socket answering it),
    /// so the RST goes to the client's own socket.
    to_client: bool,
}

/// Failed connection attempts to one destination by processes of one name (and cgroup): a
/// client retrying from new processes (a cron job, a shell loop) is still one line.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedConnects {
    /// The first process seen; its name, uid and cgroup stand for the group.
    pub process: Arc<Process>,
    /// How many distinct processes, and the first few pids.
    pub processes: u64,
    pub pids: Vec<u32>,
    pub remote: SocketAddr,
    pub count: u64,
    pub first_ns: u64,
    pub last_ns: u64,
}

/// Failed `connect()` calls of one errno by processes of one name (and cgroup): errors that
/// never reach TCP (EADDRNOTAVAIL: no free local port; ENETUNREACH; EACCES/EPERM from a
/// firewall or a cgroup BPF program) and blocking connects that fail (ECONNREFUSED, ETIMEDOUT,
/// EHOSTUNREACH).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectErrors {
    /// The first process seen. When it was gone before it could be named, only its pid is
    /// known (`named` is false, `comm` empty).
    pub process: Arc<Process>,
    pub named: bool,
    /// The error number (positive: 99 is EADDRNOTAVAIL on Linux).
    pub errno: i32,
    pub count: u64,
    /// How many distinct processes, and the first few pids.
    pub processes: u64,
    pub pids: Vec<u32>,
    pub first_ns: u64,
    pub last_ns: u64,
}

/// (process name, cgroup, errno) groups of failed connect() calls counted.
pub const MAX_CONNECT_ERROR_GROUPS: usize = 1_024;

#[derive(Hash)]
struct ErrKeyRef<'a> {
    comm: &'a str,
    cgroup: Option<&'a str>,
    errno: i32,
}

#[derive(Debug, PartialEq, Eq)]
struct ErrKey {
    comm: String,
    cgroup: Option<String>,
    errno: i32,
}

// Hashes as `ErrKeyRef` does.
impl std::hash::Hash for ErrKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        ErrKeyRef {
            comm: &self.comm,
            cgroup: self.cgroup.as_deref(),
            errno: self.errno,
        }
        .hash(h)
    }
}

impl hashbrown::Equivalent<ErrKey> for ErrKeyRef<'_> {
    fn equivalent(&self, k: &ErrKey) -> bool {
        self.comm == k.comm && self.cgroup == k.cgroup.as_deref() && self.errno == k.errno
    }
}

/// Pids listed per failed-connect group.
const PIDS_SHOWN: usize = 5;
/// SYNs remembered (to confirm that a failed connect happened where the capture looks).
pub const MAX_SYNS: usize = 65_536;
/// A failed connect waits this long for its SYN to be seen in the capture (the two arrive
/// through different rings) before it is counted or set aside.
pub const SETTLE_NS: u64 = 1_000_000_000;

/// Counts of what the tables could not keep or match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FusionStats {
    /// `tcp_send_reset` events no packet claimed in time (on an interface not watched, or
    /// the packet was dropped).
    pub resets_unclaimed: u64,
    /// Entries dropped because a table was full.
    pub overflow: u64,
    /// Failed connects whose SYN the capture never saw: in another network namespace (the
    /// kernel's events are global), or on an interface not watched. Not counted per process.
    pub failed_elsewhere: u64,
    /// Failed connect() calls by processes of another network namespace than the watched
    /// one (the system call tracepoint is global): left out.
    pub connect_errors_elsewhere: u64,
}

/// Two endpoints packed for hashing: the tables below are looked up several times per
/// connection attempt, and hashing a `SocketAddr` pair field by field cost more than the rest
/// of the lookup. IPv4 addresses are kept apart from IPv6 ones (`v6` bits), so that 1.2.3.4 is
/// not ::ffff:1.2.3.4. Flow labels and scope ids play no part (neither events nor packets set
/// them on the addresses compared here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Pair {
    a: u128,
    b: u128,
    /// Port of `a` in the high half, of `b` in the low half.
    ports: u32,
    /// Bit 0: `a` is IPv6; bit 1: `b` is.
    v6: u8,
}

fn ip_bits(ip: std::net::IpAddr) -> (u128, u8) {
    match ip {
        std::net::IpAddr::V4(a) => (u128::from(u32::from(a)), 0),
        std::net::IpAddr::V6(a) => (u128::from(a), 1),
    }
}

fn pair(a: SocketAddr, b: SocketAddr) -> Pair {
    let (ia, fa) = ip_bits(a.ip());
    let (ib, fb) = ip_bits(b.ip());
    Pair {
        a: ia,
        b: ib,
        ports: (u32::from(a.port()) << 16) | u32::from(b.port()),
        v6: fa | (fb << 1),
    }
}

/// A pair's 64-bit fingerprint (a fixed-seed hash: the same in every table and run).
fn fingerprint(p: Pair) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x7273_7468_6f75_6e64).hash_one(p)
}

/// The `tcp_send_reset` events of one address pair not yet claimed, oldest first. Nearly
/// always one: it is kept inline, so that remembering it allocates nothing.
#[derive(Debug, Default)]
struct SentResets {
    /// The oldest; `None` only when `rest` is empty too.
    first: Option<SentReset>,
    rest: VecDeque<SentReset>,
}

impl SentResets {
    fn push(&mut self, r: SentReset) {
        if self.first.is_none() {
            self.first = Some(r);
        } else {
            self.rest.push_back(r);
        }
    }

    fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// Takes the oldest one within the match window of `time_ns`.
    fn take_near(&mut self, time_ns: u64) -> Option<SentReset> {
        let near = |r: &SentReset| r.time_ns.abs_diff(time_ns) <= MATCH_WINDOW_NS;
        if self.first.as_ref().is_some_and(near) {
            let taken = self.first.take();
            self.first = self.rest.pop_front();
            return taken;
        }
        let i = self.rest.iter().position(near)?;
        self.rest.remove(i)
    }

    /// Drops those older than `older_than` before `now_ns`; returns how many.
    fn expire(&mut self, now_ns: u64, older_than: u64) -> u64 {
        let mut n = 0;
        while self
            .first
            .as_ref()
            .is_some_and(|r| now_ns.saturating_sub(r.time_ns) > older_than)
        {
            self.first = self.rest.pop_front();
            n += 1;
        }
        n
    }
}

/// A failed-connect group's key looked up without allocating (see [`FailedKey`]).
#[derive(Hash)]
struct FailedKeyRef<'a> {
    comm: &'a str,
    cgroup: Option<&'a str>,
    remote: SocketAddr,
}

/// Failed connects are grouped by command name, cgroup and destination.
#[derive(Debug, PartialEq, Eq)]
struct FailedKey {
    comm: String,
    cgroup: Option<String>,
    remote: SocketAddr,
}

// Hashes as `FailedKeyRef` does: the same fields, in the same order, as borrowed values.
impl std::hash::Hash for FailedKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        FailedKeyRef {
            comm: &self.comm,
            cgroup: self.cgroup.as_deref(),
            remote: self.remote,
        }
        .hash(h)
    }
}

impl hashbrown::Equivalent<FailedKey> for FailedKeyRef<'_> {
    fn equivalent(&self, k: &FailedKey) -> bool {
        self.comm == k.comm && self.cgroup == k.cgroup.as_deref() && self.remote == k.remote
    }
}

/// The kernel facts a live run has gathered.
#[derive(Debug, Default)]
pub struct KernelFacts {
    /// RSTs the stack sent, by (source, destination).
    resets: HashMap<Pair, SentResets>,
    reset_count: usize,
    /// connect() callers by (local, remote).
    sockets: HashMap<Pair, Arc<Process>>,
    /// RSTs sent by listening sockets (no destination in the event), by the listener's address,
    /// oldest first; they share `MAX_RESETS` with `resets`.
    listener_resets: HashMap<SocketAddr, SentResets>,
    /// Local socket owners that received a RST, by (local, remote).
    received: HashMap<Pair, Arc<Process>>,
    failed: hashbrown::HashMap<FailedKey, FailedConnects, foldhash::fast::RandomState>,
    /// SYNs the capture saw leave this host, by the fingerprint of (local, remote), with
    /// when. One per connection attempt: kept as 16 bytes each, a quarter of the pair, so that
    /// a storm's table stays in the cache. Two pairs with one fingerprint (odds of 2^-64 per
    /// pair) would count a failed connect as seen here.
    syns: HashMap<u64, u64>,
    /// Failed connects waiting for their SYN to be seen: (fingerprint of (local, remote),
    /// remote, process, time).
    pending: VecDeque<(u64, SocketAddr, Arc<Process>, u64)>,
    connect_errors: hashbrown::HashMap<ErrKey, ConnectErrors, foldhash::fast::RandomState>,
    /// The watched network namespace (its inode), when known: connect() errors of processes
    /// known to be in another one are left out.
    home_netns: Option<u64>,
    /// Whether every RST the stack sent is known: the events are on and none were lost.
    complete: bool,
    /// Packet time from which the events are on: a RST captured earlier may have been sent
    /// before the tracepoints were enabled, so its missing event proves nothing.
    watched_since_ns: u64,
    pub stats: FusionStats,
}

impl KernelFacts {
    /// `complete`: `tcp_send_reset` is watched (so a missing event means the stack did not send
    /// the RST).
    pub fn new(complete: bool) -> Self {
        KernelFacts {
            complete,
            ..KernelFacts::default()
        }
    }

    /// The packet time (ns) from which the kernel's events are known to be on. The packet ring
    /// opens before the tracepoints do, so the first RSTs of a busy run were captured while no
    /// `tcp_send_reset` could be recorded.
    pub fn watched_since(&mut self, time_ns: u64) {
        self.watched_since_ns = time_ns;
    }

    /// The watched network namespace's inode (`/proc/self/ns/net` once inside it).
    pub fn set_home_netns(&mut self, inode: Option<u64>) {
        self.home_netns = inode;
    }

    /// Records lost by the kernel: from now on a missing `tcp_send_reset` proves nothing.
    pub fn lost_records(&mut self) {
        self.complete = false;
    }

    /// Takes in one attributed kernel event.
    pub fn observe(&mut self, a: &Attributed) {
        let client = a.client.as_ref().map(|(p, _)| p.clone());
        match &a.event.kind {
            EventKind::SendReset(r) => {
                let Some(src) = r.src else {
                    return;
                };
                if self.reset_count >= MAX_RESETS {
                    self.stats.overflow += 1;
                    return;
                }
                let no_peer = r
                    .dst
                    .is_none_or(|d| d.ip().is_unspecified() && d.port() == 0);
                if r.state == Some(TcpState::LISTEN) && no_peer {
                    self.reset_count += 1;
                    self.listener_resets
                        .entry(src)
                        .or_default()
                        .push(SentReset {
                            time_ns: a.event.ctx.time_ns,
                            reason: r.reason.clone(),
                            client: None,
                            sender: a.actor.clone(),
                            to_client: false,
                        });
                    return;
                }
                let Some(dst) = r.dst else {
                    return;
                };
                self.reset_count += 1;
                self.resets
                    .entry(pair(src, dst))
                    .or_default()
                    .push(SentReset {
                        time_ns: a.event.ctx.time_ns,
                        reason: r.reason.clone(),
                        client: client.clone(),
                        sender: a.actor.clone(),
                        to_client: a
                            .client
                            .as_ref()
                            .is_some_and(|(_, b)| *b != crate::engine::attribution::Basis::Socket),
                    });
            }
            EventKind::ReceiveReset(r) => {
                let (Some(local), Some(remote)) = (r.local, r.remote) else {
                    return;
                };
                // The RST this host's stack sent to a local client (a refused attempt on this
                // host) and not yet claimed by its packet: the note will name that client as
                // the receiver, so no entry is needed (one insert less per refused attempt,
                // in a table as large as a second of them).
                let told = client.as_ref().is_some_and(|c| {
                    a.actor.as_ref().is_none_or(|x| x.pid == c.pid)
                        && self.resets.get(&pair(remote, local)).is_some_and(|l| {
                            l.first.iter().chain(l.rest.iter()).any(|r| r.to_client)
                        })
                });
                if !told && let Some(p) = a.actor.clone().or(client) {
                    self.remember(Table::Received, pair(local, remote), p);
                }
            }
            EventKind::SetState(s) => {
                let (Some(p), Some(remote)) = (client, s.remote) else {
                    return;
                };
                let local = a.client_local.or(s.local).filter(|l| l.port() != 0);
                // Only live connections are remembered: a closed one's RSTs were already seen
                // (its send_reset or the packet came first), and forgetting at once keeps the
                // table as small as the connections open.
                if let Some(local) = local {
                    if s.new == TcpState::CLOSE {
                        self.sockets.remove(&pair(local, remote));
                    } else {
                        self.remember(Table::Sockets, pair(local, remote), p.clone());
                    }
                }
                if s.old == TcpState::SYN_SENT
                    && s.new == TcpState::CLOSE
                    && let Some(local) = local
                {
                    if self.pending.len() >= MAX_SYNS {
                        self.stats.overflow += 1;
                    } else {
                        self.pending.push_back((
                            fingerprint(pair(local, remote)),
                            remote,
                            p,
                            a.event.ctx.time_ns,
                        ));
                    }
                }
            }
            EventKind::ConnectExit(c) => {
                if let Some(errno) = c.errno() {
                    self.count_connect_error(a, errno);
                }
            }
            EventKind::RetransmitSynack(_) | EventKind::KfreeSkb(_) => {}
        }
    }

    fn count_connect_error(&mut self, a: &Attributed, errno: i32) {
        let t = a.event.ctx.time_ns;
        let (p, named) = match a.actor.as_ref().or(a.client.as_ref().map(|(p, _)| p)) {
            Some(p) => (p.clone(), true),
            None => (
                Arc::new(Process {
                    pid: a.event.ctx.pid,
                    ..Process::default()
                }),
                false,
            ),
        };
        if let (Some(home), Some(ns)) = (self.home_netns, p.netns)
            && home != ns
        {
            self.stats.connect_errors_elsewhere += 1;
            return;
        }
        let key = ErrKeyRef {
            comm: &p.comm,
            cgroup: p.cgroup.as_deref(),
            errno,
        };
        if let Some(g) = self.connect_errors.get_mut(&key) {
            g.count += 1;
            g.last_ns = t;
            if !g.pids.contains(&p.pid) {
                g.processes += 1;
                if g.pids.len() < PIDS_SHOWN {
                    g.pids.push(p.pid);
                }
            }
        } else if self.connect_errors.len() < MAX_CONNECT_ERROR_GROUPS {
            let key = ErrKey {
                comm: p.comm.clone(),
                cgroup: p.cgroup.clone(),
                errno,
            };
            self.connect_errors.insert(
                key,
                ConnectErrors {
                    pids: vec![p.pid],
                    process: p,
                    named,
                    errno,
                    count: 1,
                    processes: 1,
                    first_ns: t,
                    last_ns: t,
                },
            );
        } else {
            self.stats.overflow += 1;
        }
    }

    /// Failed connect() calls by process and errno, most first.
    pub fn connect_errors(&self) -> Vec<ConnectErrors> {
        let mut v: Vec<ConnectErrors> = self.connect_errors.values().cloned().collect();
        v.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then(a.process.pid.cmp(&b.process.pid))
                .then(a.errno.cmp(&b.errno))
        });
        v
    }

    /// A SYN the capture saw leave this host (`local` → `remote`).
    pub fn saw_syn(&mut self, local: SocketAddr, remote: SocketAddr, time_ns: u64) {
        let key = fingerprint(pair(local, remote));
        if self.syns.len() >= MAX_SYNS && !self.syns.contains_key(&key) {
            // Old SYNs are the least likely to be asked about: start over.
            self.syns.clear();
            self.stats.overflow += 1;
        }
        self.syns.insert(key, time_ns);
    }

    /// Counts the failed connects whose SYN the capture saw, once they are `SETTLE_NS` old
    /// (all of them with `all`, at the end of a run); the others happened elsewhere.
    pub fn settle(&mut self, now_ns: u64, all: bool) {
        while let Some(&(_, _, _, t)) = self.pending.front() {
            if !all && now_ns.saturating_sub(t) < SETTLE_NS {
                break;
            }
            let Some((key, remote, p, t)) = self.pending.pop_front() else {
                break;
            };
            if self.syns.contains_key(&key) {
                self.count_failed(p, remote, t);
            } else {
                self.stats.failed_elsewhere += 1;
            }
        }
        self.syns
            .retain(|_, t| now_ns.saturating_sub(*t) <= 20 * SETTLE_NS || all);
    }

    fn count_failed(&mut self, p: Arc<Process>, remote: SocketAddr, t: u64) {
        let key = FailedKeyRef {
            comm: &p.comm,
            cgroup: p.cgroup.as_deref(),
            remote,
        };
        if let Some(f) = self.failed.get_mut(&key) {
            f.count += 1;
            f.last_ns = t;
            if !f.pids.contains(&p.pid) {
                // Pids of one name arrive in order: a new one is a new process unless it was
                // listed and dropped from the short list.
                f.processes += 1;
                if f.pids.len() < PIDS_SHOWN {
                    f.pids.push(p.pid);
                }
            }
        } else if self.failed.len() < MAX_FAILED_GROUPS {
            let key = FailedKey {
                comm: p.comm.clone(),
                cgroup: p.cgroup.clone(),
                remote,
            };
            self.failed.insert(
                key,
                FailedConnects {
                    pids: vec![p.pid],
                    process: p,
                    processes: 1,
                    remote,
                    count: 1,
                    first_ns: t,
                    last_ns: t,
                },
            );
        } else {
            self.stats.overflow += 1;
        }
    }

    fn remember(&mut self, table: Table, key: Pair, p: Arc<Process>) {
        let map = match table {
            Table::Sockets => &mut self.sockets,
            Table::Received => &mut self.received,
        };
        if map.len() >= MAX_SOCKETS && !map.contains_key(&key) {
            // Whole-table reset: old sockets are the least likely to be asked about again.
            map.clear();
            self.stats.overflow += 1;
        }
        map.insert(key, p);
    }

    /// Whether a `tcp_send_reset` from `from` to `to` near `time_ns` waits to be claimed.
    pub fn has_reset(&self, from: SocketAddr, to: SocketAddr, time_ns: u64) -> bool {
        self.resets.get(&pair(from, to)).is_some_and(|l| {
            l.first
                .iter()
                .chain(l.rest.iter())
                .any(|r| r.time_ns.abs_diff(time_ns) <= MATCH_WINDOW_NS)
        })
    }

    /// What the kernel says about an RST from `from` to `to` seen at `time_ns` (wall clock).
    /// `left_host`: it was seen leaving this host (on loopback, or outgoing). `answers_syn`: it
    /// has the shape of an answer to a SYN (ACK set, sequence number 0), the only RSTs that
    /// may be called forged: the stack records a reset for no socket before it sends it, but
    /// an abort of its own socket (`tcp_send_active_reset`, 6.18) only after, so that RST can
    /// reach the capture first. Each `tcp_send_reset` explains one packet.
    pub fn note_for_rst(
        &mut self,
        from: SocketAddr,
        to: SocketAddr,
        left_host: bool,
        answers_syn: bool,
        time_ns: u64,
    ) -> KernelNote {
        // The client's socket is the RST's destination (its local end is `to`).
        let at_to = self.sockets.get(&pair(to, from));
        let mut to_client = at_to.is_some();
        let mut note = KernelNote {
            origin: if left_host {
                RstOrigin::Unknown
            } else {
                RstOrigin::Remote
            },
            reason: None,
            client: at_to.or_else(|| self.sockets.get(&pair(from, to))).cloned(),
            sender: None,
            receiver: self.received.get(&pair(to, from)).cloned(),
            past_listener: None,
            listener_reset: None,
        };
        let key = pair(from, to);
        if let Some(list) = self.resets.get_mut(&key) {
            if let Some(r) = list.take_near(time_ns) {
                self.reset_count -= 1;
                note.origin = RstOrigin::Stack;
                note.reason = r.reason;
                note.sender = r.sender;
                if r.client.is_some() {
                    note.client = r.client;
                    to_client = r.to_client;
                }
            }
            if list.is_empty() {
                self.resets.remove(&key);
            }
        }
        if note.origin == RstOrigin::Unknown
            && left_host
            && let Some((listener, r)) = self.take_listener_reset(from, time_ns)
        {
            note.origin = RstOrigin::Stack;
            note.reason = r.reason;
            note.sender = r.sender;
            note.listener_reset = Some(ListenerReset {
                listener,
                owner: None,
                abort_on_overflow: None,
            });
        }
        if note.receiver.is_none() && to_client {
            note.receiver = note.client.clone();
        }
        if note.origin == RstOrigin::Unknown
            && left_host
            && answers_syn
            && self.complete
            && time_ns >= self.watched_since_ns
        {
            note.origin = RstOrigin::ForgedLocally;
        }
        note
    }

    /// The nearest in time RST sent by the listener that serves `from` (bound to its address or
    /// to the wildcard of either family), taken so that it explains one packet only.
    fn take_listener_reset(
        &mut self,
        from: SocketAddr,
        time_ns: u64,
    ) -> Option<(SocketAddr, SentReset)> {
        let port = from.port();
        let candidates = [
            from,
            SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), port),
            SocketAddr::new(std::net::Ipv6Addr::UNSPECIFIED.into(), port),
        ];
        for key in candidates {
            let Some(list) = self.listener_resets.get_mut(&key) else {
                continue;
            };
            let taken = list.take_near(time_ns);
            if list.is_empty() {
                self.listener_resets.remove(&key);
            }
            if let Some(r) = taken {
                self.reset_count -= 1;
                return Some((key, r));
            }
        }
        None
    }

    /// Forgets `tcp_send_reset` events older than the match window before `now_ns`: no packet
    /// will claim them any more.
    pub fn expire(&mut self, now_ns: u64) {
        let mut unclaimed = 0;
        let mut old = |list: &mut SentResets| {
            unclaimed += list.expire(now_ns, 2 * MATCH_WINDOW_NS);
            !list.is_empty()
        };
        self.resets.retain(|_, list| old(list));
        self.listener_resets.retain(|_, list| old(list));
        self.reset_count -= unclaimed as usize;
        self.stats.resets_unclaimed += unclaimed;
    }

    /// Failed connection attempts by process and destination, most first.
    pub fn failed_connects(&self) -> Vec<FailedConnects> {
        let mut v: Vec<FailedConnects> = self.failed.values().cloned().collect();
        v.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then(a.process.pid.cmp(&b.process.pid))
                .then(a.remote.cmp(&b.remote))
        });
        v
    }
}

#[derive(Clone, Copy)]
enum Table {
    Sockets,
    Received,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::attribution::Basis;
    use crate::engine::kevent::{KernelEvent, SendReset, SetState, TaskContext};

    fn proc(pid: u32, comm: &str) -> Arc<Process> {
        Arc::new(Process {
            pid,
            comm: comm.into(),
            ..Process::default()
        })
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn ev(t: u64, kind: EventKind) -> KernelEvent {
        KernelEvent {
            ctx: TaskContext {
                pid: 4711,
                tid: 4711,
                time_ns: t,
                cpu: 0,
                in_irq: false,
            },
            kind,
        }
    }

    fn reset(
        t: u64,
        src: &str,
        dst: &str,
        reason: &str,
        client: Option<Arc<Process>>,
    ) -> Attributed {
        Attributed {
            event: ev(
                t,
                EventKind::SendReset(SendReset {
                    skaddr: 0,
                    state: None,
                    reason: Some(reason.into()),
                    src: Some(sa(src)),
                    dst: Some(sa(dst)),
                }),
            ),
            client: client.map(|p| (p, Basis::Addresses)),
            actor: None,
            client_local: None,
        }
    }

    #[test]
    fn packed_pairs_keep_ipv4_apart_from_mapped_ipv6_and_the_direction() {
        let v4 = sa("1.2.3.4:80");
        let mapped = sa("[::ffff:1.2.3.4]:80");
        let other = sa("127.0.0.1:40000");
        assert_ne!(pair(v4, other), pair(mapped, other));
        assert_ne!(pair(v4, other), pair(other, v4));
        assert_eq!(pair(v4, other), pair(sa("1.2.3.4:80"), other));
        assert_ne!(fingerprint(pair(v4, other)), fingerprint(pair(other, v4)));
    }

    #[test]
    fn sent_resets_of_one_pair_are_taken_oldest_first_within_the_window() {
        let r = |t| SentReset {
            time_ns: t,
            reason: None,
            client: None,
            sender: None,
            to_client: false,
        };
        let mut l = SentResets::default();
        assert!(l.is_empty());
        for t in [10, 20, 30 * MATCH_WINDOW_NS] {
            l.push(r(t));
        }
        // Near t=15: the oldest of the two within the window.
        assert_eq!(l.take_near(15).map(|x| x.time_ns), Some(10));
        // Far from everything: nothing.
        assert!(l.take_near(10 * MATCH_WINDOW_NS).is_none());
        // The newest, from the middle of the rest.
        assert_eq!(
            l.take_near(30 * MATCH_WINDOW_NS).map(|x| x.time_ns),
            Some(30 * MATCH_WINDOW_NS)
        );
        assert_eq!(l.expire(40 * MATCH_WINDOW_NS, 2 * MATCH_WINDOW_NS), 1);
        assert!(l.is_empty());
    }

    #[test]
    fn a_refused_attempt_gets_the_stack_reason_and_the_client() {
        let mut k = KernelFacts::new(true);
        let c = proc(4711, "collectord");
        k.observe(&reset(
            1_000,
            "127.0.0.1:7211",
            "127.0.0.1:41838",
            "NO_SOCKET",
            Some(c.clone()),
        ));
        let n = k.note_for_rst(
            sa("127.0.0.1:7211"),
            sa("127.0.0.1:41838"),
            true,
            true,
            1_500,
        );
        assert_eq!(n.origin, RstOrigin::Stack);
        assert_eq!(n.reason.as_deref(), Some("NO_SOCKET"));
        assert_eq!(n.client.as_ref().unwrap().label(), "collectord[4711]");
        // The event explained one packet: a second identical RST is not the stack's.
        let n = k.note_for_rst(
            sa("127.0.0.1:7211"),
            sa("127.0.0.1:41838"),
            true,
            true,
            1_600,
        );
        assert_eq!(n.origin, RstOrigin::ForgedLocally);
    }

    #[test]
    fn an_rst_leaving_without_a_send_reset_is_forged_only_when_the_view_is_complete() {
        let mut k = KernelFacts::new(true);
        let n = k.note_for_rst(sa("10.0.0.2:9090"), sa("10.0.0.1:5000"), true, true, 10);
        assert_eq!(n.origin, RstOrigin::ForgedLocally);
        let n = k.note_for_rst(sa("10.0.0.2:9090"), sa("10.0.0.1:5000"), false, true, 10);
        assert_eq!(n.origin, RstOrigin::Remote, "arrived from elsewhere");
        k.lost_records();
        let n = k.note_for_rst(sa("10.0.0.2:9090"), sa("10.0.0.1:5000"), true, true, 10);
        assert_eq!(
            n.origin,
            RstOrigin::Unknown,
            "records were lost: cannot tell"
        );
    }

    #[test]
    fn an_rst_captured_before_the_events_were_on_is_not_called_forged() {
        let mut k = KernelFacts::new(true);
        k.watched_since(1_000);
        let n = k.note_for_rst(sa("127.0.0.1:7211"), sa("127.0.0.1:5000"), true, true, 999);
        assert_eq!(
            n.origin,
            RstOrigin::Unknown,
            "sent before the tracepoints were on"
        );
        let n = k.note_for_rst(
            sa("127.0.0.1:7211"),
            sa("127.0.0.1:5000"),
            true,
            true,
            1_000,
        );
        assert_eq!(n.origin, RstOrigin::ForgedLocally);
    }

    #[test]
    fn events_too_far_from_the_packet_do_not_match_and_expire() {
        let mut k = KernelFacts::new(true);
        k.observe(&reset(0, "127.0.0.1:1", "127.0.0.1:2", "NO_SOCKET", None));
        let n = k.note_for_rst(
            sa("127.0.0.1:1"),
            sa("127.0.0.1:2"),
            true,
            true,
            3 * MATCH_WINDOW_NS,
        );
        assert_eq!(n.origin, RstOrigin::ForgedLocally);
        k.expire(5 * MATCH_WINDOW_NS);
        assert_eq!(k.stats.resets_unclaimed, 1);
        assert_eq!(k.reset_count, 0);
    }

    #[test]
    fn failed_connects_are_counted_per_process_and_destination() {
        let mut k = KernelFacts::new(true);
        let c = proc(7, "curl");
        for t in 0..3 {
            k.observe(&Attributed {
                event: ev(
                    t,
                    EventKind::SetState(SetState {
                        skaddr: 1,
                        old: TcpState::SYN_SENT,
                        new: TcpState::CLOSE,
                        protocol: 6,
                        local: Some(sa("10.0.0.1:40000")),
                        remote: Some(sa("10.0.0.9:443")),
                    }),
                ),
                client: Some((c.clone(), Basis::Socket)),
                actor: None,
                client_local: None,
            });
        }
        // Not counted until the capture saw their SYNs (here: two of the three).
        assert!(k.failed_connects().is_empty());
        k.saw_syn(sa("10.0.0.1:40000"), sa("10.0.0.9:443"), 0);
        k.settle(10, true);
        let f = k.failed_connects();
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].count, f[0].remote), (3, sa("10.0.0.9:443")));
        assert_eq!((f[0].processes, f[0].pids.clone()), (1, vec![7]));
        // One whose SYN no capture saw happened elsewhere (another namespace): set aside.
        k.observe(&Attributed {
            event: ev(
                20,
                EventKind::SetState(SetState {
                    skaddr: 2,
                    old: TcpState::SYN_SENT,
                    new: TcpState::CLOSE,
                    protocol: 6,
                    local: Some(sa("10.0.0.1:40001")),
                    remote: Some(sa("10.0.0.9:443")),
                }),
            ),
            client: Some((c.clone(), Basis::Socket)),
            actor: None,
            client_local: None,
        });
        k.settle(20 + SETTLE_NS, false);
        assert_eq!(k.failed_connects()[0].count, 3);
        assert_eq!(k.stats.failed_elsewhere, 1);
        // A closed socket is forgotten; a live one's owner is known for later RSTs on it.
        let n = k.note_for_rst(sa("10.0.0.9:443"), sa("10.0.0.1:40000"), false, true, 30);
        assert!(n.client.is_none());
        k.observe(&Attributed {
            event: ev(
                40,
                EventKind::SetState(SetState {
                    skaddr: 3,
                    old: TcpState::SYN_SENT,
                    new: TcpState(1), // ESTABLISHED
                    protocol: 6,
                    local: Some(sa("10.0.0.1:40002")),
                    remote: Some(sa("10.0.0.9:443")),
                }),
            ),
            client: Some((c.clone(), Basis::Socket)),
            actor: None,
            client_local: None,
        });
        let n = k.note_for_rst(sa("10.0.0.9:443"), sa("10.0.0.1:40002"), false, true, 50);
        assert_eq!(n.client.unwrap().comm, "curl");
    }
}

#[cfg(test)]
mod listener_reset_tests {
    use super::*;
    use crate::engine::kevent::{KernelEvent, SendReset, TaskContext};

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// What 6.18 records for an RST a full accept queue sends with tcp_abort_on_overflow=1: the
    /// listener's socket, in LISTEN, reason INVALID_SYN, the destination all zeros.
    fn overflow_reset(t: u64, listener: &str) -> Attributed {
        Attributed {
            event: KernelEvent {
                ctx: TaskContext {
                    time_ns: t,
                    in_irq: true,
                    ..TaskContext::default()
                },
                kind: EventKind::SendReset(SendReset {
                    skaddr: 0xffff_8880_0000_1000,
                    state: Some(TcpState::LISTEN),
                    reason: Some("INVALID_SYN".into()),
                    src: Some(sa(listener)),
                    dst: Some(sa("0.0.0.0:0")),
                }),
            },
            client: None,
            client_local: None,
            actor: None,
        }
    }

    #[test]
    fn a_listener_reset_explains_one_rst_from_its_port_to_any_client() {
        let mut f = KernelFacts::new(true);
        f.observe(&overflow_reset(1_000, "127.0.0.1:7300"));
        f.observe(&overflow_reset(1_100, "127.0.0.1:7300"));
        let from = sa("127.0.0.1:7300");
        for client in ["127.0.0.1:40000", "127.0.0.1:40002"] {
            let n = f.note_for_rst(from, sa(client), true, true, 1_200);
            assert_eq!(n.origin, RstOrigin::Stack);
            assert_eq!(n.reason.as_deref(), Some("INVALID_SYN"));
            let l = n.listener_reset.expect("tied to the listener");
            assert_eq!(l.listener, from);
        }
        // Two events explain two packets; a third with none is not the stack's.
        let n = f.note_for_rst(from, sa("127.0.0.1:40004"), true, true, 1_300);
        assert_eq!(n.origin, RstOrigin::ForgedLocally);
        assert!(n.listener_reset.is_none());
    }

    #[test]
    fn a_wildcard_listener_serves_its_port_and_old_resets_expire() {
        let mut f = KernelFacts::new(false);
        f.observe(&overflow_reset(1_000, "0.0.0.0:8080"));
        let n = f.note_for_rst(sa("10.0.0.1:8080"), sa("10.0.0.9:5000"), true, true, 2_000);
        assert_eq!(
            n.listener_reset.map(|l| l.listener),
            Some(sa("0.0.0.0:8080"))
        );
        f.observe(&overflow_reset(1_000, "0.0.0.0:8080"));
        f.expire(1_000 + 2 * MATCH_WINDOW_NS + 1);
        assert_eq!(f.stats.resets_unclaimed, 1);
        let n = f.note_for_rst(
            sa("10.0.0.1:8080"),
            sa("10.0.0.9:5001"),
            true,
            false,
            5 * MATCH_WINDOW_NS,
        );
        assert!(n.listener_reset.is_none());
        assert_eq!(n.origin, RstOrigin::Unknown);
    }
}
