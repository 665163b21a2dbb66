//! The diagnosis: what one run of `diagnose` saw, fused into one [`Snapshot`] (the packets'
//! tally and findings, the kernel's events, the TCP counters, the listeners and the sysctls,
//! and what could not be looked at), and the rules that turn it into ranked [`Diagnosis`]
//! items. Each rule is a small pure function over the snapshot; words are made by the sinks
//! (`sink::diagnosis`), never here.

pub mod range;
pub mod rules;
pub mod tally;

use crate::engine::counters::{Disagreement, IntervalRates, Novelty};
use crate::engine::fusion::{ConnectErrors, FailedConnects};
use crate::engine::listeners::{Advice, BacklogLimit, ListenSysctls, Listener, ListenerKey};
use crate::engine::report::Finding;
use crate::engine::services::Services;
use crate::engine::track::Endpoint;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tally::{ProcRef, Tally};

/// What the packet capture of the run saw (None in the snapshot: it did not run).
#[derive(Debug, Clone, Default)]
pub struct CaptureView {
    pub tcp_segments: u64,
    pub rsts: u64,
    pub kernel_drops: u64,
    pub interfaces: Vec<String>,
}

/// The kernel's events over the run (None in the snapshot: they were not read).
#[derive(Debug, Clone, Default)]
pub struct KernelView {
    pub events: u64,
    pub lost_records: u64,
    pub failed_connects: Vec<FailedConnects>,
    /// Failed connect() calls by process and errno (`syscalls:sys_exit_connect`).
    pub connect_errors: Vec<ConnectErrors>,
    /// Why the events stopped early, if they did.
    pub stopped: Option<String>,
}

/// The TCP counters over the run.
#[derive(Debug, Clone)]
pub struct CountersView {
    pub rates: IntervalRates,
    pub disagreements: Vec<Disagreement>,
    /// Failed connections/s now against the counters' history.
    pub novelty: Option<Novelty>,
}

impl CountersView {
    /// Failed connections per second over the run (ΔAttemptFails/Δt).
    pub fn failed_per_s(&self) -> Option<f64> {
        self.rates.failed_connections().rate()
    }

    pub fn rate(&self, name: &str) -> Option<f64> {
        self.rates.get(name).and_then(|c| c.change.rate())
    }

    pub fn delta(&self, name: &str) -> u64 {
        self.rates.delta(name).unwrap_or(0)
    }
}

/// Part of the investigation that could not be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    Packets,
    KernelEvents,
    Counters,
    Listeners,
    ListenerOwners,
    Sysctls,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Packets => "packets",
            Part::KernelEvents => "kernel_events",
            Part::Counters => "counters",
            Part::Listeners => "listeners",
            Part::ListenerOwners => "listener_owners",
            Part::Sysctls => "sysctls",
        }
    }
}

/// Something skipped, why, and what would enable it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    pub part: Part,
    /// The source's own words (sanitized).
    pub why: String,
    /// A command that would enable it (`sudo setcap … rsthound`), when one would.
    pub fix: Option<String>,
}

/// Everything one run saw.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub seconds: f64,
    /// `--netns` as given (sanitized); None: the caller's namespace.
    pub netns: Option<String>,
    /// The diagnosed namespace's inode, to keep the processes of other namespaces out.
    pub netns_inode: Option<u64>,
    pub capture: Option<CaptureView>,
    pub tally: Tally,
    pub findings: Vec<Finding>,
    pub kernel: Option<KernelView>,
    pub counters: Option<CountersView>,
    /// Listener snapshots at the start and at the end (None: not read).
    pub listeners_start: Option<Vec<Listener>>,
    pub listeners_end: Option<Vec<Listener>>,
    pub sysctls: ListenSysctls,
    pub unavailable: Vec<Unavailable>,
    /// Other network namespaces to suggest (names from `ip netns`).
    pub other_netns: Vec<String>,
    pub services: Services,
}

impl Snapshot {
    /// Listeners that would take a connection to `addr:port`, from the end snapshot (else the
    /// start one).
    pub fn listeners_for(&self, addr: IpAddr, port: u16) -> Vec<&Listener> {
        let list = self
            .listeners_end
            .as_ref()
            .or(self.listeners_start.as_ref());
        list.map(|l| l.iter().filter(|l| l.key.serves(addr, port)).collect())
            .unwrap_or_default()
    }

    /// Whether the listeners were read at all (so "nothing listening" is known).
    pub fn listeners_known(&self) -> bool {
        self.listeners_end.is_some() || self.listeners_start.is_some()
    }

    /// Failed connects the kernel saw to `remote`, by process.
    pub fn connects_to(&self, remote: SocketAddr) -> Vec<&FailedConnects> {
        self.kernel
            .as_ref()
            .map(|k| {
                k.failed_connects
                    .iter()
                    .filter(|f| f.remote == remote && self.is_here(f.process.netns))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether a process of namespace `netns` belongs to the diagnosed one (unknown: yes).
    pub fn is_here(&self, netns: Option<u64>) -> bool {
        match (self.netns_inode, netns) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
    }

    /// The processes of the diagnosed namespace among `procs`.
    pub fn here(&self, procs: &[ProcRef]) -> Vec<ProcRef> {
        procs
            .iter()
            .filter(|p| self.is_here(p.netns))
            .cloned()
            .collect()
    }

    pub fn service_name(&self, port: u16) -> Option<String> {
        self.services.name(port).map(str::to_string)
    }
}

/// How much a diagnosis matters: ordered most serious first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Critical,
    Warning,
    /// Worth knowing, not a problem by itself (does not change `check`'s status).
    Notice,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Notice => "notice",
        }
    }
}

/// Which rule made a diagnosis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    RefusedLocal,
    RefusedRemote,
    ListenOverflow,
    AbortOnClose,
    AbortOnLinger,
    AbortOnMemory,
    FirewallReject,
    PortScan,
    SuspectedInjection,
    Unanswered,
    PeerResets,
    CountersUnseen,
    ConnectErrors,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::RefusedLocal => "refused_local",
            Kind::RefusedRemote => "refused_remote",
            Kind::ListenOverflow => "listen_overflow",
            Kind::AbortOnClose => "abort_on_close",
            Kind::AbortOnLinger => "abort_on_linger",
            Kind::AbortOnMemory => "abort_on_memory",
            Kind::FirewallReject => "firewall_reject",
            Kind::PortScan => "port_scan",
            Kind::SuspectedInjection => "suspected_injection",
            Kind::Unanswered => "unanswered",
            Kind::PeerResets => "peer_resets",
            Kind::CountersUnseen => "counters_unseen",
            Kind::ConnectErrors => "connect_errors",
        }
    }
}

/// What a diagnosis is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Endpoint(Endpoint),
    Listener(ListenerKey),
    Host(IpAddr),
    /// The namespace as a whole (its counters).
    Namespace,
}

/// One piece of evidence, as data.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    /// Events over the run, and their rate.
    Events { count: u64, per_second: Option<f64> },
    /// The processes behind it (clients, the closing process…), and how many more.
    Processes {
        role: Role,
        procs: Vec<ProcRef>,
        more: u64,
    },
    /// Distinct peer addresses.
    Peers { hosts: Vec<IpAddr>, saturated: bool },
    /// No listener on this port at the start or the end of the run.
    NothingListening { port: u16 },
    /// A listener on the port (for a firewall rule in front of it).
    Listening {
        key: ListenerKey,
        owners: Vec<ProcRef>,
    },
    /// The kernel's reason for the RSTs (`enum sk_rst_reason`), with a count.
    KernelReason { reason: Arc<str>, count: u64 },
    /// The port's service name.
    Service { port: u16, name: String },
    /// An accept queue against its limits.
    Queue {
        queue: u32,
        backlog: u32,
        somaxconn: Option<u32>,
        limit: BacklogLimit,
        drops: Option<u64>,
    },
    /// A counter's rise over the run.
    Counter {
        name: &'static str,
        delta: u64,
        per_second: Option<f64>,
    },
    /// RSTs that left the host without `tcp_send_reset`, against OutRsts.
    NotFromStack {
        seen: u64,
        out_rsts: u64,
        forged: u64,
    },
    /// Distinct destination ports tried by one source.
    Ports {
        count: usize,
        saturated: bool,
        sample: Vec<u16>,
    },
    /// What the capture saw against the counter.
    Captured { failed: u64, segments: u64 },
    /// Failed connects by process to a destination (kernel events).
    FailedConnects {
        remote: SocketAddr,
        procs: Vec<ProcRef>,
        count: u64,
    },
    /// connect() calls that failed with `errno` (Linux numbering) before TCP sent anything.
    ConnectErrors { errno: i32, count: u64 },
    /// Is it new?
    Novelty(Novelty),
    /// The packet report's own finding about the same thing (shown by its headline).
    Report(Box<Finding>),
}

/// Whose processes a [`Fact::Processes`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Clients,
    Closer,
    Receivers,
    ListenerOwners,
}

/// A probable cause, most likely first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    ServiceNotRunning,
    WrongPortOrHost,
    RemoteServiceDown,
    RemoteFirewallReject,
    LocalFirewallRule,
    QueueAdvice(Advice),
    ClosesWithUnreadData,
    LingerZeroAbort,
    MemoryPressure,
    Scan,
    Middlebox,
    FilteredOrDown,
    PeerAborts,
    OtherNamespace {
        candidates: Vec<String>,
    },
    NeverOnWire,
    /// connect() found no free local port (EADDRNOTAVAIL).
    PortsExhausted,
    /// connect() found no route (ENETUNREACH).
    NoRoute,
    /// connect() was denied before TCP (EACCES, EPERM): a firewall rule or a cgroup program.
    ConnectDenied,
}

/// One ranked diagnosis.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis {
    pub severity: Severity,
    pub kind: Kind,
    pub subject: Subject,
    /// Events behind it (RSTs, attempts, drops), for ranking.
    pub count: u64,
    /// Its rate over the run, per second.
    pub per_second: Option<f64>,
    pub evidence: Vec<Fact>,
    pub causes: Vec<Cause>,
    /// Commands to run next.
    pub next: Vec<String>,
}

/// Something checked that was fine.
#[derive(Debug, Clone, PartialEq)]
pub enum Healthy {
    /// Failed connections/s from the counters, below the warning threshold.
    FailedConnections { per_second: f64 },
    /// Connections that completed and closed normally, and RSTs seen.
    Connections { closed_ok: u64, rsts: u64 },
    /// Listeners and none of them full or dropping.
    Listeners { count: usize },
    /// The capture lost nothing.
    Capture { segments: u64 },
    /// The kernel's events lost nothing.
    KernelEvents { events: u64 },
}

/// The whole outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub diagnoses: Vec<Diagnosis>,
    pub healthy: Vec<Healthy>,
    pub unavailable: Vec<Unavailable>,
}

/// Runs every rule and ranks what they found: severity, then events behind it, then kind.
pub fn diagnose(s: &Snapshot) -> Outcome {
    let mut d = Vec::new();
    for rule in rules::ALL {
        d.extend(rule(s));
    }
    d.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then(b.count.cmp(&a.count))
            .then(a.kind.cmp(&b.kind))
    });
    Outcome {
        healthy: rules::healthy(s, &d),
        unavailable: s.unavailable.clone(),
        diagnoses: d,
    }
}
