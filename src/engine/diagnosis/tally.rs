//! The typed tally `diagnose` keeps of a live run's RSTs and failed attempts: grouped by what
//! they mean (refused, forged by a firewall rule, aborted by this host for a kernel reason,
//! reset by a peer, suspected injected) and by the endpoint that sent them, with the processes
//! the kernel named. Fed by the sink that sees every engine event; bounded, with an overflow
//! count that the diagnosis shows.

use crate::engine::fusion::RstOrigin;
use crate::engine::kevent::Process;
use crate::engine::track::{ClosedConn, ConnSummary, Endpoint, RstEvent, Verdict};
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

/// Groups kept at once; beyond it events are counted in [`Tally::overflow`].
pub const MAX_GROUPS: usize = 4096;
/// Processes kept per group.
pub const MAX_PROCESSES: usize = 4;
/// Peer addresses kept per group.
pub const MAX_PEERS: usize = 16;
/// Distinct ports kept per source (enough to call a scan).
pub const MAX_PORTS: usize = 256;

/// What an RST means, for grouping.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// Answered a SYN: nothing listened (or a remote REJECT).
    Refused,
    /// Left this host but its TCP stack did not send it: a local firewall rule.
    Forged,
    /// This host's stack aborted a connection, with the kernel's reason (`None`: the kernel
    /// did not say, e.g. kernel events off).
    Aborted(Option<Arc<str>>),
    /// Another host reset a connection of this host.
    PeerReset,
    /// Looks forged by a middlebox (TTL unlike the sender's, out of window, sender kept talking).
    Injected,
    /// Anything else (strays, resets after close, handshake resets), by verdict.
    Other(Verdict),
}

/// A process, as a diagnosis names it (text already sanitized by the source).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProcRef {
    pub pid: u32,
    pub comm: String,
    pub cmdline: Option<String>,
    /// Its network namespace inode, when known: the kernel's events are global, so a process
    /// of another namespace can share this one's addresses (127.0.0.1 is in every namespace).
    pub netns: Option<u64>,
}

impl ProcRef {
    pub fn of(p: &Process) -> ProcRef {
        ProcRef {
            pid: p.pid,
            comm: p.comm.clone(),
            cmdline: p.cmdline.clone(),
            netns: p.netns,
        }
    }
}

/// RSTs of one class sent by one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub count: u64,
    pub first_ns: i64,
    pub last_ns: i64,
    /// The sender is this host (its stack, or a firewall rule on it).
    pub local: bool,
    /// The kernel's reasons, with counts.
    pub reasons: Vec<(Arc<str>, u64)>,
    /// The processes involved: clients for refused and forged, the closing process for aborts,
    /// the receiving one for peer resets.
    pub processes: Vec<ProcRef>,
    /// Processes beyond [`MAX_PROCESSES`].
    pub processes_more: u64,
    /// The other ends (clients of a refused endpoint).
    pub peers: BTreeSet<IpAddr>,
    pub peers_saturated: bool,
}

impl Group {
    fn new(ns: i64, local: bool) -> Group {
        Group {
            count: 0,
            first_ns: ns,
            last_ns: ns,
            local,
            reasons: Vec::new(),
            processes: Vec::new(),
            processes_more: 0,
            peers: BTreeSet::new(),
            peers_saturated: false,
        }
    }

    /// Events per second between the first and the last (None for fewer than two).
    pub fn rate(&self) -> Option<f64> {
        let span = self.last_ns.saturating_sub(self.first_ns);
        (self.count >= 2 && span > 0).then(|| (self.count - 1) as f64 / (span as f64 / 1e9))
    }

    fn add(&mut self, ns: i64, peer: IpAddr, reason: Option<&Arc<str>>, proc: Option<&Process>) {
        self.count = self.count.saturating_add(1);
        self.first_ns = self.first_ns.min(ns);
        self.last_ns = self.last_ns.max(ns);
        if let Some(r) = reason {
            if let Some((_, c)) = self.reasons.iter_mut().find(|(n, _)| n == r) {
                *c += 1;
            } else if self.reasons.len() < 8 {
                self.reasons.push((r.clone(), 1));
            }
        }
        if let Some(p) = proc
            && !self.processes.iter().any(|q| q.pid == p.pid)
        {
            if self.processes.len() < MAX_PROCESSES {
                self.processes.push(ProcRef::of(p));
            } else {
                self.processes_more += 1;
            }
        }
        if self.peers.len() < MAX_PEERS {
            self.peers.insert(peer);
        } else if !self.peers.contains(&peer) {
            self.peers_saturated = true;
        }
    }
}

/// Attempts never answered to one destination.
#[derive(Debug, Clone, PartialEq)]
pub struct Silent {
    pub count: u64,
    pub first_ns: i64,
    pub last_ns: i64,
    pub peers: BTreeSet<IpAddr>,
}

/// One source's failed attempts, by distinct destination port (for scans).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourcePorts {
    pub ports: BTreeSet<u16>,
    pub saturated: bool,
    pub attempts: u64,
    pub hosts: BTreeSet<IpAddr>,
}

/// The whole tally of a run.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub groups: HashMap<(Class, Endpoint), Group>,
    pub silent: HashMap<Endpoint, Silent>,
    pub sources: HashMap<IpAddr, SourcePorts>,
    pub rsts: u64,
    /// Connections that closed normally.
    pub closed_ok: u64,
    /// Events no table had room for.
    pub overflow: u64,
}

impl Tally {
    /// One RST with its verdict (and, live, the kernel's note).
    pub fn rst(&mut self, ev: &RstEvent) {
        self.rsts += 1;
        let note = ev.kernel.as_deref();
        let origin = note.map_or(RstOrigin::Unknown, |n| n.origin);
        let reason = note.and_then(|n| n.reason.as_ref());
        // On loopback both ends are this host; otherwise the direction (or the kernel) says.
        let on_lo = ev.iface.as_deref() == Some("lo") || ev.from.ip.is_loopback();
        // The wire says first: tracepoints are global, so a note can come from the stack of
        // another namespace on this host (the peer of a veth pair) for an RST that arrived here.
        let local = match ev.direction {
            _ if on_lo => true,
            Some(crate::model::Direction::Out) => true,
            Some(crate::model::Direction::In) => false,
            None => matches!(origin, RstOrigin::Stack | RstOrigin::ForgedLocally),
        };
        let class = if origin == RstOrigin::ForgedLocally || ev.verdict == Verdict::FirewallReject {
            Class::Forged
        } else {
            match ev.verdict {
                Verdict::Refused => Class::Refused,
                Verdict::SuspectedInjected | Verdict::OutOfWindow => Class::Injected,
                _ if local && reason.is_some_and(|r| is_abort_reason(r)) => {
                    Class::Aborted(reason.cloned())
                }
                Verdict::ResetByClient | Verdict::ResetByServer if local => Class::Aborted(None),
                Verdict::ResetByClient | Verdict::ResetByServer | Verdict::HandshakeReset
                    if !local =>
                {
                    Class::PeerReset
                }
                v => Class::Other(v),
            }
        };
        let proc = note.and_then(|n| match class {
            Class::Refused | Class::Forged => n.client.as_deref(),
            Class::Aborted(_) => n.sender.as_deref().or(n.client.as_deref()),
            Class::PeerReset => n.receiver.as_deref(),
            _ => None,
        });
        if matches!(class, Class::Refused | Class::Forged) {
            self.source_port(ev.to.ip, ev.from);
        }
        let ns = ev.ts.nanos();
        let key = (class, ev.from);
        let full = self.groups.len() >= MAX_GROUPS;
        match self.groups.get_mut(&key) {
            Some(g) => g.add(ns, ev.to.ip, reason, proc),
            None if full => self.overflow += 1,
            None => {
                let mut g = Group::new(ns, local);
                g.add(ns, ev.to.ip, reason, proc);
                self.groups.insert(key, g);
            }
        }
    }

    /// A connection the tracker ended: unanswered attempts are kept.
    pub fn ended(&mut self, c: &ConnSummary) {
        if !c.conn_state.is_unanswered() {
            return;
        }
        self.source_port(c.orig.ip, c.resp);
        let ns = c.start.nanos();
        let full = self.silent.len() >= MAX_GROUPS;
        match self.silent.get_mut(&c.resp) {
            Some(s) => {
                s.count += 1;
                s.first_ns = s.first_ns.min(ns);
                s.last_ns = s.last_ns.max(ns);
                if s.peers.len() < MAX_PEERS {
                    s.peers.insert(c.orig.ip);
                }
            }
            None if full => self.overflow += 1,
            None => {
                self.silent.insert(
                    c.resp,
                    Silent {
                        count: 1,
                        first_ns: ns,
                        last_ns: ns,
                        peers: BTreeSet::from([c.orig.ip]),
                    },
                );
            }
        }
    }

    pub fn closed(&mut self, _c: &ClosedConn) {
        self.closed_ok += 1;
    }

    fn source_port(&mut self, src: IpAddr, dst: Endpoint) {
        let full = self.sources.len() >= MAX_GROUPS;
        let s = match self.sources.get_mut(&src) {
            Some(s) => s,
            None if full => {
                self.overflow += 1;
                return;
            }
            None => self.sources.entry(src).or_default(),
        };
        s.attempts += 1;
        if s.ports.len() < MAX_PORTS {
            s.ports.insert(dst.port);
        } else if !s.ports.contains(&dst.port) {
            s.saturated = true;
        }
        if s.hosts.len() < MAX_PEERS {
            s.hosts.insert(dst.ip);
        }
    }

    /// The groups of one class, most events first.
    pub fn of<'a>(
        &'a self,
        f: impl Fn(&Class) -> bool + 'a,
    ) -> Vec<(&'a Class, Endpoint, &'a Group)> {
        let mut v: Vec<_> = self
            .groups
            .iter()
            .filter(|((c, _), _)| f(c))
            .map(|((c, e), g)| (c, *e, g))
            .collect();
        v.sort_by(|a, b| b.2.count.cmp(&a.2.count).then(a.1.cmp(&b.1)));
        v
    }
}

/// Reasons (`enum sk_rst_reason`) for which this host's stack aborted a connection itself.
pub fn is_abort_reason(r: &str) -> bool {
    matches!(
        r,
        "TCP_ABORT_ON_CLOSE"
            | "TCP_ABORT_ON_DATA"
            | "TCP_ABORT_ON_LINGER"
            | "TCP_ABORT_ON_MEMORY"
            | "TCP_STATE"
            | "TCP_KEEPALIVE_TIMEOUT"
            | "TCP_DISCONNECT_WITH_DATA"
    )
}
