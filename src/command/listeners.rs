//! `rsthound listeners`: every listening TCP socket of the host or of a `--netns`, with its
//! accept queue against its backlog, its drops, the processes holding it and a verdict on the
//! queue; the sysctls that bound listeners on top; what could not be seen at the bottom.

use crate::sanitize::sanitize_text;
use crate::sink::listeners::{text::write_text, write_json};
use crate::source::sockets::{NetlinkSockets, SocketSource};
use std::io::{self, Write};

/// `CAP_SYS_PTRACE`, `CAP_SYS_ADMIN` (linux/capability.h).
const CAP_SYS_PTRACE: u32 = 19;
const CAP_SYS_ADMIN: u32 = 21;

#[derive(Debug, Clone, Default)]
pub struct ListenersOptions {
    /// `--netns NAME|PATH|PID`.
    pub netns: Option<String>,
    pub json: bool,
}

/// The command from the CLI: checks privileges, takes the real snapshot, prints it.
pub fn run_cli(opts: &ListenersOptions) -> i32 {
    let mut err = io::stderr();
    let caps = effective_caps();
    let mut missing = Vec::new();
    for line in privilege_lines(caps, opts.netns.is_some(), &exe_path()) {
        let _ = writeln!(err, "rsthound: {line}");
        missing.push(line);
    }
    let netns = opts.netns.as_deref().map(crate::command::watch::netns_path);
    let mut source = NetlinkSockets::new(netns);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    run(opts, &mut source, &missing, &mut out, &mut err)
}

/// One snapshot from `source`, printed to `out`; errors to `err`. `missing` are the privilege
/// lines already printed, repeated among the notes. Exit code: 0, or 1 when the source failed.
pub fn run(
    opts: &ListenersOptions,
    source: &mut dyn SocketSource,
    missing: &[String],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let mut snap = match source.snapshot() {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(err, "rsthound: {e}");
            return 1;
        }
    };
    snap.notes.extend(missing.iter().cloned());
    let netns = opts
        .netns
        .as_deref()
        .map(|n| sanitize_text(n.as_bytes(), 256));
    let r = if opts.json {
        write_json(out, &snap, netns.as_deref())
    } else {
        write_text(out, &snap, netns.as_deref())
    };
    match r.and_then(|_| out.flush()) {
        Ok(()) => 0,
        // A closed pipe (`| head`) is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            let _ = writeln!(err, "rsthound: cannot write the output: {e}");
            1
        }
    }
}

/// The effective capability set from /proc/self/status (`CapEff:` in hex); `None` if unreadable.
fn effective_caps() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))?
        .trim();
    u64::from_str_radix(hex, 16).ok()
}

fn exe_path() -> String {
    std::env::current_exe()
        .map(|p| sanitize_text(p.as_os_str().as_encoded_bytes(), 256))
        .unwrap_or_else(|_| "$(command -v rsthound)".to_string())
}

/// One line per missing capability, with what is off and the setcap command that grants it.
pub fn privilege_lines(caps: Option<u64>, netns: bool, exe: &str) -> Vec<String> {
    let has = |bit: u32| caps.is_some_and(|c| c & (1 << bit) != 0);
    let mut lines = Vec::new();
    if !has(CAP_SYS_PTRACE) {
        lines.push(format!(
            "without CAP_SYS_PTRACE, listeners of other users' processes show no process: run as root, or sudo setcap cap_sys_ptrace+ep {exe}"
        ));
    }
    if netns && !has(CAP_SYS_ADMIN) {
        lines.push(format!(
            "--netns needs CAP_SYS_ADMIN to enter the namespace: run as root, or sudo setcap cap_sys_admin,cap_sys_ptrace+ep {exe}"
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::listeners::{ListenSysctls, Listener, ListenerKey, Owner, Snapshot};
    use crate::source::sockets::{FakeSockets, OwnersSeen};
    use std::net::{IpAddr, Ipv6Addr};

    fn snapshot() -> Snapshot {
        Snapshot {
            listeners: vec![Listener {
                key: ListenerKey {
                    addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
                    port: 7211,
                },
                inode: 77,
                uid: 1000,
                ifindex: 0,
                queue: 2,
                backlog: 1,
                drops: Some(48),
                owners: vec![Owner {
                    pid: 812,
                    comm: "collector-agent".into(),
                    cmdline: "collector-agent --port 7211".into(),
                    uid: Some(1000),
                    cgroup: Some("/system.slice/collector.service".into()),
                }],
            }],
            sysctls: ListenSysctls {
                somaxconn: Some(4096),
                tcp_max_syn_backlog: Some(512),
                tcp_abort_on_overflow: Some(0),
                tcp_syncookies: Some(1),
            },
            notes: vec!["3 processes could not be looked into".into()],
            owners: OwnersSeen::default(),
        }
    }

    fn run_fake(json: bool) -> (i32, String) {
        let mut src = FakeSockets::default();
        src.snapshots.push_back(snapshot());
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let opts = ListenersOptions { netns: None, json };
        let code = run(&opts, &mut src, &[], &mut out, &mut err);
        (code, String::from_utf8(out).unwrap())
    }

    #[test]
    fn text_names_the_full_listener_and_what_to_raise() {
        let (code, out) = run_fake(false);
        assert_eq!(code, 0);
        assert!(out.contains("net.core.somaxconn = 4096"), "{out}");
        assert!(out.contains("[::1]:7211"), "{out}");
        assert!(out.contains("2/1"), "{out}");
        assert!(out.contains("FULL"), "{out}");
        assert!(out.contains("collector-agent (pid 812)"), "{out}");
        assert!(out.contains("raise the backlog the application passes to listen() (now 1"));
        assert!(out.contains("not seen:\n  3 processes could not be looked into"));
    }

    #[test]
    fn json_has_sysctls_listener_and_summary() {
        let (code, out) = run_fake(true);
        assert_eq!(code, 0);
        let objs: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(objs[0]["type"], "sysctls");
        assert_eq!(objs[0]["somaxconn"], 4096);
        assert_eq!(objs[1]["type"], "listener");
        assert_eq!(objs[1]["address"], "::1");
        assert_eq!(objs[1]["state"], "full");
        assert_eq!(objs[1]["advice"][0], "raise_listen_backlog");
        assert_eq!(objs[1]["processes"][0]["pid"], 812);
        assert_eq!(objs[2]["type"], "summary");
        assert_eq!(objs[2]["full"], 1);
    }

    #[test]
    fn a_failed_source_exits_1_with_one_line() {
        let mut src = FakeSockets::default();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run(
            &ListenersOptions::default(),
            &mut src,
            &[],
            &mut out,
            &mut err,
        );
        assert_eq!(code, 1);
        assert_eq!(String::from_utf8(err).unwrap().lines().count(), 1);
    }

    #[test]
    fn missing_capabilities_each_get_a_setcap_line() {
        let lines = privilege_lines(Some(0), true, "/usr/bin/rsthound");
        assert_eq!(lines.len(), 2);
        assert!(lines[0].contains("sudo setcap cap_sys_ptrace+ep /usr/bin/rsthound"));
        assert!(lines[1].contains("CAP_SYS_ADMIN"));
        let all = (1 << CAP_SYS_PTRACE) | (1 << CAP_SYS_ADMIN);
        assert!(privilege_lines(Some(all), true, "x").is_empty());
    }
}
