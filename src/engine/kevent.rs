//! What the kernel said, as the engine sees it: typed tracepoint events (a RST the stack sent or
//! received, a socket's state change, a SYN-ACK retransmitted, a packet dropped with a reason)
//! with the task context they ran in, and the process behind them. Vocabulary shared by the
//! kernel-events source (which decodes records into it) and the engine (which attributes and
//! fuses it); no IO.

use std::net::SocketAddr;
use std::sync::Arc;

/// A TCP state as the kernel numbers it (`include/net/tcp_states.h`, part of the ABI that `ss`
/// and sock_diag expose: the numbers never changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcpState(pub u8);

impl TcpState {
    pub const ESTABLISHED: TcpState = TcpState(1);
    pub const SYN_SENT: TcpState = TcpState(2);
    pub const SYN_RECV: TcpState = TcpState(3);
    pub const FIN_WAIT1: TcpState = TcpState(4);
    pub const FIN_WAIT2: TcpState = TcpState(5);
    pub const TIME_WAIT: TcpState = TcpState(6);
    pub const CLOSE: TcpState = TcpState(7);
    pub const CLOSE_WAIT: TcpState = TcpState(8);
    pub const LAST_ACK: TcpState = TcpState(9);
    pub const LISTEN: TcpState = TcpState(10);
    pub const CLOSING: TcpState = TcpState(11);
    pub const NEW_SYN_RECV: TcpState = TcpState(12);

    pub fn name(self) -> &'static str {
        const NAMES: [&str; 13] = [
            "UNKNOWN",
            "ESTABLISHED",
            "SYN_SENT",
            "SYN_RECV",
            "FIN_WAIT1",
            "FIN_WAIT2",
            "TIME_WAIT",
            "CLOSE",
            "CLOSE_WAIT",
            "LAST_ACK",
            "LISTEN",
            "CLOSING",
            "NEW_SYN_RECV",
        ];
        NAMES.get(usize::from(self.0)).copied().unwrap_or("UNKNOWN")
    }
}

/// Where and when a tracepoint fired. `pid`/`tid` are the task that was current: the actor only
/// when `in_irq` is false (in softirq the current task is whoever was interrupted, except on
/// loopback where the softirq often runs in the sender's own system call).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaskContext {
    pub pid: u32,
    pub tid: u32,
    /// Nanoseconds of the perf clock the source chose (see the source's `clock`).
    pub time_ns: u64,
    pub cpu: u32,
    /// Hard or soft interrupt or NMI (`common_flags`).
    pub in_irq: bool,
}

/// `tcp:tcp_send_reset`: the TCP stack sent a RST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReset {
    /// The socket; 0 for a RST sent for no socket (NO_SOCKET, 6.10+).
    pub skaddr: u64,
    /// The socket's state (meaningless without a socket).
    pub state: Option<TcpState>,
    /// `enum sk_rst_reason` by name; `None` on kernels before 6.10 (no such field) or a value
    /// the format file does not name.
    pub reason: Option<Arc<str>>,
    /// The RST's source and destination. Without a socket the kernel takes them from the packet
    /// that caused the RST, reversed, so they are still the RST's own direction.
    pub src: Option<SocketAddr>,
    pub dst: Option<SocketAddr>,
}

/// `tcp:tcp_receive_reset`: a local socket got a RST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiveReset {
    pub skaddr: u64,
    /// The socket's local and remote ends.
    pub local: Option<SocketAddr>,
    pub remote: Option<SocketAddr>,
    pub sock_cookie: Option<u64>,
}

/// `sock:inet_sock_set_state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetState {
    pub skaddr: u64,
    pub old: TcpState,
    pub new: TcpState,
    /// IPPROTO_TCP = 6 (the tracepoint also fires for SCTP and MPTCP).
    pub protocol: u16,
    /// Local and remote ends; the local port is 0 at CLOSE→SYN_SENT (chosen right after).
    pub local: Option<SocketAddr>,
    pub remote: Option<SocketAddr>,
}

/// `tcp:tcp_retransmit_synack`: a listener retransmitted a SYN-ACK (the client's ACK is late or
/// was dropped, e.g. by a full accept queue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetransmitSynack {
    /// The listener.
    pub skaddr: u64,
    pub local: Option<SocketAddr>,
    pub remote: Option<SocketAddr>,
}

/// `skb:kfree_skb`: a packet dropped, with `enum skb_drop_reason` by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KfreeSkb {
    pub reason: Option<Arc<str>>,
    /// The packet's ethertype (0x0800, 0x86dd).
    pub protocol: u16,
    /// The receiving socket (6.11+), 0 when none.
    pub rx_sk: Option<u64>,
}

/// `syscalls:sys_exit_connect`: a `connect()` returned, in the caller's own context. The
/// source's kernel filter lets through only the failures in [`CONNECT_ERRNOS`], so that
/// successful connects and non-blocking ones under way (EINPROGRESS) cost nothing. A
/// non-blocking connect's later failure is not a return of connect(): it is not seen here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectExit {
    /// The system call's return value: `-errno` on failure.
    pub ret: i64,
}

/// The connect() errors counted: those of TCP/IP connects (Linux numbers, the same on every
/// architecture but alpha, mips, parisc and sparc). The system call is the same for every
/// socket family and its tracepoint does not say which, so errors that are mostly AF_UNIX's
/// (ENOENT: no such socket file, which every name lookup without nscd makes) are left out.
pub const CONNECT_ERRNOS: [i32; 10] = [
    1,   // EPERM: a firewall rule, a cgroup BPF program
    13,  // EACCES: the same, or a broadcast address
    98,  // EADDRINUSE: the local address and port are taken
    99,  // EADDRNOTAVAIL: no free local port, or the source address is not here
    100, // ENETDOWN
    101, // ENETUNREACH
    104, // ECONNRESET
    110, // ETIMEDOUT
    111, // ECONNREFUSED
    113, // EHOSTUNREACH
];

impl ConnectExit {
    /// The error of a failed connect() that is one of [`CONNECT_ERRNOS`]: `None` for a
    /// success, a connect under way (EINPROGRESS) or another error.
    pub fn errno(&self) -> Option<i32> {
        let e = i32::try_from(self.ret.checked_neg()?).ok()?;
        CONNECT_ERRNOS.contains(&e).then_some(e)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    SendReset(SendReset),
    ReceiveReset(ReceiveReset),
    SetState(SetState),
    RetransmitSynack(RetransmitSynack),
    KfreeSkb(KfreeSkb),
    ConnectExit(ConnectExit),
}

/// One decoded tracepoint record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelEvent {
    pub ctx: TaskContext,
    pub kind: EventKind,
}

/// A process as far as it is known. Text fields are already sanitized for a terminal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Process {
    pub pid: u32,
    pub comm: String,
    /// Full command line (arguments joined by spaces); `None` when the process was gone before
    /// it could be read.
    pub cmdline: Option<String>,
    pub uid: Option<u32>,
    /// cgroup v2 path (`/system.slice/x.service`), a container's identity.
    pub cgroup: Option<String>,
    /// Start time in clock ticks since boot (`/proc/PID/stat` field 22): with the pid, it names
    /// one process even after the pid is reused.
    pub start_time: Option<u64>,
    /// The network namespace inode (`/proc/PID/ns/net`).
    pub netns: Option<u64>,
}

impl Process {
    /// `collectord[4711]`.
    pub fn label(&self) -> String {
        format!("{}[{}]", self.comm, self.pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_tcp_ip_errors_of_connect_count() {
        let e = |ret| ConnectExit { ret }.errno();
        assert_eq!(e(-99), Some(99));
        assert_eq!(e(-111), Some(111));
        assert_eq!(e(0), None);
        assert_eq!(e(-115), None, "EINPROGRESS");
        assert_eq!(e(-2), None, "ENOENT: an AF_UNIX socket file");
        assert_eq!(e(i64::MIN), None);
        assert_eq!(e(7), None);
    }
}
