//! Listening TCP sockets as the engine sees them: the listener model, the verdict on its accept
//! queue (full, dropping, what to raise), which listener a host-wide ListenOverflows rise belongs
//! to, and the history of who listened where and until when. Pure: snapshots and events come in
//! with their time; no IO, no clock.
//!
//! Kernel facts this relies on (checked on 6.18; the same since 5.x):
//! - For a LISTEN socket sock_diag reports `rqueue = sk_ack_backlog` (connections waiting in
//!   the accept queue) and `wqueue = sk_max_ack_backlog`. listen(2) stores
//!   `min(backlog, net.core.somaxconn)` there, with somaxconn read *at listen() time*: so wqueue
//!   already is the effective backlog, and raising somaxconn later changes nothing until the
//!   application listens again.
//! - The accept queue counts as full when `sk_ack_backlog > sk_max_ack_backlog`
//!   (`sk_acceptq_is_full`): it holds one more than the backlog, so `listen(fd, 0)` still takes
//!   one connection. Then SYNs are dropped (ListenOverflows, ListenDrops and the socket's
//!   SK_MEMINFO_DROPS rise), and a final ACK is dropped too, or answered with a RST when
//!   `net.ipv4.tcp_abort_on_overflow = 1`.

use crate::model::timestamp::Timestamp;
use std::collections::VecDeque;
use std::net::IpAddr;

/// A process holding a listening socket. Text fields are already sanitized by the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    pub comm: String,
    pub cmdline: String,
    pub uid: Option<u32>,
    /// The process's cgroup v2 path (`0::/…` line of /proc/PID/cgroup).
    pub cgroup: Option<String>,
}

/// Where a listener listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenerKey {
    pub addr: IpAddr,
    pub port: u16,
}

impl ListenerKey {
    /// Would a connection to `addr:port` reach a listener on this key? Exact address, or a
    /// wildcard listener (0.0.0.0 for IPv4; :: for both, since an IPv6 wildcard socket takes
    /// IPv4 connections unless IPV6_V6ONLY, which sock_diag does not report).
    pub fn serves(&self, addr: IpAddr, port: u16) -> bool {
        if self.port != port {
            return false;
        }
        if self.addr == addr {
            return true;
        }
        match (self.addr, addr) {
            (IpAddr::V4(l), IpAddr::V4(_)) => l.is_unspecified(),
            (IpAddr::V6(l), _) => l.is_unspecified(),
            (IpAddr::V4(_), IpAddr::V6(a)) => a.to_ipv4_mapped().is_some_and(|a| self.addr == a),
        }
    }
}

/// One listening socket, from a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub key: ListenerKey,
    /// Socket inode: identifies the socket while it lives.
    pub inode: u32,
    pub uid: u32,
    /// Bound interface index (SO_BINDTODEVICE), 0 for none.
    pub ifindex: u32,
    /// Connections in the accept queue, not yet accept()ed.
    pub queue: u32,
    /// The accept queue's limit: min(listen() backlog, somaxconn at listen() time).
    pub backlog: u32,
    /// Packets dropped on this socket since it was created; `None` when the kernel did not say.
    pub drops: Option<u64>,
    /// Processes holding the socket (several after fork, or none found: see the snapshot's notes).
    pub owners: Vec<Owner>,
}

/// The sysctls that bound listeners, per network namespace. `None`: could not be read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListenSysctls {
    pub somaxconn: Option<u32>,
    pub tcp_max_syn_backlog: Option<u32>,
    pub tcp_abort_on_overflow: Option<u32>,
    pub tcp_syncookies: Option<u32>,
}

/// What a sockets source saw at one moment: the listeners, the sysctls that bound them, and
/// the accounting of what it could not see.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Sorted by address and port.
    pub listeners: Vec<Listener>,
    pub sysctls: ListenSysctls,
    /// What could not be seen, one line each, for the user.
    pub notes: Vec<String>,
    pub owners: OwnersSeen,
}

/// The accounting of the process scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnersSeen {
    pub pids_scanned: u64,
    pub pids_vanished: u64,
    pub pids_denied: u64,
    pub pids_skipped: u64,
    pub owners_dropped: u64,
    /// Listeners for which no process was found.
    pub unowned: u64,
}

/// The effective backlog of a listen(fd, `app_backlog`) call: what ends up in wqueue. For when
/// the application's own backlog is known (from its configuration or a traced listen call).
pub fn effective_backlog(app_backlog: u32, somaxconn: u32) -> u32 {
    app_backlog.min(somaxconn)
}

/// What bounds a listener's backlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BacklogLimit {
    /// The backlog is below somaxconn: the application's listen() backlog is the limit.
    Application,
    /// The backlog equals somaxconn: somaxconn capped it (or the application asked exactly that).
    Somaxconn,
    /// The backlog is above today's somaxconn: somaxconn was lowered after the listen() call
    /// (the socket keeps the value from then).
    SomaxconnLoweredSince,
    /// somaxconn could not be read.
    Unknown,
}

pub fn backlog_limit(backlog: u32, sysctls: &ListenSysctls) -> BacklogLimit {
    match sysctls.somaxconn {
        None => BacklogLimit::Unknown,
        Some(max) if backlog < max => BacklogLimit::Application,
        Some(max) if backlog == max => BacklogLimit::Somaxconn,
        Some(_) => BacklogLimit::SomaxconnLoweredSince,
    }
}

/// The state of an accept queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueState {
    /// Below its backlog and no drops rising.
    Ok,
    /// Not full now, but the socket has dropped packets since it was created (an overflow in
    /// the past, or other drops); with no earlier snapshot, not known to be rising.
    DroppedBefore,
    /// At or over its backlog: the kernel drops new connections (at backlog + 1).
    Full,
    /// Not full at this instant, but its drops rose since the previous snapshot: it overflows
    /// in bursts.
    Overflowing,
}

/// What to do about a queue that overflows, most likely first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advice {
    /// The queue stayed full across snapshots: the application accepts too slowly (a larger
    /// backlog only absorbs bursts).
    AcceptFaster,
    /// Raise the backlog the application passes to listen() (it is below somaxconn).
    RaiseListenBacklog { now: u32 },
    /// Raise net.core.somaxconn, then restart the listener (the cap applies at listen() time);
    /// the application's own backlog must be at least as large.
    RaiseSomaxconn { now: u32 },
    /// The listener was created under a higher somaxconn; it keeps its backlog until it listens
    /// again, when the lower value will cap it.
    SomaxconnLoweredSince { now: u32 },
    /// tcp_abort_on_overflow = 1: clients get a RST instead of a retransmission when the queue
    /// is full at their final ACK.
    AbortOnOverflowResets,
}

/// The verdict on one listener's accept queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueVerdict {
    pub state: QueueState,
    pub limit: BacklogLimit,
    /// Drops since the previous snapshot of the same socket, when there is one.
    pub drops_delta: Option<u64>,
    /// Empty when the queue is fine.
    pub advice: Vec<Advice>,
}

/// Judges `now`'s accept queue; `before` is the same socket in an earlier snapshot (same inode),
/// if any.
pub fn verdict(now: &Listener, before: Option<&Listener>, sysctls: &ListenSysctls) -> QueueVerdict {
    let limit = backlog_limit(now.backlog, sysctls);
    let before = before.filter(|b| b.inode == now.inode);
    let drops_delta = match (now.drops, before.and_then(|b| b.drops)) {
        (Some(n), Some(b)) => Some(n.saturating_sub(b)),
        _ => None,
    };
    let full = now.queue >= now.backlog;
    let state = if full {
        QueueState::Full
    } else if drops_delta.is_some_and(|d| d > 0) {
        QueueState::Overflowing
    } else if drops_delta.is_none() && now.drops.is_some_and(|d| d > 0) {
        QueueState::DroppedBefore
    } else {
        QueueState::Ok
    };
    let mut advice = Vec::new();
    if matches!(state, QueueState::Full | QueueState::Overflowing) {
        let stayed_full = full && before.is_some_and(|b| b.queue >= b.backlog);
        if stayed_full {
            advice.push(Advice::AcceptFaster);
        }
        match (limit, sysctls.somaxconn) {
            (BacklogLimit::Somaxconn, Some(max)) => {
                advice.push(Advice::RaiseSomaxconn { now: max })
            }
            (BacklogLimit::SomaxconnLoweredSince, Some(max)) => {
                advice.push(Advice::SomaxconnLoweredSince { now: max })
            }
            _ => advice.push(Advice::RaiseListenBacklog { now: now.backlog }),
        }
        if !stayed_full {
            // A bigger queue absorbs bursts; a queue that never drains needs a faster acceptor.
            advice.push(Advice::AcceptFaster);
        }
        if sysctls.tcp_abort_on_overflow == Some(1) {
            advice.push(Advice::AbortOnOverflowResets);
        }
    }
    QueueVerdict {
        state,
        limit,
        drops_delta,
        advice,
    }
}

/// One listener's share of an overflow between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverflowShare {
    pub listener: Listener,
    pub verdict: QueueVerdict,
}

/// Which listeners a rise of the host's (namespace's) ListenDrops belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverflowAttribution {
    /// Listeners whose queue is full now or whose drops rose, most drops first.
    pub listeners: Vec<OverflowShare>,
    /// ΔListenDrops from the counters, when given.
    pub counter_delta: Option<u64>,
    /// Drops the counters saw that no listener in both snapshots accounts for (listeners that
    /// closed or opened in between, or drops before their first snapshot). `None` without the
    /// counter delta.
    pub unattributed: Option<u64>,
}

/// Ties a ListenDrops (or ListenOverflows) delta over `before`..`now` to the listeners whose
/// accept queue is full or whose socket drops rose, matching sockets by inode.
pub fn attribute_overflow(
    before: &[Listener],
    now: &[Listener],
    sysctls: &ListenSysctls,
    counter_delta: Option<u64>,
) -> OverflowAttribution {
    let mut listeners: Vec<OverflowShare> = now
        .iter()
        .map(|l| {
            let b = before.iter().find(|b| b.inode == l.inode && b.key == l.key);
            OverflowShare {
                listener: l.clone(),
                verdict: verdict(l, b, sysctls),
            }
        })
        .filter(|s| matches!(s.verdict.state, QueueState::Full | QueueState::Overflowing))
        .collect();
    listeners.sort_by(|a, b| {
        b.verdict
            .drops_delta
            .unwrap_or(0)
            .cmp(&a.verdict.drops_delta.unwrap_or(0))
            .then(a.listener.key.cmp(&b.listener.key))
    });
    let attributed: u64 = listeners.iter().filter_map(|s| s.verdict.drops_delta).sum();
    OverflowAttribution {
        unattributed: counter_delta.map(|d| d.saturating_sub(attributed)),
        listeners,
        counter_delta,
    }
}

/// When a listener started listening, as far as we know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// A listen event at this time.
    At(Timestamp),
    /// Already listening in the first snapshot, taken at this time.
    NoLaterThan(Timestamp),
    /// Absent from the snapshot at the first time, present in the one at the second.
    Between(Timestamp, Timestamp),
}

/// When a listener stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// A LISTEN → CLOSE event at this time.
    At(Timestamp),
    /// Seen last in the snapshot at the first time, gone from the one at the second.
    Between(Timestamp, Timestamp),
}

/// One listener's lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub key: ListenerKey,
    /// The socket inode, when a snapshot saw it.
    pub inode: Option<u32>,
    pub owners: Vec<Owner>,
    pub backlog: Option<u32>,
    pub since: Since,
    pub last_seen: Timestamp,
    /// `None` while it listens.
    pub until: Option<Until>,
}

/// Who listened where and until when: fed by snapshots and listen/unlisten events, bounded.
#[derive(Debug, Clone)]
pub struct ListenerHistory {
    open: Vec<Span>,
    /// Ended spans, oldest first.
    closed: VecDeque<Span>,
    cap: usize,
    last_snapshot: Option<Timestamp>,
    /// Spans forgotten (oldest ended ones) or never recorded (all slots open) for the cap.
    pub overflow: u64,
}

/// The default bound on spans kept (open and ended).
pub const HISTORY_CAP: usize = 4096;

/// What [`ListenerHistory::lookup`] knows about an address and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup<'a> {
    /// Listeners serving it now.
    pub listening: Vec<&'a Span>,
    /// Listeners that served it and stopped, the most recent end first.
    pub ended: Vec<&'a Span>,
}

impl ListenerHistory {
    pub fn new(cap: usize) -> ListenerHistory {
        ListenerHistory {
            open: Vec::new(),
            closed: VecDeque::new(),
            cap: cap.max(1),
            last_snapshot: None,
            overflow: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.open.len() + self.closed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Listeners that stopped, oldest end first.
    pub fn ended(&self) -> impl Iterator<Item = &Span> {
        self.closed.iter()
    }

    /// Makes room for one span: forgets the oldest ended one. False when every slot is open.
    fn room(&mut self) -> bool {
        if self.len() < self.cap {
            return true;
        }
        self.overflow += 1;
        self.closed.pop_front().is_some()
    }

    fn close(&mut self, i: usize, until: Until) {
        let mut span = self.open.swap_remove(i);
        span.until = Some(until);
        self.closed.push_back(span);
    }

    /// A complete snapshot of the listeners at `now`: new sockets open spans, sockets gone
    /// since the previous snapshot close theirs.
    pub fn snapshot(&mut self, now: Timestamp, listeners: &[Listener]) {
        let prev = self.last_snapshot;
        // Spans not matched by this snapshot have ended since their last sighting.
        let mut seen = vec![false; self.open.len()];
        for l in listeners {
            let found = self
                .open
                .iter()
                .position(|s| s.key == l.key && s.inode == Some(l.inode))
                .or_else(|| {
                    // A span from a listen event has no inode yet: adopt it.
                    self.open
                        .iter()
                        .position(|s| s.key == l.key && s.inode.is_none())
                });
            match found {
                Some(i) => {
                    let s = &mut self.open[i];
                    s.inode = Some(l.inode);
                    s.last_seen = now;
                    s.backlog = Some(l.backlog);
                    if !l.owners.is_empty() {
                        s.owners = l.owners.clone();
                    }
                    if let Some(flag) = seen.get_mut(i) {
                        *flag = true;
                    }
                }
                None => {
                    if !self.room() {
                        continue;
                    }
                    self.open.push(Span {
                        key: l.key,
                        inode: Some(l.inode),
                        owners: l.owners.clone(),
                        backlog: Some(l.backlog),
                        since: match prev {
                            None => Since::NoLaterThan(now),
                            Some(p) => Since::Between(p, now),
                        },
                        last_seen: now,
                        until: None,
                    });
                }
            }
        }
        // Close from the back so swap_remove keeps the unvisited indices valid.
        for i in (0..seen.len()).rev() {
            if !seen[i] {
                let last = self.open[i].last_seen;
                self.close(i, Until::Between(last, now));
            }
        }
        self.last_snapshot = Some(now);
    }

    /// A socket started listening on `key` at `now` (inet_sock_set_state CLOSE → LISTEN, in the
    /// listening process's context: `owner`).
    pub fn listened(&mut self, now: Timestamp, key: ListenerKey, owner: Option<Owner>) {
        if !self.room() {
            return;
        }
        self.open.push(Span {
            key,
            inode: None,
            owners: owner.into_iter().collect(),
            backlog: None,
            since: Since::At(now),
            last_seen: now,
            until: None,
        });
    }

    /// A socket on `key` stopped listening at `now` (LISTEN → CLOSE). With several sockets on
    /// the key (SO_REUSEPORT), the one whose owner is `pid`, else the most recently seen.
    pub fn unlistened(&mut self, now: Timestamp, key: ListenerKey, pid: Option<u32>) {
        let on_key = |s: &Span| s.key == key;
        let by_pid = pid.and_then(|p| {
            self.open
                .iter()
                .position(|s| on_key(s) && s.owners.iter().any(|o| o.pid == p))
        });
        // A known pid that owns none of the spans is another process's socket — in another
        // network namespace, since the kernel's events are global: it closes nothing here.
        // Only a span whose owner is unknown may be the one, when the pid matches none.
        let i = by_pid.or_else(|| {
            self.open
                .iter()
                .enumerate()
                .filter(|(_, s)| on_key(s) && (pid.is_none() || s.owners.is_empty()))
                .max_by_key(|(_, s)| s.last_seen)
                .map(|(i, _)| i)
        });
        if let Some(i) = i {
            self.close(i, Until::At(now));
        }
        // An unlisten without a known start (it began before we watched and no snapshot saw
        // it) tells nothing about who listened: not recorded.
    }

    /// What listens, and what listened, where a connection to `addr:port` would go.
    pub fn lookup(&self, addr: IpAddr, port: u16) -> Lookup<'_> {
        let mut listening: Vec<&Span> = self
            .open
            .iter()
            .filter(|s| s.key.serves(addr, port))
            .collect();
        listening.sort_by_key(|s| s.key);
        let mut ended: Vec<&Span> = self
            .closed
            .iter()
            .filter(|s| s.key.serves(addr, port))
            .collect();
        ended.sort_by_key(|s| std::cmp::Reverse(until_time(s)));
        Lookup { listening, ended }
    }
}

/// The latest time a span may have ended (for ordering).
fn until_time(s: &Span) -> Option<Timestamp> {
    match s.until {
        Some(Until::At(t)) | Some(Until::Between(_, t)) => Some(t),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn ts(secs: i64) -> Timestamp {
        Timestamp::from_nanos(secs * 1_000_000_000, 0)
    }

    fn owner(pid: u32, comm: &str) -> Owner {
        Owner {
            pid,
            comm: comm.into(),
            cmdline: comm.into(),
            uid: Some(0),
            cgroup: None,
        }
    }

    fn listener(port: u16, inode: u32, queue: u32, backlog: u32, drops: u64) -> Listener {
        Listener {
            key: ListenerKey {
                addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
                port,
            },
            inode,
            uid: 0,
            ifindex: 0,
            queue,
            backlog,
            drops: Some(drops),
            owners: vec![owner(812, "collector-agent")],
        }
    }

    fn sysctls(somaxconn: u32) -> ListenSysctls {
        ListenSysctls {
            somaxconn: Some(somaxconn),
            tcp_max_syn_backlog: Some(512),
            tcp_abort_on_overflow: Some(0),
            tcp_syncookies: Some(1),
        }
    }

    #[test]
    fn effective_backlog_is_the_smaller() {
        assert_eq!(effective_backlog(1, 4096), 1);
        assert_eq!(effective_backlog(65535, 4096), 4096);
    }

    #[test]
    fn small_application_backlog_full_says_raise_listen_backlog() {
        let v = verdict(&listener(7211, 1, 2, 1, 40), None, &sysctls(4096));
        assert_eq!(v.state, QueueState::Full);
        assert_eq!(v.limit, BacklogLimit::Application);
        assert_eq!(
            v.advice,
            vec![Advice::RaiseListenBacklog { now: 1 }, Advice::AcceptFaster]
        );
    }

    #[test]
    fn backlog_capped_by_somaxconn_says_raise_somaxconn() {
        let v = verdict(&listener(80, 1, 128, 128, 0), None, &sysctls(128));
        assert_eq!(v.limit, BacklogLimit::Somaxconn);
        assert_eq!(v.advice[0], Advice::RaiseSomaxconn { now: 128 });
    }

    #[test]
    fn full_in_two_snapshots_says_accept_faster_first() {
        let before = listener(80, 9, 5, 5, 10);
        let now = listener(80, 9, 6, 5, 30);
        let v = verdict(&now, Some(&before), &sysctls(4096));
        assert_eq!(v.drops_delta, Some(20));
        assert_eq!(v.advice[0], Advice::AcceptFaster);
    }

    #[test]
    fn rising_drops_without_a_full_queue_is_overflowing() {
        let before = listener(80, 9, 0, 5, 10);
        let now = listener(80, 9, 1, 5, 12);
        let v = verdict(&now, Some(&before), &sysctls(4096));
        assert_eq!(v.state, QueueState::Overflowing);
        // A different socket (inode) on the same port is not the same history.
        let other = listener(80, 10, 0, 5, 10);
        assert_eq!(
            verdict(&now, Some(&other), &sysctls(4096)).drops_delta,
            None
        );
    }

    #[test]
    fn quiet_listener_is_ok_and_old_drops_are_said() {
        assert_eq!(
            verdict(&listener(80, 1, 0, 5, 0), None, &sysctls(4096)).state,
            QueueState::Ok
        );
        let v = verdict(&listener(80, 1, 0, 5, 3), None, &sysctls(4096));
        assert_eq!(v.state, QueueState::DroppedBefore);
        assert!(v.advice.is_empty());
    }

    #[test]
    fn abort_on_overflow_and_lowered_somaxconn_are_said() {
        let mut s = sysctls(64);
        s.tcp_abort_on_overflow = Some(1);
        let v = verdict(&listener(80, 1, 200, 200, 1), None, &s);
        assert_eq!(v.limit, BacklogLimit::SomaxconnLoweredSince);
        assert!(
            v.advice
                .contains(&Advice::SomaxconnLoweredSince { now: 64 })
        );
        assert!(v.advice.contains(&Advice::AbortOnOverflowResets));
    }

    #[test]
    fn overflow_is_attributed_to_the_listener_whose_drops_rose() {
        let before = vec![listener(80, 1, 0, 128, 0), listener(7211, 2, 2, 1, 5)];
        let now = vec![listener(80, 1, 0, 128, 0), listener(7211, 2, 2, 1, 45)];
        let a = attribute_overflow(&before, &now, &sysctls(4096), Some(47));
        assert_eq!(a.listeners.len(), 1);
        assert_eq!(a.listeners[0].listener.key.port, 7211);
        assert_eq!(a.listeners[0].verdict.drops_delta, Some(40));
        assert_eq!(a.unattributed, Some(7));
    }

    #[test]
    fn wildcard_listeners_serve_their_family() {
        let any4 = ListenerKey {
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 80,
        };
        let any6 = ListenerKey {
            addr: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            port: 80,
        };
        let lo4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
        assert!(any4.serves(lo4, 80));
        assert!(!any4.serves(lo4, 81));
        assert!(!any4.serves(IpAddr::V6(Ipv6Addr::LOCALHOST), 80));
        assert!(any6.serves(lo4, 80));
        let exact = ListenerKey {
            addr: lo4,
            port: 80,
        };
        assert!(!exact.serves(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 80));
        assert!(exact.serves(IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped()), 80));
    }

    #[test]
    fn history_says_who_listened_until_when() {
        let mut h = ListenerHistory::new(16);
        let l = listener(7211, 5, 0, 128, 0);
        h.snapshot(ts(100), std::slice::from_ref(&l));
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let now = h.lookup(lo, 7211);
        assert_eq!(now.listening.len(), 1);
        assert_eq!(now.listening[0].since, Since::NoLaterThan(ts(100)));
        h.unlistened(ts(103), l.key, Some(812));
        let after = h.lookup(lo, 7211);
        assert!(after.listening.is_empty());
        assert_eq!(after.ended[0].until, Some(Until::At(ts(103))));
        assert_eq!(after.ended[0].owners[0].comm, "collector-agent");
        // A listener restarted by an event, then seen by a snapshot, is one span.
        h.listened(ts(110), l.key, Some(owner(900, "collector-agent")));
        h.snapshot(ts(111), &[listener(7211, 6, 0, 128, 0)]);
        assert_eq!(h.lookup(lo, 7211).listening.len(), 1);
        assert_eq!(h.lookup(lo, 7211).listening[0].since, Since::At(ts(110)));
        assert_eq!(h.lookup(lo, 7211).listening[0].inode, Some(6));
    }

    #[test]
    fn history_from_snapshots_bounds_the_times() {
        let mut h = ListenerHistory::new(16);
        h.snapshot(ts(10), &[]);
        h.snapshot(ts(20), &[listener(8080, 1, 0, 5, 0)]);
        h.snapshot(ts(30), &[]);
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let span = h.lookup(lo, 8080).ended[0];
        assert_eq!(span.since, Since::Between(ts(10), ts(20)));
        assert_eq!(span.until, Some(Until::Between(ts(20), ts(30))));
    }

    #[test]
    fn history_is_bounded_and_counts_what_it_forgot() {
        let mut h = ListenerHistory::new(3);
        for i in 0..10u16 {
            let key = ListenerKey {
                addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
                port: 1000 + i,
            };
            h.listened(ts(i64::from(i)), key, None);
            h.unlistened(ts(i64::from(i) + 1), key, None);
        }
        assert_eq!(h.len(), 3);
        assert_eq!(h.overflow, 7);
        // The most recent ones are kept.
        assert_eq!(
            h.lookup(IpAddr::V4(Ipv4Addr::LOCALHOST), 1009).ended.len(),
            1
        );
        // All slots open: new listeners are not recorded, and counted.
        let mut full = ListenerHistory::new(2);
        for p in 0..4u16 {
            let key = ListenerKey {
                addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
                port: p,
            };
            full.listened(ts(1), key, None);
        }
        assert_eq!((full.len(), full.overflow), (2, 2));
    }
}
