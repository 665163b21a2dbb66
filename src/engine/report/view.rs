//! What a run's report hands to its sinks, typed: the ranked findings with the counts the text
//! says around them ([`FindingsView`]), and the groupings' largest rows, totals, overflow and
//! bounds ([`ReportView`], for `--json`). Made once at the end of a run; `sink::findings`
//! words the first, `sink::schema` serializes the second.

use super::finding::{Distinct, Finding, Named, PeakSecond, Service, Span};
use super::{Limits, Overflow};
use crate::engine::track::{Endpoint, Verdict};
use crate::model::timestamp::Timestamp;
use std::net::IpAddr;

/// The findings and what the text block says about the report's own bounds.
#[derive(Debug, Clone, Default)]
pub struct FindingsView {
    /// Most important first (see `rules::all`).
    pub findings: Vec<Finding>,
    /// Connections that completed their handshake.
    pub healthy: u64,
    pub overflow: Overflow,
    pub limits: Limits,
}

/// The report for `--json`.
#[derive(Debug, Clone)]
pub struct ReportView {
    pub totals: Totals,
    pub findings: Vec<Finding>,
    /// Keyed by the endpoint (with its port's name from the services table).
    pub by_endpoint: Rows<(Named, super::Kind)>,
    /// Keyed by the responder port (with its name from the services table).
    pub by_service: Rows<(Service, super::Kind)>,
    pub by_peer: Rows<(IpAddr, super::Kind)>,
    /// Completed connections per service port, most first.
    pub healthy_by_service: Vec<Healthy>,
    /// Senders that kept sending after their own RST, most first.
    pub kept_talking: Vec<KeptTalking>,
    pub overflow: Overflow,
    pub limits: Limits,
    /// Rows at most per grouping.
    pub rows_per_grouping: usize,
}

#[derive(Debug, Clone)]
pub struct Totals {
    pub rsts: u64,
    /// RSTs per verdict, for the verdicts seen, in verdict order.
    pub rsts_by_verdict: Vec<(Verdict, u64)>,
    pub connections_ended: u64,
    pub healthy: u64,
    pub unanswered: u64,
    pub kept_talking: u64,
}

/// A grouping's largest rows (ties in key order), how many were left out, and its keys.
#[derive(Debug, Clone)]
pub struct Rows<K> {
    pub rows: Vec<Row<K>>,
    pub omitted: usize,
    pub keys: usize,
}

/// One group: its key, events, distinct peers and peer ports, time range, rate and peak.
#[derive(Debug, Clone)]
pub struct Row<K> {
    pub key: K,
    pub count: u64,
    pub peers: Distinct,
    pub peer_ports: Distinct,
    pub span: Span,
    /// Events per second over the group's time range (see [`Span::rate`]).
    pub rate: Option<f64>,
    pub peak: PeakSecond,
    /// SYNs sent (unanswered attempts; 0 for RSTs).
    pub syns: u64,
}

/// Completed connections on one service port.
#[derive(Debug, Clone)]
pub struct Healthy {
    pub service: Service,
    pub connections: u64,
    pub first: Timestamp,
    pub last: Timestamp,
}

/// One sender that kept sending after its own RST.
#[derive(Debug, Clone)]
pub struct KeptTalking {
    pub sender: Endpoint,
    pub notes: u64,
    pub first: Timestamp,
    pub last: Timestamp,
}
