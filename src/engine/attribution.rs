//! Which process is behind a kernel event. The `connect()` caller is captured in its own
//! context at CLOSE→SYN_SENT and kept by socket address (`skaddr`) until the socket closes; its
//! local port, 0 at that moment, is learned from later events of the socket. A RST the kernel
//! sends for no socket (NO_SOCKET: skaddr NULL) is matched to the local client by addresses and
//! ports. The task an event ran in is the actor (the closing process of a TCP_ABORT_ON_CLOSE)
//! only outside interrupts. Pure: events in, time from the events, processes from a resolver
//! the caller passes; bounded, with its overflow counted.

use super::kevent::{EventKind, KernelEvent, Process, TaskContext, TcpState};
use foldhash::{HashMap, HashMapExt};
use std::net::SocketAddr;
use std::sync::Arc;

/// How a client was tied to the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// The event's own socket, seen at connect().
    Socket,
    /// A RST for no socket, matched by the client's addresses and ports.
    Addresses,
    /// Several local clients matched the addresses; the one whose task the event ran in.
    Context,
}

/// An event with the processes behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attributed {
    pub event: KernelEvent,
    /// The process that called `connect()` on the socket involved (for a RST for no socket:
    /// the local client it answered).
    pub client: Option<(Arc<Process>, Basis)>,
    /// The process in whose system call the event ran (the one that closed, aborted or
    /// connected), when it ran outside an interrupt.
    pub actor: Option<Arc<Process>>,
    /// The client's local end as far as known (its port learned from a later event).
    pub client_local: Option<SocketAddr>,
}

#[derive(Debug, Clone)]
struct Connect {
    process: Option<Arc<Process>>,
    local: Option<SocketAddr>,
    remote: Option<SocketAddr>,
    since_ns: u64,
    state: TcpState,
    /// When it reached CLOSE: kept a moment longer, because a close's RST follows its state
    /// change (6.18 tcp_disconnect sets CLOSE, then sends the SO_LINGER {1,0} reset).
    closed_ns: Option<u64>,
}

/// How long a closed socket stays known.
const CLOSED_GRACE_NS: u64 = 1_000_000_000;

/// Bounds of the socket table.
#[derive(Debug, Clone, Copy)]
pub struct AttributionConfig {
    /// Sockets followed at once.
    pub max_sockets: usize,
    /// A socket not closed after this long may be dropped to make room (a SYN_SENT socket
    /// gives up after about 127 s with the default tcp_syn_retries = 6).
    pub stale_ns: u64,
}

impl Default for AttributionConfig {
    fn default() -> Self {
        AttributionConfig {
            max_sockets: 65_536,
            stale_ns: 300_000_000_000,
        }
    }
}

/// Counters shown with the output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttributionStats {
    pub sockets: usize,
    /// connect() callers not followed: the table was full of live sockets.
    pub overflow: u64,
    /// Old sockets dropped to make room.
    pub stale_dropped: u64,
    /// RSTs for no socket that no local client matched (the client is remote, or connected
    /// before the source started).
    pub no_socket_unmatched: u64,
    /// RSTs for no socket that several local clients matched equally.
    pub no_socket_ambiguous: u64,
}

/// The socket table.
#[derive(Debug, Default)]
pub struct Attribution {
    cfg: AttributionConfig,
    sockets: HashMap<u64, Connect>,
    /// The sockets in SYN_SENT by remote end: what a RST for no socket is matched against,
    /// without a scan of every socket followed (one per attempt, at tens of thousands a second).
    connecting: HashMap<SocketAddr, Vec<u64>>,
    /// Closed sockets in their grace period, oldest first: (closed at, skaddr).
    closing: std::collections::VecDeque<(u64, u64)>,
    stats: AttributionStats,
}

impl Attribution {
    pub fn new(cfg: AttributionConfig) -> Attribution {
        Attribution {
            cfg,
            sockets: HashMap::new(),
            connecting: HashMap::new(),
            closing: Default::default(),
            stats: AttributionStats::default(),
        }
    }

    pub fn stats(&self) -> AttributionStats {
        AttributionStats {
            sockets: self.sockets.len(),
            ..self.stats
        }
    }

    /// Attributes one event. `resolve` names the task of a context (pid → process); it is
    /// called only where the answer is used.
    pub fn observe(
        &mut self,
        event: KernelEvent,
        resolve: &mut dyn FnMut(&TaskContext) -> Option<Arc<Process>>,
    ) -> Attributed {
        let ctx = event.ctx;
        self.forget_closed(ctx.time_ns);
        let mut actor = || {
            if ctx.in_irq { None } else { resolve(&ctx) }
        };
        let mut out = Who::default();
        match &event.kind {
            EventKind::SetState(s) if s.protocol == 6 || s.protocol == 0 => {
                if s.old == TcpState::CLOSE && s.new == TcpState::SYN_SENT {
                    // connect(): runs in the caller. The socket's memory is reused at once, so
                    // this is always a fresh entry.
                    let who = actor();
                    out.actor = who.clone();
                    out.client = who.clone().map(|p| (p, Basis::Socket));
                    out.client_local = s.local;
                    self.insert(
                        s.skaddr,
                        Connect {
                            process: who,
                            local: s.local,
                            remote: s.remote,
                            since_ns: ctx.time_ns,
                            state: s.new,
                            closed_ns: None,
                        },
                    );
                } else {
                    out.actor = actor();
                    if let Some(c) = self.sockets.get_mut(&s.skaddr) {
                        learn_local(c, s.local);
                        if c.state == TcpState::SYN_SENT && s.new != TcpState::SYN_SENT {
                            unindex(&mut self.connecting, c.remote, s.skaddr);
                        }
                        c.state = s.new;
                        out.client = c.process.clone().map(|p| (p, Basis::Socket));
                        out.client_local = c.local;
                    }
                    if s.new == TcpState::CLOSE
                        && let Some(c) = self.sockets.get_mut(&s.skaddr)
                    {
                        c.closed_ns = Some(ctx.time_ns);
                        self.closing.push_back((ctx.time_ns, s.skaddr));
                    }
                }
            }
            EventKind::SetState(_) => {}
            EventKind::ReceiveReset(r) => {
                out.actor = actor();
                if let Some(c) = self.sockets.get_mut(&r.skaddr) {
                    learn_local(c, r.local);
                    out.client = c.process.clone().map(|p| (p, Basis::Socket));
                    out.client_local = c.local;
                }
            }
            EventKind::SendReset(r) if r.skaddr != 0 => {
                out.actor = actor();
                if let Some(c) = self.sockets.get_mut(&r.skaddr) {
                    learn_local(c, r.src);
                    out.client = c.process.clone().map(|p| (p, Basis::Socket));
                    out.client_local = c.local;
                }
            }
            EventKind::SendReset(r) => {
                // No socket: the RST goes from the port nobody had to the client.
                if let (Some(from), Some(to)) = (r.src, r.dst) {
                    match self.match_client(from, to, ctx.pid) {
                        Match::One(sk, basis) => {
                            let c = self.sockets.get_mut(&sk).expect("matched key");
                            learn_local(c, Some(to));
                            out.client = c.process.clone().map(|p| (p, basis));
                            out.client_local = c.local;
                        }
                        Match::None => self.stats.no_socket_unmatched += 1,
                        Match::Ambiguous => self.stats.no_socket_ambiguous += 1,
                    }
                }
            }
            EventKind::ConnectExit(_) => {
                // The system call's exit runs in the caller: it is the client.
                let who = actor();
                out.client = who.clone().map(|p| (p, Basis::Context));
                out.actor = who;
            }
            EventKind::RetransmitSynack(_) | EventKind::KfreeSkb(_) => {}
        }
        Attributed {
            event,
            client: out.client,
            actor: out.actor,
            client_local: out.client_local,
        }
    }

    /// The SYN_SENT socket whose remote end is `from` and local end `to` (local port exact,
    /// or not yet known).
    fn match_client(&self, from: SocketAddr, to: SocketAddr, ctx_pid: u32) -> Match {
        let candidates = self.connecting.get(&from).map_or(&[][..], |v| &v[..]);
        // (socket, whether its local port is known and equal); a port not yet known (0)
        // matches loosely.
        let matching = || {
            candidates.iter().filter_map(move |&sk| {
                let c = self.sockets.get(&sk)?;
                if c.state != TcpState::SYN_SENT || c.remote != Some(from) {
                    return None;
                }
                let local = c.local?;
                if local.ip() != to.ip() {
                    return None;
                }
                if local.port() == to.port() {
                    Some((sk, true, c))
                } else if local.port() == 0 {
                    Some((sk, false, c))
                } else {
                    None
                }
            })
        };
        let mut exact = None;
        let (mut loose, mut loose_n) = (None, 0usize);
        for (sk, is_exact, _) in matching() {
            if is_exact {
                if exact.is_some() {
                    return Match::Ambiguous;
                }
                exact = Some(sk);
            } else {
                loose.get_or_insert(sk);
                loose_n += 1;
            }
        }
        if let Some(sk) = exact {
            return Match::One(sk, Basis::Addresses);
        }
        match (loose, loose_n) {
            (None, _) => Match::None,
            (Some(sk), 1) => Match::One(sk, Basis::Addresses),
            _ => {
                let mut mine = matching().filter(|(_, is_exact, c)| {
                    !is_exact && c.process.as_ref().is_some_and(|p| p.pid == ctx_pid)
                });
                match (mine.next(), mine.next()) {
                    (Some((sk, _, _)), None) => Match::One(sk, Basis::Context),
                    _ => Match::Ambiguous,
                }
            }
        }
    }

    /// Drops sockets closed more than the grace period before `now`.
    fn forget_closed(&mut self, now: u64) {
        while let Some(&(at, sk)) = self.closing.front() {
            if now.saturating_sub(at) < CLOSED_GRACE_NS {
                break;
            }
            self.closing.pop_front();
            if self
                .sockets
                .get(&sk)
                .is_some_and(|c| c.closed_ns == Some(at))
                && let Some(c) = self.sockets.remove(&sk)
                && c.state == TcpState::SYN_SENT
            {
                unindex(&mut self.connecting, c.remote, sk);
            }
        }
    }

    fn insert(&mut self, sk: u64, c: Connect) {
        if !self.sockets.contains_key(&sk) && self.sockets.len() >= self.cfg.max_sockets {
            let now = c.since_ns;
            let stale = self.cfg.stale_ns;
            let before = self.sockets.len();
            self.sockets
                .retain(|_, o| o.closed_ns.is_none() && now.saturating_sub(o.since_ns) < stale);
            self.stats.stale_dropped += (before - self.sockets.len()) as u64;
            let sockets = &self.sockets;
            self.connecting.retain(|_, v| {
                v.retain(|sk| sockets.contains_key(sk));
                !v.is_empty()
            });
            if self.sockets.len() >= self.cfg.max_sockets {
                self.stats.overflow += 1;
                return;
            }
        }
        if c.state == TcpState::SYN_SENT
            && let Some(remote) = c.remote
        {
            self.connecting.entry(remote).or_default().push(sk);
        }
        if let Some(old) = self.sockets.insert(sk, c)
            && old.state == TcpState::SYN_SENT
        {
            // The socket's memory was reused for a new connect() before its close was seen.
            unindex(&mut self.connecting, old.remote, sk);
            if let Some(remote) = self.sockets.get(&sk).and_then(|c| c.remote) {
                let v = self.connecting.entry(remote).or_default();
                if !v.contains(&sk) {
                    v.push(sk);
                }
            }
        }
    }
}

/// Remote ends whose emptied SYN_SENT list is kept.
const MAX_CONNECTING_KEYS: usize = 1024;

/// Takes `sk` out of the SYN_SENT index (once: a reused address may be listed again later).
fn unindex(connecting: &mut HashMap<SocketAddr, Vec<u64>>, remote: Option<SocketAddr>, sk: u64) {
    let Some(remote) = remote else { return };
    if let Some(v) = connecting.get_mut(&remote) {
        if let Some(i) = v.iter().position(|&x| x == sk) {
            v.swap_remove(i);
        }
        // An emptied list is kept for the next attempt to the same place (no allocation
        // per attempt), unless many places were seen.
        if v.is_empty() && connecting.len() > MAX_CONNECTING_KEYS {
            connecting.remove(&remote);
        }
    }
}

/// What [`Attribution::observe`] found, before it is paired with the event.
#[derive(Default)]
struct Who {
    client: Option<(Arc<Process>, Basis)>,
    actor: Option<Arc<Process>>,
    client_local: Option<SocketAddr>,
}

enum Match {
    One(u64, Basis),
    None,
    Ambiguous,
}

/// Takes the local end once its port is known (0 at CLOSE→SYN_SENT).
fn learn_local(c: &mut Connect, local: Option<SocketAddr>) {
    if let Some(l) = local
        && l.port() != 0
        && c.local.is_none_or(|old| old.port() == 0)
    {
        c.local = Some(l);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::kevent::{ReceiveReset, SendReset, SetState};

    fn p(pid: u32, comm: &str) -> Arc<Process> {
        Arc::new(Process {
            pid,
            comm: comm.into(),
            ..Process::default()
        })
    }

    fn ctx(pid: u32, t: u64, in_irq: bool) -> TaskContext {
        TaskContext {
            pid,
            tid: pid,
            time_ns: t,
            cpu: 0,
            in_irq,
        }
    }

    fn a(s: &str) -> Option<SocketAddr> {
        Some(s.parse().unwrap())
    }

    fn set_state(
        c: TaskContext,
        sk: u64,
        old: TcpState,
        new: TcpState,
        local: &str,
    ) -> KernelEvent {
        KernelEvent {
            ctx: c,
            kind: EventKind::SetState(SetState {
                skaddr: sk,
                old,
                new,
                protocol: 6,
                local: a(local),
                remote: a("127.0.0.1:7211"),
            }),
        }
    }

    fn no_socket(c: TaskContext, client: &str) -> KernelEvent {
        KernelEvent {
            ctx: c,
            kind: EventKind::SendReset(SendReset {
                skaddr: 0,
                state: None,
                reason: Some("NO_SOCKET".into()),
                src: a("127.0.0.1:7211"),
                dst: a(client),
            }),
        }
    }

    /// Names pids 4711 (collectord) and 99 (other); pid 0 is nobody.
    fn resolver() -> impl FnMut(&TaskContext) -> Option<Arc<Process>> {
        |c: &TaskContext| match c.pid {
            4711 => Some(p(4711, "collectord")),
            99 => Some(p(99, "other")),
            _ => None,
        }
    }

    /// The refused connect as observed on 6.18: set_state 7→2 (sport 0), send_reset NO_SOCKET
    /// (skaddr NULL, in softirq), receive_reset with the real port, set_state 2→7.
    fn refused(att: &mut Attribution, pid: u32, sk: u64, port: u16, t: u64) -> Vec<Attributed> {
        let mut r = resolver();
        let local = format!("127.0.0.1:{port}");
        vec![
            att.observe(
                set_state(
                    ctx(pid, t, false),
                    sk,
                    TcpState::CLOSE,
                    TcpState::SYN_SENT,
                    "127.0.0.1:0",
                ),
                &mut r,
            ),
            att.observe(no_socket(ctx(pid, t + 1, true), &local), &mut r),
            att.observe(
                KernelEvent {
                    ctx: ctx(pid, t + 2, true),
                    kind: EventKind::ReceiveReset(ReceiveReset {
                        skaddr: sk,
                        local: a(&local),
                        remote: a("127.0.0.1:7211"),
                        sock_cookie: Some(1),
                    }),
                },
                &mut r,
            ),
            att.observe(
                set_state(
                    ctx(pid, t + 3, true),
                    sk,
                    TcpState::SYN_SENT,
                    TcpState::CLOSE,
                    &local,
                ),
                &mut r,
            ),
        ]
    }

    #[test]
    fn a_refused_connect_is_attributed_at_every_step_and_the_socket_reused() {
        let mut att = Attribution::default();
        for (i, port) in [41838u16, 41840].into_iter().enumerate() {
            // The same skaddr both times: the kernel reuses the socket memory at once.
            let evs = refused(&mut att, 4711, 0xffff_0001, port, i as u64 * 100);
            for e in &evs {
                let (who, _) = e.client.as_ref().expect("client named");
                assert_eq!((who.pid, who.comm.as_str()), (4711, "collectord"));
            }
            assert_eq!(evs[1].client.as_ref().unwrap().1, Basis::Addresses);
            assert_eq!(evs[1].client_local, a(&format!("127.0.0.1:{port}")));
            assert_eq!(evs[3].client_local, a(&format!("127.0.0.1:{port}")));
            // Softirq: no actor claimed.
            assert!(evs[1].actor.is_none());
            assert_eq!(evs[0].actor.as_ref().unwrap().pid, 4711);
        }
        // The closed socket is kept for its grace period, then forgotten.
        assert_eq!(att.stats().sockets, 1);
        att.observe(
            no_socket(ctx(1, 2_000_000_000, true), "127.0.0.1:1"),
            &mut resolver(),
        );
        assert_eq!(att.stats().sockets, 0);
        assert_eq!(att.stats().no_socket_unmatched, 1);
    }

    #[test]
    fn two_clients_to_one_closed_port_are_told_apart() {
        let mut att = Attribution::default();
        let mut r = resolver();
        att.observe(
            set_state(
                ctx(4711, 1, false),
                1,
                TcpState::CLOSE,
                TcpState::SYN_SENT,
                "127.0.0.1:0",
            ),
            &mut r,
        );
        att.observe(
            set_state(
                ctx(99, 2, false),
                2,
                TcpState::CLOSE,
                TcpState::SYN_SENT,
                "127.0.0.1:0",
            ),
            &mut r,
        );
        // Both match by addresses; the RST ran in pid 99's softirq: the context decides.
        let e = att.observe(no_socket(ctx(99, 3, true), "127.0.0.1:5000"), &mut r);
        let (who, basis) = e.client.unwrap();
        assert_eq!((who.pid, basis), (99, Basis::Context));
        // Port 5000 is now known for pid 99's socket; the next RST to another port is 4711's.
        let e = att.observe(no_socket(ctx(0, 4, true), "127.0.0.1:5002"), &mut r);
        assert_eq!(e.client.unwrap().0.pid, 4711);
        // A RST to a client nobody here called: counted, not guessed.
        let e = att.observe(no_socket(ctx(0, 5, true), "10.0.0.9:1234"), &mut r);
        assert!(e.client.is_none());
        assert_eq!(att.stats().no_socket_unmatched, 1);
    }

    #[test]
    fn a_socket_reused_before_its_close_was_seen_is_matched_by_its_new_connect_only() {
        let mut att = Attribution::default();
        let mut r = resolver();
        // pid 99 connects to 7211 on socket 5; its close is never seen (lost, or not yet
        // read), and pid 4711's connect() reuses the memory for another destination.
        att.observe(
            set_state(
                ctx(99, 1, false),
                5,
                TcpState::CLOSE,
                TcpState::SYN_SENT,
                "127.0.0.1:0",
            ),
            &mut r,
        );
        let mut other = set_state(
            ctx(4711, 2, false),
            5,
            TcpState::CLOSE,
            TcpState::SYN_SENT,
            "127.0.0.1:0",
        );
        if let EventKind::SetState(st) = &mut other.kind {
            st.remote = a("127.0.0.1:9999");
        }
        att.observe(other, &mut r);
        // A RST from 7211 matches nobody now; one from 9999 is 4711's.
        let e = att.observe(no_socket(ctx(0, 3, true), "127.0.0.1:5000"), &mut r);
        assert!(e.client.is_none());
        let mut from_9999 = no_socket(ctx(0, 4, true), "127.0.0.1:5001");
        if let EventKind::SendReset(sr) = &mut from_9999.kind {
            sr.src = a("127.0.0.1:9999");
        }
        let e = att.observe(from_9999, &mut r);
        assert_eq!(e.client.unwrap().0.pid, 4711);
        // Its close takes it out of the index: a later RST from 9999 matches nobody.
        att.observe(
            set_state(
                ctx(4711, 5, false),
                5,
                TcpState::SYN_SENT,
                TcpState::CLOSE,
                "127.0.0.1:5001",
            ),
            &mut r,
        );
        assert!(att.connecting.values().all(|v| v.is_empty()));
    }

    #[test]
    fn an_abort_names_the_closing_process_not_the_interrupted_one() {
        let mut att = Attribution::default();
        let mut r = resolver();
        let abort = |c| KernelEvent {
            ctx: c,
            kind: EventKind::SendReset(SendReset {
                skaddr: 77,
                state: Some(TcpState::ESTABLISHED),
                reason: Some("TCP_ABORT_ON_CLOSE".into()),
                src: a("127.0.0.1:9090"),
                dst: a("127.0.0.1:40000"),
            }),
        };
        let e = att.observe(abort(ctx(4711, 1, false)), &mut r);
        assert_eq!(e.actor.unwrap().comm, "collectord");
        assert!(e.client.is_none());
        let e = att.observe(abort(ctx(99, 2, true)), &mut r);
        assert!(e.actor.is_none());
    }

    #[test]
    fn the_table_is_bounded_and_counts_what_it_dropped() {
        let mut att = Attribution::new(AttributionConfig {
            max_sockets: 2,
            stale_ns: 1000,
        });
        let mut r = resolver();
        for (sk, t) in [(1, 0), (2, 10), (3, 20)] {
            att.observe(
                set_state(
                    ctx(4711, t, false),
                    sk,
                    TcpState::CLOSE,
                    TcpState::SYN_SENT,
                    "127.0.0.1:0",
                ),
                &mut r,
            );
        }
        assert_eq!(att.stats().overflow, 1);
        assert_eq!(att.stats().sockets, 2);
        att.observe(
            set_state(
                ctx(4711, 5000, false),
                4,
                TcpState::CLOSE,
                TcpState::SYN_SENT,
                "127.0.0.1:0",
            ),
            &mut r,
        );
        assert_eq!(att.stats().stale_dropped, 2);
        assert_eq!(att.stats().sockets, 1);
    }
}
