//! The kernel's TCP failure counters (`/proc/net/snmp` `Tcp:`, `/proc/net/netstat` `TcpExt:`)
//! turned into what an engineer asks of them: which ones moved and how fast, the headline
//! "failed connections/s" exactly as monitoring agents compute it, whether that rate is new,
//! when it crossed a threshold, and where the counters disagree with a packet capture.
//!
//! Pure: no IO, no clock. Samples and times (monotonic seconds, Unix seconds) are passed in.

use std::collections::BTreeMap;

/// The `/proc` file and line prefix a counter lives under. Both files are per network namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Section {
    /// `Tcp:` lines of `/proc/net/snmp` (RFC 4022 MIB counters).
    Tcp,
    /// `TcpExt:` lines of `/proc/net/netstat` (Linux's own counters).
    TcpExt,
}

impl Section {
    /// The line prefix, without the colon.
    pub fn prefix(self) -> &'static str {
        match self {
            Section::Tcp => "Tcp",
            Section::TcpExt => "TcpExt",
        }
    }

    /// The file as users know it (`/proc/net/…`; rsthound reads `/proc/thread-self/net/…`).
    pub fn file(self) -> &'static str {
        match self {
            Section::Tcp => "/proc/net/snmp",
            Section::TcpExt => "/proc/net/netstat",
        }
    }
}

/// One reading of both sections: every counter by its header name. A name absent from a map is
/// a counter this kernel does not have (or whose value could not be read): not available, never
/// zero.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CounterSample {
    pub tcp: BTreeMap<String, u64>,
    pub tcp_ext: BTreeMap<String, u64>,
    /// Sections that could not be read at all, with the reason (their counters are n/a).
    pub unreadable: Vec<(Section, String)>,
    /// Names whose value was not an unsigned number (e.g. `MaxConn` is -1 on every kernel).
    pub unparsable: Vec<(Section, String)>,
}

impl CounterSample {
    pub fn get(&self, section: Section, name: &str) -> Option<u64> {
        match section {
            Section::Tcp => self.tcp.get(name).copied(),
            Section::TcpExt => self.tcp_ext.get(name).copied(),
        }
    }
}

/// A counter rsthound explains: where it lives and what it really counts.
#[derive(Debug, PartialEq, Eq)]
pub struct CounterInfo {
    pub name: &'static str,
    pub section: Section,
    /// What it counts, in plain words (correcting netstat's labels where they mislead).
    pub meaning: &'static str,
}

const fn tcp(name: &'static str, meaning: &'static str) -> CounterInfo {
    CounterInfo {
        name,
        section: Section::Tcp,
        meaning,
    }
}

const fn ext(name: &'static str, meaning: &'static str) -> CounterInfo {
    CounterInfo {
        name,
        section: Section::TcpExt,
        meaning,
    }
}

/// The name of the headline counter.
pub const ATTEMPT_FAILS: &str = "AttemptFails";

/// The counters shown, in the order they are listed when they did not move. Meanings checked
/// against net/ipv4/tcp*.c of 6.18.
pub static CATALOGUE: &[CounterInfo] = &[
    tcp(
        ATTEMPT_FAILS,
        "connection attempts that failed: a socket in SYN_SENT or SYN_RECV went to CLOSED \
         (refused by a RST, timed out, or reset during the handshake), client and server side \
         alike, plus SYN_RECV back to LISTEN",
    ),
    tcp(
        "EstabResets",
        "established (or CLOSE_WAIT) connections that ended in a reset, received OR sent \
         (netstat's \"connection resets received\" is wrong: resets this host sent count too)",
    ),
    tcp(
        "OutRsts",
        "RST segments the TCP stack itself sent (\"resets sent\"); resets forged by a firewall \
         rule (nftables/iptables `reject with tcp reset`) are NOT counted",
    ),
    tcp(
        "InErrs",
        "segments received with errors and dropped: bad checksum, bad header or too short",
    ),
    tcp(
        "InCsumErrors",
        "segments received with a bad TCP checksum (also counted in InErrs): a damaged link, \
         NIC offload trouble or a broken middlebox",
    ),
    tcp(
        "ActiveOpens",
        "connect() calls that sent a SYN (attempts, failed or not): the base to read \
         AttemptFails against",
    ),
    tcp(
        "PassiveOpens",
        "connections accepted into a listener's SYN queue (server-side handshakes begun)",
    ),
    ext(
        "ListenOverflows",
        "a client completed the handshake but the listener's accept queue was full: the \
         application calls accept() too slowly or its listen() backlog (capped by \
         net.core.somaxconn) is too small; the final ACK is dropped, or answered with a RST \
         when tcp_abort_on_overflow=1",
    ),
    ext(
        "ListenDrops",
        "SYNs or handshake-completing ACKs a listening socket dropped, for any reason: every \
         ListenOverflow counts here too, plus drops for lack of memory or a missing route",
    ),
    ext(
        "TCPAbortOnData",
        "connections this host reset because data arrived after the application had closed \
         its side, or because the application closed with SO_LINGER set to 0 (an abortive \
         close counts here, not under TCPAbortOnLinger)",
    ),
    ext(
        "TCPAbortOnClose",
        "connections this host reset because the application closed the socket with unread \
         data still in its receive buffer",
    ),
    ext(
        "TCPAbortOnMemory",
        "connections this host reset because TCP ran out of memory (net.ipv4.tcp_mem) or had \
         too many orphaned sockets (net.ipv4.tcp_max_orphans)",
    ),
    ext(
        "TCPAbortOnTimeout",
        "connections dropped because retransmissions, keepalive or zero-window probes went \
         unanswered too long (tcp_retries2, tcp_keepalive_probes, tcp_orphan_retries)",
    ),
    ext(
        "TCPAbortOnLinger",
        "closed connections reset in FIN_WAIT2 because TCP_LINGER2 was negative or their \
         tcp_fin_timeout ran out while the peer never sent its FIN",
    ),
    ext(
        "TCPAbortFailed",
        "resets this host wanted to send but could not (no memory for the RST): the peer was \
         never told the connection is gone",
    ),
    ext(
        "TCPChallengeACK",
        "challenge ACKs sent instead of obeying a RST or SYN whose sequence number was in the \
         window but not exact (RFC 5961 blind-reset protection): a stale peer or an attack",
    ),
    ext(
        "TCPSYNChallenge",
        "challenge ACKs sent for a SYN arriving on an established connection: the peer \
         restarted and reused the port, or a spoofed SYN",
    ),
    ext(
        "EmbryonicRsts",
        "resets received for connections still in SYN_RECV: the client gave up or reset \
         during the handshake",
    ),
    ext(
        "TCPReqQFullDrop",
        "SYNs dropped because a listener's SYN (request) queue was full and SYN cookies were \
         off: a SYN flood, or a listener too slow",
    ),
    ext(
        "TCPReqQFullDoCookies",
        "SYN cookies sent because a listener's SYN (request) queue was full: a SYN flood, or \
         a burst bigger than net.ipv4.tcp_max_syn_backlog",
    ),
    ext(
        "TCPSynRetrans",
        "SYN and SYN-ACK retransmissions: handshakes waiting for an answer (a filtered port, \
         a host down, lost packets)",
    ),
    ext(
        "TCPTimeouts",
        "retransmission timeouts (RTO): segments, SYNs included, that got no ACK in time",
    ),
    ext(
        "TCPBacklogDrop",
        "segments dropped because a busy socket's backlog was full: the application held the \
         socket too long or its receive buffer was exhausted",
    ),
];

/// The catalogue entry of `name`, if rsthound explains it.
pub fn info(name: &str) -> Option<&'static CounterInfo> {
    CATALOGUE.iter().find(|c| c.name == name)
}

/// How a counter changed between two samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Change {
    /// Absent in either sample (an older kernel, or its file unreadable): shown "n/a".
    NotAvailable,
    /// Grew (or stayed) by `delta`.
    Moved { delta: u64, per_second: f64 },
    /// Went down: the counters were reset (namespace recreated, module reloaded); no rate.
    Reset { before: u64, after: u64 },
}

impl Change {
    pub fn between(before: Option<u64>, after: Option<u64>, seconds: f64) -> Change {
        match (before, after) {
            (Some(b), Some(a)) if a >= b => Change::Moved {
                delta: a - b,
                per_second: (a - b) as f64 / seconds,
            },
            (Some(b), Some(a)) => Change::Reset {
                before: b,
                after: a,
            },
            _ => Change::NotAvailable,
        }
    }

    /// The rate, when there is one.
    pub fn rate(self) -> Option<f64> {
        match self {
            Change::Moved { per_second, .. } => Some(per_second),
            _ => None,
        }
    }

    /// Moved by a non-zero amount, or reset.
    pub fn is_nonzero(self) -> bool {
        match self {
            Change::Moved { delta, .. } => delta > 0,
            Change::Reset { .. } => true,
            Change::NotAvailable => false,
        }
    }
}

/// One counter over an interval.
#[derive(Clone, Debug, PartialEq)]
pub struct CounterChange {
    pub info: &'static CounterInfo,
    /// Its value at the end of the interval.
    pub total: Option<u64>,
    pub change: Change,
}

/// Every catalogued counter over one interval, non-zero ones first (fastest first), then the
/// unchanged ones, then those not available; catalogue order within a group.
#[derive(Clone, Debug, PartialEq)]
pub struct IntervalRates {
    pub seconds: f64,
    pub rows: Vec<CounterChange>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RateError {
    #[error("an interval of {0} s has no rate (time must move forward between samples)")]
    BadInterval(f64),
}

/// The rates between two samples taken `seconds` apart.
pub fn rates(
    before: &CounterSample,
    after: &CounterSample,
    seconds: f64,
) -> Result<IntervalRates, RateError> {
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(RateError::BadInterval(seconds));
    }
    let mut rows: Vec<CounterChange> = CATALOGUE
        .iter()
        .map(|info| {
            let b = before.get(info.section, info.name);
            let a = after.get(info.section, info.name);
            CounterChange {
                info,
                total: a,
                change: Change::between(b, a, seconds),
            }
        })
        .collect();
    // Stable: catalogue order is kept within a group.
    rows.sort_by(|x, y| {
        group(x.change)
            .cmp(&group(y.change))
            .then(speed(y).total_cmp(&speed(x)))
    });
    Ok(IntervalRates { seconds, rows })
}

fn group(c: Change) -> u8 {
    match c {
        _ if c.is_nonzero() => 0,
        Change::Moved { .. } => 1,
        _ => 2,
    }
}

fn speed(c: &CounterChange) -> f64 {
    // Resets sort among the non-zero ones as if infinitely fast: they need to be seen.
    match c.change {
        Change::Moved { per_second, .. } => per_second,
        Change::Reset { .. } => f64::INFINITY,
        Change::NotAvailable => 0.0,
    }
}

impl IntervalRates {
    pub fn get(&self, name: &str) -> Option<&CounterChange> {
        self.rows.iter().find(|r| r.info.name == name)
    }

    /// The growth of `name`, when it has one (not n/a, not reset).
    pub fn delta(&self, name: &str) -> Option<u64> {
        match self.get(name)?.change {
            Change::Moved { delta, .. } => Some(delta),
            _ => None,
        }
    }

    /// The headline: failed connections per second = ΔAttemptFails/Δt, as monitoring agents
    /// compute it; a reset is reported as such, never as a rate.
    pub fn failed_connections(&self) -> Change {
        self.get(ATTEMPT_FAILS)
            .map_or(Change::NotAvailable, |r| r.change)
    }
}

/// When the counters started counting, for "is it new?".
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CountersStart {
    /// The host's namespace: its counters started at boot, `seconds` before the first sample.
    Known { seconds: f64 },
    /// Another namespace: counters start when it is created, and Linux does not say when.
    Unknown,
}

/// The answer to "is it new?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing now.
    NoneNow,
    /// Well above the long-term average (at least [`NEW_FACTOR`] times), or never seen before.
    New,
    /// Above the average, but less than [`NEW_FACTOR`] times.
    Higher,
    /// About the long-term average or below: it has been like this all along.
    Usual,
    /// The counters started less than [`MIN_HISTORY_S`] ago: too short a history to tell.
    TooShort,
    /// The counters' start is unknown (another namespace).
    Unknown,
}

/// "New" means at least this many times the long-term average.
pub const NEW_FACTOR: f64 = 10.0;
/// "Higher than usual" means at least this many times the long-term average.
pub const HIGHER_FACTOR: f64 = 2.0;
/// Less history than this cannot say what is usual.
pub const MIN_HISTORY_S: f64 = 60.0;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Novelty {
    /// The rate now (per second).
    pub now: f64,
    /// The average rate from the counters' start to the first sample, when the start is known.
    pub average: Option<f64>,
    /// How long that average covers (seconds), when known.
    pub over_seconds: Option<f64>,
    /// The counter's value at the first sample (everything since the counters started).
    pub total_before: u64,
    pub verdict: Verdict,
}

/// Compares the rate now with the average from the counters' start up to the first sample
/// (`total_before` counted over `start`): the run's own numbers are left out so a short run
/// cannot make a new problem look usual.
pub fn novelty(now: f64, total_before: u64, start: CountersStart) -> Novelty {
    let (average, over_seconds) = match start {
        CountersStart::Known { seconds } if seconds.is_finite() && seconds > 0.0 => {
            (Some(total_before as f64 / seconds), Some(seconds))
        }
        _ => (None, None),
    };
    let verdict = if now <= 0.0 || !now.is_finite() {
        Verdict::NoneNow
    } else if total_before == 0 {
        // Never once before, however long "before" was: new, start known or not.
        Verdict::New
    } else {
        match (average, over_seconds) {
            (Some(_), Some(s)) if s < MIN_HISTORY_S => Verdict::TooShort,
            (Some(avg), Some(_)) if avg <= 0.0 || now >= NEW_FACTOR * avg => Verdict::New,
            (Some(avg), Some(_)) if now >= HIGHER_FACTOR * avg => Verdict::Higher,
            (Some(_), Some(_)) => Verdict::Usual,
            _ => Verdict::Unknown,
        }
    };
    Novelty {
        now,
        average,
        over_seconds,
        total_before,
        verdict,
    }
}

/// Default `--warn`: one failed connection per second is already worth a look on most hosts.
pub const DEFAULT_WARN: f64 = 1.0;
/// Default `--crit`: ten per second is a service down or a client in a retry loop.
pub const DEFAULT_CRIT: f64 = 10.0;

/// Thresholds on failed connections/s. A rate above a threshold crosses it (the
/// monitoring-plugins convention: `1` alerts on more than 1), with [`THRESHOLD_SLACK`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    pub warn: f64,
    pub crit: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            warn: DEFAULT_WARN,
            crit: DEFAULT_CRIT,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warn,
    Crit,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Crit => "crit",
        }
    }
}

/// A rate must be more than this fraction above a threshold to cross it: the sampling clock
/// jitters by a fraction of a millisecond, and one failure in 0.9999 s (1.0001/s) must not read
/// as "above 1/s". The rate itself is reported exactly.
pub const THRESHOLD_SLACK: f64 = 0.01;

impl Thresholds {
    pub fn level(&self, rate: f64) -> Level {
        let above = |t: f64| rate > t + t.abs() * THRESHOLD_SLACK;
        if above(self.crit) {
            Level::Crit
        } else if above(self.warn) {
            Level::Warn
        } else {
            Level::Ok
        }
    }
}

/// A stretch of intervals above the warn threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Episode {
    /// Wall-clock start (Unix seconds) of the first interval above warn.
    pub since: f64,
    /// Wall-clock start of the first interval above crit in this episode.
    pub crit_since: Option<f64>,
    /// The rate of the first interval above warn.
    pub first_rate: f64,
    /// It was already above warn in the run's first interval: it began then or earlier.
    pub before_run: bool,
}

/// What one interval did to the threshold state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OnsetEvent {
    /// Nothing changed.
    Same,
    /// The rate crossed warn (or straight crit).
    Crossed(Episode),
    /// Already above warn, now above crit too.
    Escalated(Episode),
    /// Back under crit, still above warn.
    Eased(Episode),
    /// Back under warn, after `lasted` seconds above it.
    Cleared { at: f64, lasted: f64 },
}

/// Follows failed connections/s interval by interval and remembers when it crossed the
/// thresholds (the onset), as an alert would report it.
#[derive(Clone, Debug)]
pub struct OnsetTracker {
    pub thresholds: Thresholds,
    level: Level,
    current: Option<Episode>,
    first: Option<Episode>,
    episodes: u32,
    intervals: u64,
    worst: Level,
}

impl OnsetTracker {
    pub fn new(thresholds: Thresholds) -> Self {
        OnsetTracker {
            thresholds,
            level: Level::Ok,
            current: None,
            first: None,
            episodes: 0,
            intervals: 0,
            worst: Level::Ok,
        }
    }

    /// Feeds one interval `[start, end]` (Unix seconds) with its rate; `None` (a counter reset,
    /// or n/a) leaves the state as it was.
    pub fn observe(&mut self, start: f64, end: f64, rate: Option<f64>) -> OnsetEvent {
        self.intervals += 1;
        let first_interval = self.intervals == 1;
        let Some(rate) = rate else {
            return OnsetEvent::Same;
        };
        let level = self.thresholds.level(rate);
        self.worst = self.worst.max(level);
        let was = self.level;
        self.level = level;
        match (was, level) {
            (Level::Ok, Level::Ok) => OnsetEvent::Same,
            (Level::Ok, _) => {
                let ep = Episode {
                    since: start,
                    crit_since: (level == Level::Crit).then_some(start),
                    first_rate: rate,
                    before_run: first_interval,
                };
                self.current = Some(ep);
                self.first.get_or_insert(ep);
                self.episodes += 1;
                OnsetEvent::Crossed(ep)
            }
            (_, Level::Ok) => {
                let since = self.current.take().map_or(start, |e| e.since);
                OnsetEvent::Cleared {
                    at: end,
                    lasted: (end - since).max(0.0),
                }
            }
            (Level::Warn, Level::Crit) => {
                let ep = self
                    .current
                    .as_mut()
                    .expect("an episode is open above warn");
                ep.crit_since = Some(start);
                OnsetEvent::Escalated(*ep)
            }
            (Level::Crit, Level::Warn) => {
                let ep = self
                    .current
                    .as_mut()
                    .expect("an episode is open above warn");
                ep.crit_since = None;
                OnsetEvent::Eased(*ep)
            }
            _ => OnsetEvent::Same,
        }
    }

    /// The level of the last interval with a rate.
    pub fn level(&self) -> Level {
        self.level
    }

    /// The worst level of the run.
    pub fn worst(&self) -> Level {
        self.worst
    }

    /// The episode going on now, if the rate is above warn.
    pub fn current(&self) -> Option<Episode> {
        self.current
    }

    /// The first episode of the run (the onset an alert would have reported).
    pub fn first(&self) -> Option<Episode> {
        self.first
    }

    /// How many times the rate crossed warn from below.
    pub fn episodes(&self) -> u32 {
        self.episodes
    }
}

/// What a packet capture (watch, diagnose) saw over the same run as the counter deltas, in the
/// same network namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaptureSeen {
    /// RST segments seen leaving this host, sent by its TCP stack or forged for it (outgoing
    /// direction, from a local address).
    pub rsts_leaving: u64,
    /// Of those, how many the TCP stack is known to have sent (`tcp:tcp_send_reset` fired), when
    /// the kernel events were watched.
    pub rsts_from_stack: Option<u64>,
    /// Failed connection attempts captured: SYNs answered by a RST, or never answered.
    pub failed_attempts: u64,
    /// TCP segments captured at all.
    pub tcp_segments: u64,
    /// Packets the kernel dropped before the capture could read them.
    pub kernel_drops: u64,
    /// The capture was limited to some interfaces (`-i`).
    pub interfaces_filtered: bool,
    /// The namespace the capture ran in (None: the host's).
    pub netns: Option<String>,
    /// Other namespaces that exist (names from `ip netns`, container PIDs) to suggest.
    pub other_netns: Vec<String>,
}

/// Why failed attempts could be missing from a capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MissedCause {
    /// Nothing TCP was captured at all: the traffic is probably in another namespace.
    OtherNamespace { candidates: Vec<String> },
    /// Only some interfaces were watched.
    InterfacesFiltered,
    /// The kernel dropped packets before the capture read them.
    KernelDrops(u64),
    /// The SYN never reached the wire: a local firewall dropped it, or the connect failed on
    /// an ICMP error / a missing route (AttemptFails counts those too, with no RST to see).
    NeverOnWire,
}

/// A place where the counters and the capture tell different stories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disagreement {
    /// More RSTs left this host than its TCP stack counted in OutRsts: the rest were forged by
    /// a firewall rule (nftables/iptables `reject with tcp reset`).
    RstsNotFromStack {
        seen: u64,
        out_rsts: u64,
        /// At least this many were forged.
        forged: u64,
    },
    /// AttemptFails rose but the capture saw (almost) no failed attempt.
    FailuresNotCaptured {
        attempt_fails: u64,
        captured: u64,
        causes: Vec<MissedCause>,
    },
    /// A listener's accept queue was full: ListenOverflows rose.
    AcceptQueueFull { overflows: u64, drops: Option<u64> },
}

/// Compares the counter deltas over a run (`run` = [`rates`] between the run's first and last
/// samples) with what the capture saw in the same namespace and time. Edges of the run can be
/// off by the packets of one interval, so only clear disagreements are reported.
pub fn cross_check(run: &IntervalRates, seen: &CaptureSeen) -> Vec<Disagreement> {
    let mut out = Vec::new();
    if let Some(out_rsts) = run.delta("OutRsts") {
        // With the kernel events, count forged ones directly; without, by difference.
        let forged = match seen.rsts_from_stack {
            Some(stack) => seen.rsts_leaving.saturating_sub(stack.max(out_rsts)),
            None => seen.rsts_leaving.saturating_sub(out_rsts),
        };
        if forged > 0 {
            out.push(Disagreement::RstsNotFromStack {
                seen: seen.rsts_leaving,
                out_rsts,
                forged,
            });
        }
    }
    if let Some(fails) = run.delta(ATTEMPT_FAILS) {
        // "Nothing captured": fewer than half the failures were seen.
        if fails > 0 && seen.failed_attempts.saturating_mul(2) < fails {
            let mut causes = Vec::new();
            if seen.tcp_segments == 0 {
                causes.push(MissedCause::OtherNamespace {
                    candidates: seen.other_netns.clone(),
                });
            }
            if seen.interfaces_filtered {
                causes.push(MissedCause::InterfacesFiltered);
            }
            if seen.kernel_drops > 0 {
                causes.push(MissedCause::KernelDrops(seen.kernel_drops));
            }
            causes.push(MissedCause::NeverOnWire);
            out.push(Disagreement::FailuresNotCaptured {
                attempt_fails: fails,
                captured: seen.failed_attempts,
                causes,
            });
        }
    }
    if let Some(overflows) = run.delta("ListenOverflows")
        && overflows > 0
    {
        out.push(Disagreement::AcceptQueueFull {
            overflows,
            drops: run.delta("ListenDrops"),
        });
    }
    out
}

/// `HH:MM:SS` (UTC) of a Unix time, as the rest of rsthound prints times.
pub fn time_of_day_utc(unix: f64) -> String {
    let secs = if unix.is_finite() {
        unix.floor() as i64
    } else {
        0
    };
    let sod = secs.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", sod / 3600, (sod / 60) % 60, sod % 60)
}

/// Where the counters come from, for the output.
#[derive(Clone, Debug, PartialEq)]
pub struct Scope {
    /// The `--netns` as given (sanitized), None for this process's namespace.
    pub netns: Option<String>,
    pub start: CountersStart,
    /// Things worth saying up front (the start unknown, …).
    pub notes: Vec<String>,
}

/// One interval, everything the renderers show.
pub struct IntervalView<'a> {
    pub start_unix: f64,
    pub end_unix: f64,
    pub rates: &'a IntervalRates,
    pub novelty: Option<Novelty>,
    pub event: OnsetEvent,
    pub onset: &'a OnsetTracker,
}

/// The whole run, for the summary.
pub struct RunView<'a> {
    pub scope: &'a Scope,
    pub intervals: u64,
    pub start_unix: f64,
    pub end_unix: f64,
    /// Rates between the first and the last sample (None: fewer than two samples).
    pub rates: Option<&'a IntervalRates>,
    pub novelty: Option<Novelty>,
    pub onset: &'a OnsetTracker,
    pub thresholds: Thresholds,
    pub errors: &'a [String],
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(tcp: &[(&str, u64)], ext: &[(&str, u64)]) -> CounterSample {
        CounterSample {
            tcp: tcp.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            tcp_ext: ext.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            ..CounterSample::default()
        }
    }

    #[test]
    fn catalogue_covers_the_issue_list_once_each() {
        let wanted = [
            "AttemptFails",
            "EstabResets",
            "OutRsts",
            "InErrs",
            "InCsumErrors",
            "ListenOverflows",
            "ListenDrops",
            "TCPAbortOnData",
            "TCPAbortOnClose",
            "TCPAbortOnMemory",
            "TCPAbortOnTimeout",
            "TCPAbortOnLinger",
            "TCPAbortFailed",
            "TCPChallengeACK",
            "TCPSYNChallenge",
            "EmbryonicRsts",
            "TCPReqQFullDrop",
            "TCPReqQFullDoCookies",
            "TCPSynRetrans",
            "TCPTimeouts",
            "TCPBacklogDrop",
        ];
        for w in wanted {
            assert_eq!(CATALOGUE.iter().filter(|c| c.name == w).count(), 1, "{w}");
        }
        assert_eq!(info("EstabResets").unwrap().section, Section::Tcp);
        assert_eq!(info("ListenOverflows").unwrap().section, Section::TcpExt);
        assert!(info("EstabResets").unwrap().meaning.contains("OR sent"));
        assert!(info("OutRsts").unwrap().meaning.contains("NOT counted"));
        for c in CATALOGUE {
            assert!(
                !c.meaning.is_empty() && !c.meaning.contains('\n'),
                "{}",
                c.name
            );
        }
    }

    #[test]
    fn headline_is_delta_attempt_fails_over_delta_t() {
        let a = sample(&[("AttemptFails", 100), ("OutRsts", 5)], &[]);
        let b = sample(&[("AttemptFails", 104), ("OutRsts", 9)], &[]);
        let r = rates(&a, &b, 2.0).unwrap();
        assert_eq!(
            r.failed_connections(),
            Change::Moved {
                delta: 4,
                per_second: 2.0
            }
        );
        assert_eq!(r.delta("OutRsts"), Some(4));
    }

    #[test]
    fn a_counter_going_down_is_a_reset_not_a_rate() {
        let a = sample(&[("AttemptFails", 100)], &[]);
        let b = sample(&[("AttemptFails", 3)], &[]);
        let r = rates(&a, &b, 1.0).unwrap();
        assert_eq!(
            r.failed_connections(),
            Change::Reset {
                before: 100,
                after: 3
            }
        );
        assert_eq!(r.failed_connections().rate(), None);
        assert_eq!(r.delta(ATTEMPT_FAILS), None);
        // A reset is listed with the non-zero counters.
        assert_eq!(r.rows[0].info.name, ATTEMPT_FAILS);
    }

    #[test]
    fn missing_counter_is_not_available_never_zero() {
        let a = sample(&[("AttemptFails", 1)], &[("ListenOverflows", 0)]);
        let b = sample(&[("AttemptFails", 1)], &[("ListenOverflows", 0)]);
        let r = rates(&a, &b, 1.0).unwrap();
        assert_eq!(
            r.get("TCPAbortFailed").unwrap().change,
            Change::NotAvailable
        );
        assert_eq!(r.get("TCPAbortFailed").unwrap().total, None);
        assert_eq!(r.delta("TCPAbortFailed"), None);
        assert!(matches!(
            r.get("ListenOverflows").unwrap().change,
            Change::Moved { delta: 0, .. }
        ));
        // Present in the first sample only: still n/a (no rate from half a pair).
        let c = sample(&[], &[]);
        let r = rates(&a, &c, 1.0).unwrap();
        assert_eq!(r.failed_connections(), Change::NotAvailable);
    }

    #[test]
    fn rows_are_nonzero_fastest_first_then_zero_then_na() {
        let a = sample(
            &[("AttemptFails", 0), ("OutRsts", 0), ("InErrs", 0)],
            &[("ListenOverflows", 0)],
        );
        let b = sample(
            &[("AttemptFails", 2), ("OutRsts", 5), ("InErrs", 0)],
            &[("ListenOverflows", 1)],
        );
        let r = rates(&a, &b, 1.0).unwrap();
        let names: Vec<_> = r.rows.iter().map(|r| r.info.name).collect();
        assert_eq!(
            &names[..5],
            &[
                "OutRsts",
                "AttemptFails",
                "ListenOverflows",
                "InErrs",
                "EstabResets"
            ]
        );
        assert_eq!(r.rows[4].change, Change::NotAvailable);
        assert_eq!(r.rows.last().unwrap().change, Change::NotAvailable);
        assert_eq!(r.rows.len(), CATALOGUE.len());
    }

    #[test]
    fn bad_intervals_have_no_rate() {
        let a = CounterSample::default();
        for s in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(rates(&a, &a, s).is_err(), "{s}");
        }
    }

    #[test]
    fn novelty_new_usual_higher_and_unknown() {
        let twelve_days = 12.0 * 86_400.0;
        // 0.001/s over 12 days, 2/s now: new.
        let n = novelty(
            2.0,
            1037,
            CountersStart::Known {
                seconds: twelve_days,
            },
        );
        assert_eq!(n.verdict, Verdict::New);
        assert!((n.average.unwrap() - 0.001).abs() < 1e-4);
        // Always been 2/s: usual.
        let n = novelty(
            2.0,
            (2.0 * twelve_days) as u64,
            CountersStart::Known {
                seconds: twelve_days,
            },
        );
        assert_eq!(n.verdict, Verdict::Usual);
        // 3x the average: higher.
        let n = novelty(
            3.0,
            twelve_days as u64,
            CountersStart::Known {
                seconds: twelve_days,
            },
        );
        assert_eq!(n.verdict, Verdict::Higher);
        // Never before: new.
        let n = novelty(
            0.5,
            0,
            CountersStart::Known {
                seconds: twelve_days,
            },
        );
        assert_eq!(n.verdict, Verdict::New);
        // Nothing now.
        assert_eq!(
            novelty(0.0, 5, CountersStart::Known { seconds: 100.0 }).verdict,
            Verdict::NoneNow
        );
        // Another namespace.
        let n = novelty(2.0, 5, CountersStart::Unknown);
        assert_eq!((n.verdict, n.average), (Verdict::Unknown, None));
        // …where it never happened before: new all the same.
        assert_eq!(
            novelty(2.0, 0, CountersStart::Unknown).verdict,
            Verdict::New
        );
        // Booted 10 s ago.
        assert_eq!(
            novelty(2.0, 5, CountersStart::Known { seconds: 10.0 }).verdict,
            Verdict::TooShort
        );
    }

    #[test]
    fn thresholds_are_strictly_above() {
        let t = Thresholds::default();
        assert_eq!((t.warn, t.crit), (1.0, 10.0));
        assert_eq!(t.level(1.0), Level::Ok);
        // One failure in a slightly short interval is not above 1/s.
        assert_eq!(t.level(1.0001), Level::Ok);
        assert_eq!(t.level(1.02), Level::Warn);
        assert_eq!(t.level(10.0), Level::Warn);
        assert_eq!(t.level(10.5), Level::Crit);
    }

    #[test]
    fn onset_is_the_first_interval_above_warn_with_its_start_time() {
        let mut t = OnsetTracker::new(Thresholds::default());
        let t0 = 1_763_730_942.0;
        assert_eq!(t.observe(t0, t0 + 1.0, Some(0.0)), OnsetEvent::Same);
        assert_eq!(t.observe(t0 + 1.0, t0 + 2.0, Some(0.5)), OnsetEvent::Same);
        let OnsetEvent::Crossed(ep) = t.observe(t0 + 2.0, t0 + 3.0, Some(2.0)) else {
            panic!("no onset")
        };
        assert_eq!(ep.since, t0 + 2.0);
        assert!(!ep.before_run);
        // Staying above keeps the onset; a reset interval changes nothing.
        assert_eq!(t.observe(t0 + 3.0, t0 + 4.0, Some(2.1)), OnsetEvent::Same);
        assert_eq!(t.observe(t0 + 4.0, t0 + 5.0, None), OnsetEvent::Same);
        let OnsetEvent::Escalated(ep) = t.observe(t0 + 5.0, t0 + 6.0, Some(20.0)) else {
            panic!("no escalation")
        };
        assert_eq!((ep.since, ep.crit_since), (t0 + 2.0, Some(t0 + 5.0)));
        assert_eq!(t.worst(), Level::Crit);
        assert!(matches!(
            t.observe(t0 + 6.0, t0 + 7.0, Some(5.0)),
            OnsetEvent::Eased(_)
        ));
        assert_eq!(
            t.observe(t0 + 7.0, t0 + 8.0, Some(0.0)),
            OnsetEvent::Cleared {
                at: t0 + 8.0,
                lasted: 6.0
            }
        );
        assert_eq!(t.current(), None);
        assert_eq!(t.first().unwrap().since, t0 + 2.0);
        assert_eq!(t.episodes(), 1);
        assert_eq!(time_of_day_utc(t0 + 2.0), "13:15:44");
    }

    #[test]
    fn above_in_the_first_interval_means_it_began_before_the_run() {
        let mut t = OnsetTracker::new(Thresholds {
            warn: 1.0,
            crit: 3.0,
        });
        let OnsetEvent::Crossed(ep) = t.observe(100.0, 101.0, Some(5.0)) else {
            panic!()
        };
        assert!(ep.before_run);
        assert_eq!(ep.crit_since, Some(100.0));
        assert_eq!(t.level(), Level::Crit);
    }

    fn run(tcp: &[(&str, u64, u64)], ext: &[(&str, u64, u64)]) -> IntervalRates {
        let a = sample(
            &tcp.iter().map(|(n, a, _)| (*n, *a)).collect::<Vec<_>>(),
            &ext.iter().map(|(n, a, _)| (*n, *a)).collect::<Vec<_>>(),
        );
        let b = sample(
            &tcp.iter().map(|(n, _, b)| (*n, *b)).collect::<Vec<_>>(),
            &ext.iter().map(|(n, _, b)| (*n, *b)).collect::<Vec<_>>(),
        );
        rates(&a, &b, 10.0).unwrap()
    }

    #[test]
    fn cross_check_finds_forged_rsts() {
        let r = run(&[("OutRsts", 10, 12), ("AttemptFails", 0, 0)], &[]);
        let seen = CaptureSeen {
            rsts_leaving: 7,
            tcp_segments: 20,
            ..CaptureSeen::default()
        };
        assert_eq!(
            cross_check(&r, &seen),
            vec![Disagreement::RstsNotFromStack {
                seen: 7,
                out_rsts: 2,
                forged: 5
            }]
        );
        // Every RST seen was counted: no disagreement.
        let seen = CaptureSeen {
            rsts_leaving: 2,
            ..seen
        };
        assert!(cross_check(&r, &seen).is_empty());
    }

    #[test]
    fn cross_check_attempt_fails_with_nothing_captured_suggests_netns() {
        let r = run(&[("AttemptFails", 0, 20), ("OutRsts", 0, 0)], &[]);
        let seen = CaptureSeen {
            other_netns: vec!["web".into()],
            ..CaptureSeen::default()
        };
        let d = cross_check(&r, &seen);
        assert_eq!(d.len(), 1);
        let Disagreement::FailuresNotCaptured {
            attempt_fails,
            captured,
            causes,
        } = &d[0]
        else {
            panic!("{d:?}")
        };
        assert_eq!((*attempt_fails, *captured), (20, 0));
        assert_eq!(
            causes[0],
            MissedCause::OtherNamespace {
                candidates: vec!["web".into()]
            }
        );
        // Captured them all: agreement.
        let seen = CaptureSeen {
            failed_attempts: 20,
            tcp_segments: 40,
            ..CaptureSeen::default()
        };
        assert!(cross_check(&r, &seen).is_empty());
    }

    #[test]
    fn cross_check_listen_overflows_mean_a_full_accept_queue() {
        let r = run(&[], &[("ListenOverflows", 3, 53), ("ListenDrops", 3, 60)]);
        assert_eq!(
            cross_check(&r, &CaptureSeen::default()),
            vec![Disagreement::AcceptQueueFull {
                overflows: 50,
                drops: Some(57)
            }]
        );
        // A reset counter says nothing.
        let r = run(&[], &[("ListenOverflows", 53, 3)]);
        assert!(cross_check(&r, &CaptureSeen::default()).is_empty());
    }
}
