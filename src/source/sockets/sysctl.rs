//! The sysctls that bound listeners: `net.core.somaxconn`, `net.ipv4.tcp_max_syn_backlog`,
//! `net.ipv4.tcp_abort_on_overflow`, `net.ipv4.tcp_syncookies`. All four are per network
//! namespace, and `/proc/sys/net` shows the namespace of the thread that opens the file: read
//! them from a thread inside the namespace wanted.

use crate::engine::listeners::ListenSysctls;
use std::path::Path;

/// (sysctl name, path under /proc/sys).
pub const NAMES: [(&str, &str); 4] = [
    ("net.core.somaxconn", "net/core/somaxconn"),
    (
        "net.ipv4.tcp_max_syn_backlog",
        "net/ipv4/tcp_max_syn_backlog",
    ),
    (
        "net.ipv4.tcp_abort_on_overflow",
        "net/ipv4/tcp_abort_on_overflow",
    ),
    ("net.ipv4.tcp_syncookies", "net/ipv4/tcp_syncookies"),
];

/// Reads the four under `proc_sys` (normally `/proc/sys`). Each one that cannot be read is
/// `None`, and its name and the reason go to `notes`.
pub fn read(proc_sys: &Path, notes: &mut Vec<String>) -> ListenSysctls {
    let mut vals = [None; 4];
    for (val, (name, rel)) in vals.iter_mut().zip(NAMES) {
        match std::fs::read_to_string(proc_sys.join(rel)) {
            Ok(text) => match parse_value(&text) {
                Some(v) => *val = Some(v),
                None => notes.push(format!("{name}: not a number")),
            },
            Err(e) => notes.push(format!("{name}: cannot read: {e}")),
        }
    }
    ListenSysctls {
        somaxconn: vals[0],
        tcp_max_syn_backlog: vals[1],
        tcp_abort_on_overflow: vals[2],
        tcp_syncookies: vals[3],
    }
}

/// One unsigned number and a newline.
fn parse_value(text: &str) -> Option<u32> {
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_and_bad_ones_are_noted() {
        assert_eq!(parse_value("4096\n"), Some(4096));
        assert_eq!(parse_value("-1\n"), None);
        assert_eq!(parse_value(""), None);
        let mut notes = Vec::new();
        let s = read(Path::new("/nonexistent-rsthound"), &mut notes);
        assert_eq!(s, ListenSysctls::default());
        assert_eq!(notes.len(), 4);
        assert!(notes[0].starts_with("net.core.somaxconn: cannot read"));
    }

    #[test]
    fn reads_this_namespace() {
        let mut notes = Vec::new();
        let s = read(Path::new("/proc/sys"), &mut notes);
        assert!(notes.is_empty(), "{notes:?}");
        let direct: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(s.somaxconn, Some(direct));
    }
}
