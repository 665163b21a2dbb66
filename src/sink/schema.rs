//! Every JSON record rsthound writes, as serde types: one place that defines the `--json`
//! schema. Each record is one line with a `"type"`:
//!
//! | type | written by | what |
//! |---|---|---|
//! | `rst` | read, watch | one RST segment, its verdict, evidence and connection ([`RstRecord`]; `--raw`: [`RawRstRecord`]) |
//! | `unanswered` | read, watch | a connection attempt that got no reply ([`TypedConnRecord`]) |
//! | `conn` | read `--connections` | one connection, Zeek-like ([`TypedConnRecord`]) |
//! | `note` | read, watch | a host kept sending after its own RST ([`NoteRecord`]) |
//! | `rst_storm` | read, watch | one second of RSTs folded in storm mode ([`StormRecord`]) |
//! | `interface` | watch | an interface appeared or disappeared ([`InterfaceRecord`]) |
//! | `drops` | watch | the kernel dropped packets ([`DropsRecord`]) |
//! | `summary` | read, watch (last line) | the run's counts and ranked findings ([`SummaryRecord`], its `findings` a [`ReportRecord`]) |
//! | `diagnosis` | diagnose | one ranked diagnosis ([`DiagnosisRecord`]); its `summary` is [`DiagnosisSummaryRecord`] |
//! | `counters`, `summary` | counters | one interval of the TCP failure counters, the run ([`counters`]) |
//! | `sysctls`, `listener`, `summary` | listeners | the listen sysctls, one listening socket, what was not seen ([`listeners`]) |
//!
//! Fields of records whose keys used to be written from maps stay in alphabetical order, so that
//! the output is stable for those who diff it.

pub mod counters;
pub mod listeners;

use crate::engine::fusion::{KernelNote, RstOrigin};
use crate::engine::kevent::Process;
use crate::engine::report::finding::{Subject, snake};
use crate::engine::report::view::{ReportView, Row, Rows};
use crate::engine::report::{FindingKind, Severity, sec_ts};
use crate::engine::storm::StormLine;
use crate::engine::track::{ConnSummary, Endpoint};
use crate::model::Direction;
use crate::model::timestamp::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// How a direction is written in JSON.
pub fn direction_word(d: Direction) -> &'static str {
    if d == Direction::In { "in" } else { "out" }
}

/// A value written in JSON as the string its `Display` gives, without an intermediate `String`.
pub struct Shown<T>(pub T);

impl<T: std::fmt::Display> Serialize for Shown<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

#[derive(Serialize)]
pub struct Encap {
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
}

/// The `--json` record of one RST segment (schema in the README).
#[derive(Serialize)]
pub struct RstRecord<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub ts: Timestamp,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub file: &'a str,
    pub frame: u64,
    pub link_type: String,
    pub interface: Option<&'a str>,
    pub ifindex: Option<u32>,
    pub direction: Option<&'static str>,
    pub ip_version: u8,
    pub src: std::net::IpAddr,
    pub sport: u16,
    pub dst: std::net::IpAddr,
    pub dport: u16,
    pub flags: Shown<crate::engine::decode::TcpFlags>,
    pub seq: u32,
    pub ack: Option<u32>,
    pub window: u16,
    pub ttl: u8,
    pub ip_id: Option<u16>,
    pub payload_len: u32,
    pub payload_text: Option<&'a str>,
    pub encap: Vec<Encap>,
    /// Bytes of the TCP header captured when the snap length cut it below 20 (its window,
    /// below 16, then reads 0 and is unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_captured: Option<u8>,
    pub verdict: crate::engine::track::Verdict,
    pub evidence: Shown<&'a crate::engine::track::Evidence>,
    /// Whether the RST came from the connection's originator (client).
    pub from_originator: bool,
    pub conn: ConnRecord<'a>,
    /// Live, with kernel events: what the kernel said about this RST.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<KernelRecord<'a>>,
}

#[derive(Serialize)]
pub struct ConnRecord<'a> {
    pub id: String,
    pub orig: String,
    pub resp: String,
    pub orig_h: std::net::IpAddr,
    pub orig_p: u16,
    pub resp_h: std::net::IpAddr,
    pub resp_p: u16,
    pub vlan: Option<u16>,
    pub start: Timestamp,
    pub duration: f64,
    pub orig_pkts: u64,
    pub orig_bytes: u64,
    pub resp_pkts: u64,
    pub resp_bytes: u64,
    pub conn_state: &'a str,
    pub history: &'a str,
    pub syns: u32,
    pub fate: Shown<crate::engine::track::Fate<'a>>,
}

impl<'a> ConnRecord<'a> {
    pub fn new(c: &'a ConnSummary) -> Self {
        ConnRecord {
            id: format!("C{}", c.id),
            orig: c.orig.to_string(),
            resp: c.resp.to_string(),
            orig_h: c.orig.ip,
            orig_p: c.orig.port,
            resp_h: c.resp.ip,
            resp_p: c.resp.port,
            vlan: c.vlan,
            start: c.start,
            duration: c.last.nanos().saturating_sub(c.start.nanos()) as f64 / 1e9,
            orig_pkts: c.orig_pkts,
            orig_bytes: c.orig_bytes,
            resp_pkts: c.resp_pkts,
            resp_bytes: c.resp_bytes,
            conn_state: c.conn_state.as_str(),
            history: c.history.as_str(),
            syns: c.syns,
            fate: Shown(c.fate()),
        }
    }
}

#[derive(Serialize)]
pub struct TypedConnRecord<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(flatten)]
    pub conn: ConnRecord<'a>,
}

#[derive(Serialize)]
pub struct StormRecord {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub second: Timestamp,
    pub from: Shown<Endpoint>,
    pub src: std::net::IpAddr,
    pub sport: u16,
    pub verdict: crate::engine::track::Verdict,
    pub count: u64,
    pub shown: u32,
    pub peers: usize,
    pub peers_saturated: bool,
    pub first: Timestamp,
    pub last: Timestamp,
}

impl StormRecord {
    pub fn new(s: &StormLine) -> Self {
        StormRecord {
            kind: "rst_storm",
            second: s.second_start(),
            from: Shown(s.from),
            src: s.from.ip,
            sport: s.from.port,
            verdict: s.verdict,
            count: s.suppressed,
            shown: s.shown,
            peers: s.peers,
            peers_saturated: s.peers_saturated,
            first: s.first,
            last: s.last,
        }
    }
}

/// The listeners over a live run.
#[derive(Serialize, Debug, Default)]
pub struct ListenersRecord {
    pub stopped: Vec<StoppedListenerRecord>,
    pub overflowing: Vec<OverflowRecord>,
    pub notes: Vec<String>,
}

#[derive(Serialize, Debug)]
pub struct StoppedListenerRecord {
    pub address: String,
    pub process: Option<String>,
    pub pid: Option<u32>,
    /// When it stopped (an exact time from the kernel, or the later bound of two snapshots).
    pub until: Option<Timestamp>,
    pub exact: bool,
}

#[derive(Serialize, Debug)]
pub struct OverflowRecord {
    pub address: String,
    pub process: Option<String>,
    pub pid: Option<u32>,
    pub queue: u32,
    pub backlog: u32,
    pub drops_during_run: Option<u64>,
    pub advice: Vec<String>,
}

/// The kernel's events over a live run.
#[derive(Serialize, Debug)]
pub struct KernelSummaryRecord {
    pub events: u64,
    pub lost_records: u64,
    pub resets_unclaimed: u64,
    pub overflow: u64,
    /// Failed connects whose SYN this capture did not see (other namespaces): left out.
    pub failed_elsewhere: u64,
    pub failed_connects: Vec<FailedConnectsRecord>,
    /// Failed connect() calls by process and errno (`syscalls:sys_exit_connect`).
    pub connect_errors: Vec<ConnectErrorsRecord>,
    /// Whether they were watched (the system call tracepoint exists and opened).
    pub connect_errors_watched: bool,
    /// Those of processes in other network namespaces: left out.
    pub connect_errors_elsewhere: u64,
    /// Sockets of other namespaces entering or leaving LISTEN: left out of the listener history.
    pub listen_elsewhere: u64,
    /// LISTEN transitions taken unconfirmed (the namespace's sockets unreadable).
    pub listen_unconfirmed: u64,
    /// LISTEN transitions not taken (too many at once).
    pub listen_dropped: u64,
    pub stopped: Option<String>,
}

/// Failed connect() calls of one process (name) with one errno.
#[derive(Serialize, Debug)]
pub struct ConnectErrorsRecord {
    /// `comm` is empty when the process was gone before it could be named (`named` false).
    pub process: ProcessRecordOwned,
    pub named: bool,
    pub errno: i32,
    /// `EADDRNOTAVAIL`, or empty for a number without a name here.
    pub error: String,
    pub meaning: String,
    pub count: u64,
    pub processes: u64,
    pub pids: Vec<u32>,
}

/// Failed connection attempts of one process to one destination.
#[derive(Serialize, Debug)]
pub struct FailedConnectsRecord {
    pub process: ProcessRecordOwned,
    /// Distinct processes of that name, and the first few pids.
    pub processes: u64,
    pub pids: Vec<u32>,
    pub remote: String,
    pub count: u64,
}

/// A process, owned (for records built from a summary).
#[derive(Serialize, Debug)]
pub struct ProcessRecordOwned {
    pub pid: u32,
    pub comm: String,
    pub cmdline: Option<String>,
    pub uid: Option<u32>,
    pub cgroup: Option<String>,
}

impl ProcessRecordOwned {
    pub fn new(p: &Process) -> Self {
        ProcessRecordOwned {
            pid: p.pid,
            comm: p.comm.clone(),
            cmdline: p.cmdline.clone(),
            uid: p.uid,
            cgroup: p.cgroup.clone(),
        }
    }
}

/// What the kernel said about an RST: `origin` is `stack` (its TCP stack sent it),
/// `forged_locally` (it left this host but the stack did not send it: a firewall rule),
/// `remote` or `unknown`; `reason` the stack's `enum sk_rst_reason` name.
#[derive(Serialize)]
pub struct KernelRecord<'a> {
    pub origin: &'static str,
    pub reason: Option<&'a str>,
    pub client: Option<ProcessRecord<'a>>,
    pub sender: Option<ProcessRecord<'a>>,
    pub receiver: Option<ProcessRecord<'a>>,
    /// Sent by a listening socket for a handshake it would not complete (its accept queue full
    /// with tcp_abort_on_overflow=1); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listener_reset: Option<ListenerResetRecord>,
}

/// `{"listener":"127.0.0.1:7300","process":"slowacceptd","pid":812,"abort_on_overflow":1,
/// "words":"accept queue of … full: tcp_abort_on_overflow=1 resets clients"}`.
#[derive(Serialize)]
pub struct ListenerResetRecord {
    pub listener: String,
    pub process: Option<String>,
    pub pid: Option<u32>,
    pub abort_on_overflow: Option<u32>,
    pub words: String,
}

impl<'a> KernelRecord<'a> {
    pub fn new(k: &'a KernelNote) -> Self {
        KernelRecord {
            origin: match k.origin {
                RstOrigin::Stack => "stack",
                RstOrigin::ForgedLocally => "forged_locally",
                RstOrigin::Remote => "remote",
                RstOrigin::Unknown => "unknown",
            },
            reason: k.reason.as_deref(),
            client: k.client.as_deref().map(ProcessRecord::new),
            sender: k.sender.as_deref().map(ProcessRecord::new),
            receiver: k.receiver.as_deref().map(ProcessRecord::new),
            listener_reset: k.listener_reset.as_ref().map(|l| ListenerResetRecord {
                listener: l.listener.to_string(),
                process: l.owner.as_ref().map(|(c, _)| c.clone()),
                pid: l.owner.as_ref().map(|(_, p)| *p),
                abort_on_overflow: l.abort_on_overflow,
                words: crate::sink::findings::listener_reset(l),
            }),
        }
    }
}

/// A process as the kernel view knows it (text already sanitized).
#[derive(Serialize)]
pub struct ProcessRecord<'a> {
    pub pid: u32,
    pub comm: &'a str,
    pub cmdline: Option<&'a str>,
    pub uid: Option<u32>,
    pub cgroup: Option<&'a str>,
}

impl<'a> ProcessRecord<'a> {
    pub fn new(p: &'a Process) -> Self {
        ProcessRecord {
            pid: p.pid,
            comm: &p.comm,
            cmdline: p.cmdline.as_deref(),
            uid: p.uid,
            cgroup: p.cgroup.as_deref(),
        }
    }
}

/// `{"type":"note",…}`: the sender of an RST kept sending afterwards.
#[derive(Serialize)]
pub struct NoteRecord {
    pub conn: String,
    pub sender: String,
    pub text: &'static str,
    pub ts: Timestamp,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub verdict: &'static str,
}

/// `--raw --json`: an RST straight from the decoded segment, without verdict or connection.
#[derive(Serialize)]
pub struct RawRstRecord<'a> {
    pub ack: Option<u32>,
    pub direction: Option<&'static str>,
    pub dport: u16,
    pub dst: IpAddr,
    pub encap: Vec<RawEncap>,
    pub file: &'a str,
    pub flags: String,
    pub frame: u64,
    /// As in [`RstRecord::header_captured`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_captured: Option<u8>,
    pub ifindex: Option<u32>,
    pub interface: Option<&'a str>,
    pub ip_id: Option<u16>,
    pub ip_version: u8,
    pub link_type: String,
    pub payload_len: u32,
    pub payload_text: Option<String>,
    pub seq: u32,
    pub sport: u16,
    pub src: IpAddr,
    pub ts: Timestamp,
    pub ttl: u8,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub window: u16,
}

/// An encapsulation in a `--raw` record: the same fields as [`Encap`], in alphabetical order as
/// `--raw` has always written them.
#[derive(Serialize)]
pub struct RawEncap {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
    pub kind: &'static str,
}

/// `{"type":"interface",…}` (watch): an interface appeared or disappeared.
#[derive(Serialize)]
pub struct InterfaceRecord<'a> {
    pub change: &'a str,
    pub index: u32,
    pub name: &'a str,
    pub ts: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub watched: bool,
}

/// `{"type":"drops",…}` (watch): packets the kernel dropped since the last record, and in all.
#[derive(Serialize)]
pub struct DropsRecord {
    pub count: u64,
    pub total: u64,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// The counters over a live run: the changes of those that moved, or why there are none.
#[derive(Serialize, Debug)]
#[serde(untagged)]
pub enum CountersRecord {
    Moved(BTreeMap<&'static str, i64>),
    Unavailable { unavailable: String },
}

/// One disagreement between the counters and the capture: its kind and the words.
#[derive(Serialize, Debug)]
pub struct DisagreementRecord {
    pub kind: &'static str,
    pub text: String,
}

/// `{"type":"summary",…}`: the last line of a run. Fields a command does not have are left out
/// (`files` is `read`'s; `seconds`, `interfaces` and the kernel's counts are `watch`'s).
#[derive(Serialize, Default)]
pub struct SummaryRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    pub connections: u64,
    /// Live runs: the kernel's TCP failure counters that moved over the run (name → change), or
    /// why they could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counters: Option<CountersRecord>,
    /// Live runs: where the counters and the capture tell different stories.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disagreements: Option<Vec<DisagreementRecord>>,
    pub errors: Vec<String>,
    pub evicted_connections: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<usize>,
    /// The report (`read --raw` without `--json` has none: null).
    pub findings: Option<ReportRecord>,
    /// Live runs with kernel events: events read and lost, failed connects by process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<KernelSummaryRecord>,
    /// Live runs: listeners that stopped during the run, and those whose queue overflowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listeners: Option<ListenersRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interfaces: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_drops: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_packets: Option<u64>,
    pub max_connections: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_decoded: Option<BTreeMap<String, u64>>,
    /// Frames not decoded for a reason the bounded table of reasons had no room for.
    #[serde(skip_serializing_if = "is_zero")]
    pub not_decoded_other: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_tcp: Option<BTreeMap<String, u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_interfaces: Option<u64>,
    /// Outputs that failed (standard output, the `--write` file), apart from the inputs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub output_errors: Vec<String>,
    pub packets: u64,
    pub rsts: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storm_lines: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storm_suppressed: Option<u64>,
    pub tcp_segments: u64,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub unanswered: u64,
}

/// `diagnose --json`: one ranked diagnosis.
#[derive(Serialize, Debug)]
pub struct DiagnosisRecord {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// 1 for the most important.
    pub rank: usize,
    /// `critical`, `warning` or `notice`.
    pub severity: &'static str,
    /// The rule: `refused_local`, `refused_remote`, `listen_overflow`, `abort_on_close`, …
    pub rule: &'static str,
    /// An endpoint, a listener, a host or `this network namespace`.
    pub subject: String,
    pub headline: String,
    pub count: u64,
    pub per_second: Option<f64>,
    pub evidence: Vec<FactRecord>,
    pub causes: Vec<String>,
    /// Commands to run next.
    pub next: Vec<String>,
}

/// One piece of evidence: its kind, its words, and the processes it names.
#[derive(Serialize, Debug)]
pub struct FactRecord {
    pub fact: &'static str,
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<ProcRefRecord>,
}

#[derive(Serialize, Debug)]
pub struct ProcRefRecord {
    pub pid: u32,
    pub comm: String,
    pub cmdline: Option<String>,
}

impl ProcRefRecord {
    pub fn new(p: &crate::engine::diagnosis::tally::ProcRef) -> Self {
        ProcRefRecord {
            pid: p.pid,
            comm: p.comm.clone(),
            cmdline: p.cmdline.clone(),
        }
    }
}

/// `diagnose --json`: the closing record.
#[derive(Serialize, Debug)]
pub struct DiagnosisSummaryRecord {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub seconds: f64,
    pub netns: Option<String>,
    pub diagnoses: usize,
    /// The worst severity found, null when none.
    pub worst: Option<&'static str>,
    pub failed_conn_per_s: Option<f64>,
    pub rst_per_s: Option<f64>,
    pub listen_overflows_per_s: Option<f64>,
    pub unavailable: Vec<UnavailableRecord>,
    pub healthy: Vec<String>,
}

#[derive(Serialize, Debug)]
pub struct UnavailableRecord {
    pub part: &'static str,
    pub why: String,
    pub fix: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The `findings` of the `summary` record: the report's ranked findings (in words, with their
/// typed subject), totals, the largest rows of each grouping, healthy connections per service,
/// kept-talking senders, what the full tables dropped and the bounds. Made from the engine's
/// typed [`ReportView`]; the fields are in alphabetical order (they used to be written from
/// maps).
#[derive(Serialize, Debug)]
pub struct ReportRecord {
    /// Keyed by the endpoint that reset (for unanswered attempts: the silent destination).
    pub by_endpoint: RowsRecord<EndpointRowRecord>,
    /// Keyed by the host that received the RSTs (for unanswered attempts: the client).
    pub by_peer: RowsRecord<PeerRowRecord>,
    /// Keyed by the responder port.
    pub by_service: RowsRecord<ServiceRowRecord>,
    /// Most important first, as the text shows them.
    pub findings: Vec<FindingRecord>,
    pub healthy_by_service: Vec<HealthyRecord>,
    pub kept_talking: Vec<KeptTalkingRecord>,
    pub limits: LimitsRecord,
    pub overflow: ReportOverflowRecord,
    /// Always `UTC`.
    pub times: &'static str,
    pub totals: TotalsRecord,
}

/// One finding: the same words as the text, and what it is about.
#[derive(Serialize, Debug)]
pub struct FindingRecord {
    pub count: u64,
    pub evidence: Vec<String>,
    /// The rule: `service_down`, `port_scan`, `rst_storm`, a verdict such as `reset_by_server`, …
    pub kind: FindingKind,
    pub next_steps: Vec<String>,
    pub severity: Severity,
    pub subject: SubjectRecord,
    pub title: String,
}

/// What a finding is about: one of an endpoint, a list of endpoints, a service port, a peer,
/// a storm's first and last second, or a verdict.
#[derive(Serialize, Debug, Default)]
pub struct SubjectRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<&'static str>,
}

impl SubjectRecord {
    pub fn new(s: &Subject) -> Self {
        match s {
            Subject::Endpoint(e) => SubjectRecord {
                endpoint: Some(e.to_string()),
                ..Default::default()
            },
            Subject::Endpoints(v) => SubjectRecord {
                endpoints: Some(v.iter().map(Endpoint::to_string).collect()),
                ..Default::default()
            },
            Subject::ServicePort(p) => SubjectRecord {
                port: Some(*p),
                ..Default::default()
            },
            Subject::Peer(ip) => SubjectRecord {
                peer: Some(*ip),
                ..Default::default()
            },
            Subject::Seconds { first, last } => SubjectRecord {
                first: Some(sec_ts(*first)),
                last: Some(sec_ts(*last)),
                ..Default::default()
            },
            Subject::Verdict(v) => SubjectRecord {
                verdict: Some(snake(*v)),
                ..Default::default()
            },
        }
    }
}

#[derive(Serialize, Debug)]
pub struct TotalsRecord {
    pub connections_ended: u64,
    pub healthy: u64,
    pub kept_talking: u64,
    pub rsts: u64,
    /// RSTs per verdict seen (`reset_after_close`, …).
    pub rsts_by_verdict: BTreeMap<&'static str, u64>,
    pub unanswered: u64,
}

/// A grouping's largest rows (at most `limits.rows_per_grouping`), how many were left out, and
/// its keys.
#[derive(Serialize, Debug)]
pub struct RowsRecord<R> {
    pub keys: usize,
    pub omitted: usize,
    pub rows: Vec<R>,
}

/// What every row says of its group, in the JSON's number forms.
struct RowStats {
    count: u64,
    distinct_at_least: bool,
    distinct_peer_ports: usize,
    distinct_peers: usize,
    first: Timestamp,
    last: Timestamp,
    peak_at: Timestamp,
    peak_per_sec: u64,
    rate_per_sec: Option<f64>,
    syns: Option<u64>,
}

impl RowStats {
    fn new<K>(r: &Row<K>) -> Self {
        RowStats {
            count: r.count,
            distinct_at_least: r.peers.at_least || r.peer_ports.at_least,
            distinct_peer_ports: r.peer_ports.n,
            distinct_peers: r.peers.n,
            first: r.span.first,
            last: r.span.last,
            peak_at: sec_ts(r.peak.sec),
            peak_per_sec: r.peak.events,
            rate_per_sec: r.rate.map(|r| (r * 1000.0).round() / 1000.0),
            syns: (r.syns > 0).then_some(r.syns),
        }
    }
}

#[derive(Serialize, Debug)]
pub struct EndpointRowRecord {
    pub count: u64,
    pub distinct_at_least: bool,
    pub distinct_peer_ports: usize,
    pub distinct_peers: usize,
    pub endpoint: String,
    pub first: Timestamp,
    pub ip: IpAddr,
    /// A verdict (`refused`, …) or `unanswered`.
    pub kind: &'static str,
    pub last: Timestamp,
    pub peak_at: Timestamp,
    pub peak_per_sec: u64,
    pub port: u16,
    pub rate_per_sec: Option<f64>,
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syns: Option<u64>,
}

#[derive(Serialize, Debug)]
pub struct ServiceRowRecord {
    pub count: u64,
    /// `tcp/5432 (postgresql)`.
    pub description: String,
    pub distinct_at_least: bool,
    pub distinct_peer_ports: usize,
    pub distinct_peers: usize,
    pub first: Timestamp,
    pub kind: &'static str,
    pub last: Timestamp,
    pub peak_at: Timestamp,
    pub peak_per_sec: u64,
    pub port: u16,
    pub rate_per_sec: Option<f64>,
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syns: Option<u64>,
}

#[derive(Serialize, Debug)]
pub struct PeerRowRecord {
    pub count: u64,
    pub distinct_at_least: bool,
    pub distinct_peer_ports: usize,
    pub distinct_peers: usize,
    pub first: Timestamp,
    pub kind: &'static str,
    pub last: Timestamp,
    pub peak_at: Timestamp,
    pub peak_per_sec: u64,
    pub peer: IpAddr,
    pub rate_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syns: Option<u64>,
}

/// Completed connections on one service port.
#[derive(Serialize, Debug)]
pub struct HealthyRecord {
    pub connections: u64,
    pub first: Timestamp,
    pub last: Timestamp,
    pub port: u16,
    pub service: Option<String>,
}

/// A sender that kept sending after its own RST.
#[derive(Serialize, Debug)]
pub struct KeptTalkingRecord {
    pub first: Timestamp,
    pub last: Timestamp,
    pub notes: u64,
    pub sender: String,
}

#[derive(Serialize, Debug)]
pub struct LimitsRecord {
    pub distinct_budget: usize,
    pub max_distinct: usize,
    pub max_keys: usize,
    pub max_seconds: usize,
    pub rows_per_grouping: usize,
}

/// Events a full table could not group.
#[derive(Serialize, Debug)]
pub struct ReportOverflowRecord {
    pub by_endpoint: u64,
    pub by_peer: u64,
    pub by_service: u64,
    pub distinct: u64,
    pub healthy: u64,
    pub kept_talking: u64,
    pub seconds: u64,
}

impl ReportRecord {
    pub fn new(v: &ReportView) -> Self {
        let o = &v.overflow;
        let t = &v.totals;
        ReportRecord {
            by_endpoint: rows(&v.by_endpoint, |(n, k), s| EndpointRowRecord {
                count: s.count,
                distinct_at_least: s.distinct_at_least,
                distinct_peer_ports: s.distinct_peer_ports,
                distinct_peers: s.distinct_peers,
                endpoint: n.endpoint.to_string(),
                first: s.first,
                ip: n.endpoint.ip,
                kind: k.json_name(),
                last: s.last,
                peak_at: s.peak_at,
                peak_per_sec: s.peak_per_sec,
                port: n.endpoint.port,
                rate_per_sec: s.rate_per_sec,
                service: n.service.clone(),
                syns: s.syns,
            }),
            by_peer: rows(&v.by_peer, |(ip, k), s| PeerRowRecord {
                count: s.count,
                distinct_at_least: s.distinct_at_least,
                distinct_peer_ports: s.distinct_peer_ports,
                distinct_peers: s.distinct_peers,
                first: s.first,
                kind: k.json_name(),
                last: s.last,
                peak_at: s.peak_at,
                peak_per_sec: s.peak_per_sec,
                peer: *ip,
                rate_per_sec: s.rate_per_sec,
                syns: s.syns,
            }),
            by_service: rows(&v.by_service, |(svc, k), s| ServiceRowRecord {
                count: s.count,
                description: crate::sink::findings::describe(svc),
                distinct_at_least: s.distinct_at_least,
                distinct_peer_ports: s.distinct_peer_ports,
                distinct_peers: s.distinct_peers,
                first: s.first,
                kind: k.json_name(),
                last: s.last,
                peak_at: s.peak_at,
                peak_per_sec: s.peak_per_sec,
                port: svc.port,
                rate_per_sec: s.rate_per_sec,
                service: svc.name.clone(),
                syns: s.syns,
            }),
            findings: crate::sink::findings::ranked(&v.findings)
                .into_iter()
                .map(|w| FindingRecord {
                    count: w.finding.count,
                    kind: w.finding.kind,
                    severity: w.finding.severity,
                    subject: SubjectRecord::new(&w.finding.subject),
                    evidence: w.evidence,
                    next_steps: w.next_steps,
                    title: w.title,
                })
                .collect(),
            healthy_by_service: v
                .healthy_by_service
                .iter()
                .map(|h| HealthyRecord {
                    connections: h.connections,
                    first: h.first,
                    last: h.last,
                    port: h.service.port,
                    service: h.service.name.clone(),
                })
                .collect(),
            kept_talking: v
                .kept_talking
                .iter()
                .map(|k| KeptTalkingRecord {
                    first: k.first,
                    last: k.last,
                    notes: k.notes,
                    sender: k.sender.to_string(),
                })
                .collect(),
            limits: LimitsRecord {
                distinct_budget: v.limits.distinct_budget,
                max_distinct: v.limits.max_distinct,
                max_keys: v.limits.max_keys,
                max_seconds: v.limits.max_seconds,
                rows_per_grouping: v.rows_per_grouping,
            },
            overflow: ReportOverflowRecord {
                by_endpoint: o.by_endpoint,
                by_peer: o.by_peer,
                by_service: o.by_service,
                distinct: o.distinct,
                healthy: o.healthy,
                kept_talking: o.kept_talking,
                seconds: o.seconds,
            },
            times: "UTC",
            totals: TotalsRecord {
                connections_ended: t.connections_ended,
                healthy: t.healthy,
                kept_talking: t.kept_talking,
                rsts: t.rsts,
                rsts_by_verdict: t
                    .rsts_by_verdict
                    .iter()
                    .map(|(v, n)| (snake(*v), *n))
                    .collect(),
                unanswered: t.unanswered,
            },
        }
    }
}

fn rows<K, R>(r: &Rows<K>, f: impl Fn(&K, RowStats) -> R) -> RowsRecord<R> {
    RowsRecord {
        keys: r.keys,
        omitted: r.omitted,
        rows: r
            .rows
            .iter()
            .map(|row| f(&row.key, RowStats::new(row)))
            .collect(),
    }
}
