//! What a finding is, as typed data: its severity, the rule that made it ([`FindingKind`]),
//! what it is about ([`Subject`]), the numbers of its headline ([`Headline`]), its evidence
//! ([`Fact`]s: counts, endpoints, times, distinct counts with their "at least" flag, service
//! names, the kernel's attribution) and the next steps ([`Step`]s, with the endpoint or port
//! they need). No words: `sink::findings` makes them, so that text, JSON and any later format
//! render the same finding without deriving it again.

use super::clients::ClientGroup;
use crate::engine::fusion::{ListenerReset, PastListener};
use crate::engine::track::{Endpoint, Evidence, NoReply, Verdict};
use crate::model::timestamp::Timestamp;
use serde::Serialize;
use std::net::IpAddr;

const NS: i64 = 1_000_000_000;

/// How much a finding matters. Orders alarming first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Alarming,
    Warning,
    Routine,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Alarming => "alarming",
            Severity::Warning => "warning",
            Severity::Routine => "routine",
        }
    }
}

/// Which rule made a finding. Serialized (and compared in tests) by [`FindingKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    /// One endpoint refused repeated attempts while nothing listened.
    ServiceDown,
    /// Several hosts refused the same port.
    RefusedOnManyHosts,
    /// Refused attempts that fit no sharper pattern.
    Refused,
    /// One source refused or unanswered on many ports.
    PortScan,
    /// A second with far more RSTs than usual.
    RstStorm,
    /// Attempts never answered, to a few destinations or many.
    Unanswered,
    UnansweredFew,
    /// RSTs that look forged.
    SuspectedInjection,
    /// RSTs of one verdict (handshake resets, aborts, strays, out of window).
    Verdict(Verdict),
    /// Resets that are part of normal operation.
    RoutineResets,
}

impl FindingKind {
    /// The rule's name in snake case (`service_down`, a verdict such as `reset_by_server`).
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::ServiceDown => "service_down",
            FindingKind::RefusedOnManyHosts => "refused_on_many_hosts",
            FindingKind::Refused => "refused",
            FindingKind::PortScan => "port_scan",
            FindingKind::RstStorm => "rst_storm",
            FindingKind::Unanswered => "unanswered",
            FindingKind::UnansweredFew => "unanswered_few",
            FindingKind::SuspectedInjection => "suspected_injection",
            FindingKind::Verdict(v) => snake(v),
            FindingKind::RoutineResets => "routine_resets",
        }
    }
}

impl PartialEq<&str> for FindingKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for FindingKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A verdict as the event JSON names it (`reset_after_close`).
pub fn snake(v: Verdict) -> &'static str {
    match v {
        Verdict::Refused => "refused",
        Verdict::HandshakeReset => "handshake_reset",
        Verdict::ResetByClient => "reset_by_client",
        Verdict::ResetByServer => "reset_by_server",
        Verdict::ResetAfterClose => "reset_after_close",
        Verdict::Stray => "stray",
        Verdict::OutOfWindow => "out_of_window",
        Verdict::SuspectedInjected => "suspected_injected",
        Verdict::FirewallReject => "firewall_reject",
    }
}

/// One thing the report found, as data.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub severity: Severity,
    /// Which rule found it.
    pub kind: FindingKind,
    /// Events behind it (RSTs, attempts), for ranking.
    pub count: u64,
    /// What it is about.
    pub subject: Subject,
    /// The numbers its headline states.
    pub headline: Headline,
    /// Its evidence, in the order shown.
    pub facts: Vec<Fact>,
    pub next_steps: Vec<Step>,
}

/// What a finding is about. Ordered, for a stable tie-break.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    /// One ip:port (that refused, or never answered).
    Endpoint(Endpoint),
    /// Several endpoints, each with too few events for a finding of its own.
    Endpoints(Vec<Endpoint>),
    /// One service port across hosts.
    ServicePort(u16),
    /// One host that tried many ports.
    Peer(IpAddr),
    /// A storm: its first and last second (Unix seconds).
    Seconds { first: i64, last: i64 },
    /// Every RST of one verdict.
    Verdict(Verdict),
}

/// A time range of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub first: Timestamp,
    pub last: Timestamp,
}

impl Span {
    /// Events per second over the range: (count − 1) intervals over last − first, so ten
    /// events 500 ms apart (4.5 s) are 2.0/s. None for one event or a zero-length range.
    pub fn rate(self, count: u64) -> Option<f64> {
        rate(count, self.first, self.last)
    }
}

pub(super) fn rate(count: u64, first: Timestamp, last: Timestamp) -> Option<f64> {
    let span = i128::from(last.nanos()) - i128::from(first.nanos());
    (count >= 2 && span > 0).then(|| (count - 1) as f64 / (span as f64 / NS as f64))
}

/// A distinct count; `at_least` when its set was full and the true count may be higher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Distinct {
    pub n: usize,
    pub at_least: bool,
}

/// The distinct hosts on the other side: how many, and (when there are one to three and the
/// set is exact) which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peers {
    pub count: Distinct,
    pub listed: Vec<IpAddr>,
}

/// A port and its name from the services table (`None`: no well-known service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub port: u16,
    pub name: Option<String>,
}

/// An endpoint and its port's name from the services table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub endpoint: Endpoint,
    pub service: Option<String>,
}

/// The busiest second of a group: its start (Unix seconds) and its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeakSecond {
    pub sec: i64,
    pub events: u64,
}

/// A group's earliest evidence, kept as numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum Sample {
    Rst(Evidence),
    /// An unanswered attempt: its fate.
    NoReply(NoReply),
}

/// An example event: when, and its evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub at: Timestamp,
    pub sample: Sample,
}

/// What the failing port of a host does while its other ports work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failing {
    /// Refused: nothing listens.
    NoListener,
    /// Unanswered: probably dropped by a firewall.
    NoAnswer,
}

/// What a rule counted per endpoint in an endpoint list.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointLine {
    pub endpoint: Named,
    pub attempts: u64,
    pub peers: Peers,
    pub span: Span,
    /// SYNs sent in all (unanswered attempts; 0 for RSTs).
    pub syns: u64,
}

/// What a finding's headline states besides its count (it names the subject again where the
/// headline does, so that a headline is whole by itself).
#[derive(Debug, Clone, PartialEq)]
pub enum Headline {
    /// A host refused (or ignored) on many ports of some hosts.
    PortScan {
        scanner: IpAddr,
        refused: u64,
        unanswered: u64,
        ports: Distinct,
        hosts: usize,
        span: Span,
    },
    /// One endpoint refused attempts.
    Refused {
        endpoint: Endpoint,
        peers: Peers,
        span: Span,
        service: Service,
    },
    /// Refused attempts at several endpoints, each fewer than a service-down finding needs.
    RefusedAtFew { endpoints: usize, span: Span },
    /// Several hosts refused one port.
    RefusedOnManyHosts {
        hosts: usize,
        service: Service,
        peers: Peers,
        span: Span,
    },
    /// One endpoint never answered attempts.
    Unanswered {
        endpoint: Endpoint,
        peers: Peers,
        span: Span,
        service: Service,
    },
    /// Unanswered attempts at several endpoints, each fewer than a finding of its own needs.
    UnansweredAtFew { endpoints: usize, span: Span },
    /// A storm: its first and last second (Unix seconds) and the RSTs of its busiest one (its
    /// RSTs are the count).
    Storm { first: i64, last: i64, peak: u64 },
    /// RSTs that look injected, and senders that kept sending after their own RST.
    Injection { injected: u64, kept_senders: usize },
    /// RSTs of one verdict.
    Verdict { verdict: Verdict, span: Span },
    /// Resets after close; whether most were sent by the server (closing idle keep-alives).
    Routine { by_server: bool },
}

/// One piece of evidence.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    /// Ports a scanner tried (the first few) and how many there were in all.
    PortsTried { listed: Vec<u16>, total: usize },
    /// A scanner's attempts: refused and unanswered.
    ScanAttempts { refused: u64, unanswered: u64 },
    /// The hosts a scanner tried (the first few) and how many more.
    ScannedHosts { listed: Vec<IpAddr>, more: usize },
    /// The earliest event of a group.
    Example(Example),
    /// Each refusing RST answered a SYN that got no SYN-ACK; the earliest.
    RefusedExample(Example),
    /// Clients retrying an endpoint that refuses.
    Retrying {
        attempts: u64,
        source_ports: Distinct,
        peak: PeakSecond,
        clients: Distinct,
    },
    /// The busiest second of the finding's events.
    Peak(PeakSecond),
    /// The endpoint had completed connections, all before it began to fail.
    HealthyUntil {
        endpoint: Endpoint,
        connections: u64,
        until: Timestamp,
    },
    /// The endpoint completed connections while it failed.
    HealthyToo {
        endpoint: Endpoint,
        connections: u64,
        span: Span,
    },
    /// One other port of the failing host completed connections.
    HostUpOnePort {
        other: Named,
        connections: u64,
        port: u16,
        failing: Failing,
    },
    /// Other ports of the failing host completed connections (the busiest few, and how many
    /// ports in all).
    HostUpManyPorts {
        ip: IpAddr,
        ports: usize,
        busiest: Vec<(Service, u64)>,
        port: u16,
        failing: Failing,
    },
    /// An unanswered endpoint's SYNs (retransmissions included) and busiest second.
    SynsUnanswered { syns: u64, peak: PeakSecond },
    /// SYNs sent to one endpoint that got no answer.
    SynsSent { syns: u64 },
    /// Nothing to the host completed in the capture.
    NothingCompleted { ip: IpAddr },
    /// One endpoint of a list.
    Endpoint(EndpointLine),
    /// Endpoints beyond those listed.
    MoreEndpoints(usize),
    /// The typical second of the capture (the median, quiet seconds included).
    TypicalSecond { rsts: u64 },
    /// A storm below the burst threshold but above the steady one (RSTs a second).
    SteadyStorm { per_second: u64 },
    /// A storm's busiest seconds (second, RSTs), busiest first.
    BusiestSeconds(Vec<PeakSecond>),
    /// An endpoint whose busiest second fell in the storm.
    StormSender {
        sender: Named,
        verdict: Verdict,
        peak: PeakSecond,
    },
    /// Storm episodes beyond those reported.
    MoreStorms(usize),
    /// An endpoint that sent RSTs that look injected.
    InjectedBy {
        sender: Named,
        rsts: u64,
        span: Span,
        example: Option<Example>,
    },
    /// Senders of injected-looking RSTs beyond those listed.
    MoreInjectors(usize),
    /// An endpoint that kept sending after its own RST.
    KeptTalking {
        sender: Named,
        times: u64,
        span: Span,
    },
    /// Kept-talking senders beyond those listed.
    MoreKeptTalking(usize),
    /// RSTs of the finding's kind on one service port.
    OnService {
        service: Service,
        rsts: u64,
        peers: Peers,
        span: Span,
    },
    /// Service ports beyond those listed.
    MorePorts(usize),
    /// An endpoint that sent RSTs of the finding's verdict.
    SentBy {
        sender: Named,
        rsts: u64,
        peers: Peers,
        example: Option<Example>,
    },
    /// What a verdict means.
    Meaning(Verdict),
    /// Kernel: the listening socket on the endpoint reset handshakes.
    ListenerReset { reset: ListenerReset, rsts: u64 },
    /// Kernel: who listened on the endpoint before, and until when.
    PastListener {
        endpoint: Endpoint,
        listener: PastListener,
    },
    /// What the refused port was for (live runs: from /etc/services, socket units and command
    /// lines; given as text by the command that looked it up).
    Hint(String),
    /// Kernel: the connect() callers behind the endpoint's RSTs (the busiest few) and how many
    /// more.
    Clients {
        listed: Vec<ClientGroup>,
        more: usize,
    },
}

/// A next step, with what it needs to be concrete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Find out who a scanner is; block it if the scan is not expected.
    IdentifyScanner(IpAddr),
    /// A scan's refusals are not an outage.
    ScanIsNoOutage,
    /// Check that the service on the endpoint runs and listens.
    CheckListening(Endpoint),
    /// Check that several services run and listen.
    CheckListeningAll,
    /// Check what should listen on the endpoint (a service down).
    CheckWhatListens(Endpoint),
    /// Find a firewall rule that rejects clients.
    FindRejectRule,
    /// Check what should listen on a port on several hosts, and the firewall.
    CheckPortOnHosts(Service),
    /// Fix the clients' configuration.
    FixClientConfig,
    /// Test an unanswered endpoint from the client (`None`: several endpoints).
    TestReachability(Option<Endpoint>),
    /// Look for firewall rules that drop the port (`None`: several ports).
    FindDropRule(Option<u16>),
    /// Check the SYN backlog of a host that answers on other ports.
    CheckSynBacklog,
    /// Look at what happened when a storm began (Unix seconds).
    StormStart(i64),
    /// Read the reset counters of the resetting host.
    StormCounters,
    /// Compare the TTLs of suspicious RSTs; capture at both ends.
    CompareTtls,
    /// Check middleboxes for TCP reset actions.
    CheckMiddleboxes,
    /// Check the server's listen queue (handshake resets).
    CheckListenQueue,
    /// Client connect timeouts shorter than the round trip.
    ClientConnectTimeout,
    /// Look in the logs of the side that reset (`true`: the client).
    ResetterLogs { client: bool },
    /// Read the abort counters of the side that reset (`true`: the client).
    AbortCounters { client: bool },
    /// Stray RSTs: connections older than the capture, or NAT timeouts.
    StrayOrigin,
    /// Out-of-window RSTs: a confused middlebox or injection.
    OutOfWindowOrigin,
    /// Find the local rule that forges RSTs.
    FindResetRule,
    /// Remove or narrow that rule, or fix the clients.
    NarrowResetRule,
    /// Routine resets: nothing to do unless clients see errors.
    NothingToDo,
}
