//! The JSON objects of `rsthound listeners --json`, one per line: `"type":"sysctls"` first, one
//! `"type":"listener"` per listening socket, then `"type":"summary"` with what was not seen.

use crate::engine::listeners::{
    Advice, BacklogLimit, ListenSysctls, Listener, Owner, OwnersSeen, QueueState, QueueVerdict,
};
use serde::Serialize;
use std::net::IpAddr;

#[derive(Debug, Serialize)]
pub struct SysctlsJson<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The namespace asked for (`--netns`), or null for rsthound's own.
    pub netns: Option<&'a str>,
    pub somaxconn: Option<u32>,
    pub tcp_max_syn_backlog: Option<u32>,
    pub tcp_abort_on_overflow: Option<u32>,
    pub tcp_syncookies: Option<u32>,
}

impl<'a> SysctlsJson<'a> {
    pub fn new(s: &ListenSysctls, netns: Option<&'a str>) -> Self {
        SysctlsJson {
            kind: "sysctls",
            netns,
            somaxconn: s.somaxconn,
            tcp_max_syn_backlog: s.tcp_max_syn_backlog,
            tcp_abort_on_overflow: s.tcp_abort_on_overflow,
            tcp_syncookies: s.tcp_syncookies,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ProcessJson<'a> {
    pub pid: u32,
    pub comm: &'a str,
    pub cmdline: &'a str,
    pub uid: Option<u32>,
    pub cgroup: Option<&'a str>,
}

impl<'a> From<&'a Owner> for ProcessJson<'a> {
    fn from(o: &'a Owner) -> Self {
        ProcessJson {
            pid: o.pid,
            comm: &o.comm,
            cmdline: &o.cmdline,
            uid: o.uid,
            cgroup: o.cgroup.as_deref(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ListenerJson<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub address: IpAddr,
    pub port: u16,
    pub family: &'static str,
    /// Connections waiting in the accept queue.
    pub queue: u32,
    /// The accept queue's limit (min of the listen() backlog and somaxconn at listen() time).
    pub backlog: u32,
    /// Packets dropped on the socket since it was created; null when the kernel did not say.
    pub drops: Option<u64>,
    /// ok, full, overflowing, dropped_before.
    pub state: &'static str,
    /// application, somaxconn, somaxconn_lowered_since, unknown.
    pub limited_by: &'static str,
    /// Machine-readable advice, most likely first.
    pub advice: Vec<&'static str>,
    /// The same advice in words.
    pub advice_text: Vec<String>,
    pub inode: u32,
    pub uid: u32,
    pub ifindex: u32,
    pub processes: Vec<ProcessJson<'a>>,
}

impl<'a> ListenerJson<'a> {
    pub fn new(l: &'a Listener, v: &QueueVerdict, advice_text: Vec<String>) -> Self {
        ListenerJson {
            kind: "listener",
            address: l.key.addr,
            port: l.key.port,
            family: if l.key.addr.is_ipv4() { "ipv4" } else { "ipv6" },
            queue: l.queue,
            backlog: l.backlog,
            drops: l.drops,
            state: state_name(v.state),
            limited_by: match v.limit {
                BacklogLimit::Application => "application",
                BacklogLimit::Somaxconn => "somaxconn",
                BacklogLimit::SomaxconnLoweredSince => "somaxconn_lowered_since",
                BacklogLimit::Unknown => "unknown",
            },
            advice: v.advice.iter().map(advice_name).collect(),
            advice_text,
            inode: l.inode,
            uid: l.uid,
            ifindex: l.ifindex,
            processes: l.owners.iter().map(ProcessJson::from).collect(),
        }
    }
}

pub fn state_name(s: QueueState) -> &'static str {
    match s {
        QueueState::Ok => "ok",
        QueueState::Full => "full",
        QueueState::Overflowing => "overflowing",
        QueueState::DroppedBefore => "dropped_before",
    }
}

pub fn advice_name(a: &Advice) -> &'static str {
    match a {
        Advice::AcceptFaster => "accept_faster",
        Advice::RaiseListenBacklog { .. } => "raise_listen_backlog",
        Advice::RaiseSomaxconn { .. } => "raise_somaxconn",
        Advice::SomaxconnLoweredSince { .. } => "somaxconn_lowered_since",
        Advice::AbortOnOverflowResets => "abort_on_overflow_resets",
    }
}

#[derive(Debug, Serialize)]
pub struct SummaryJson<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub listeners: usize,
    pub full: usize,
    pub processes_scanned: u64,
    pub processes_denied: u64,
    pub processes_vanished: u64,
    pub processes_skipped: u64,
    pub owners_dropped: u64,
    pub listeners_without_process: u64,
    /// What could not be seen, in words.
    pub notes: &'a [String],
}

impl<'a> SummaryJson<'a> {
    pub fn new(listeners: usize, full: usize, o: &OwnersSeen, notes: &'a [String]) -> Self {
        SummaryJson {
            kind: "summary",
            listeners,
            full,
            processes_scanned: o.pids_scanned,
            processes_denied: o.pids_denied,
            processes_vanished: o.pids_vanished,
            processes_skipped: o.pids_skipped,
            owners_dropped: o.owners_dropped,
            listeners_without_process: o.unowned,
            notes,
        }
    }
}
