//! The words for failed `connect()` calls per process and errno (the kernel summary's
//! `connect_errors`): one line per group, the errno by name and what it means for a client.

use crate::engine::fusion::ConnectErrors;
use crate::engine::summary::KernelSummary;

/// The symbolic name of a connect() errno and what it tells the user (Linux numbering).
pub fn errno_words(errno: i32) -> (&'static str, &'static str) {
    match errno {
        libc::EADDRNOTAVAIL => (
            "EADDRNOTAVAIL",
            "no free local port: ephemeral ports exhausted (net.ipv4.ip_local_port_range), or the source address is not on this host",
        ),
        libc::ECONNREFUSED => (
            "ECONNREFUSED",
            "refused: nothing listens there, or a RST answered",
        ),
        libc::ETIMEDOUT => (
            "ETIMEDOUT",
            "no answer to the SYNs: a drop on the way, or a host down",
        ),
        libc::EHOSTUNREACH => (
            "EHOSTUNREACH",
            "no route to the host, or an ICMP host unreachable",
        ),
        libc::ENETUNREACH => ("ENETUNREACH", "no route to the network"),
        libc::EACCES => (
            "EACCES",
            "denied before TCP: a firewall rule or a cgroup BPF program",
        ),
        libc::EPERM => (
            "EPERM",
            "denied before TCP: a firewall rule or a cgroup BPF program",
        ),
        libc::EADDRINUSE => ("EADDRINUSE", "the local address and port are taken"),
        libc::ENETDOWN => ("ENETDOWN", "the network is down"),
        libc::EALREADY => (
            "EALREADY",
            "a connect() was already under way on the socket",
        ),
        libc::EISCONN => ("EISCONN", "the socket was already connected"),
        libc::EINTR => ("EINTR", "interrupted by a signal"),
        libc::ECONNRESET => ("ECONNRESET", "reset during the handshake"),
        libc::EAFNOSUPPORT => ("EAFNOSUPPORT", "address family not supported"),
        libc::EINVAL => ("EINVAL", "invalid address or socket state"),
        libc::EBADF | libc::ENOTSOCK => ("EBADF", "not a socket descriptor"),
        _ => ("", "another error"),
    }
}

/// Lines for the summary: `connect() failed in curl[4711]: EADDRNOTAVAIL ×120 (no free local
/// port: …)`, at most `max`, and what was not watched or left out.
pub fn connect_error_lines(k: &KernelSummary, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    if !k.connect_errors_watched {
        out.push(
            "connect() errors per process: not watched (no syscalls:sys_exit_connect tracepoint: CONFIG_FTRACE_SYSCALLS off, or it could not be opened)"
                .to_string(),
        );
    }
    if !k.connect_errors.is_empty() {
        // The system call's tracepoint is global, and a process's namespace is known only
        // when procfs could be read: say so.
        out.push(
            "failed connect() calls by process (kernel: sys_exit_connect; processes of any network namespace unless known to be in another):"
                .to_string(),
        );
    }
    for e in k.connect_errors.iter().take(max) {
        out.push(format!("  {}", line(e)));
    }
    if k.connect_errors.len() > max {
        out.push(format!(
            "  … and {} more connect() error groups (see --json)",
            k.connect_errors.len() - max
        ));
    }
    if k.connect_errors_elsewhere > 0 {
        out.push(format!(
            "{} failed connect() calls by processes of other network namespaces left out",
            k.connect_errors_elsewhere
        ));
    }
    out
}

fn line(e: &ConnectErrors) -> String {
    let who = if !e.named {
        format!("pid {} (gone before it could be named)", e.process.pid)
    } else if e.processes > 1 {
        let pids: Vec<String> = e.pids.iter().map(|p| p.to_string()).collect();
        format!(
            "{} ({} processes: pids {}{})",
            e.process.comm,
            e.processes,
            pids.join(", "),
            if e.processes as usize > e.pids.len() {
                ", …"
            } else {
                ""
            }
        )
    } else {
        e.process.label()
    };
    let (name, meaning) = errno_words(e.errno);
    let name = if name.is_empty() {
        format!("errno {}", e.errno)
    } else {
        name.to_string()
    };
    format!("connect() failed in {who}: {name} ×{} ({meaning})", e.count)
}
