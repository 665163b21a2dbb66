//! The capabilities kernel events need, checked before anything is opened: system-wide
//! tracepoints need CAP_PERFMON (5.8+) or CAP_SYS_ADMIN. One line per missing capability, with
//! the exact `setcap` that grants what `watch` needs (CAP_NET_RAW for packets as well).

/// Capability numbers (include/uapi/linux/capability.h).
pub const CAP_NET_RAW: u32 = 13;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_PERFMON: u32 = 38;

/// The effective set from `/proc/self/status` (`CapEff:\t000001fffeffffff`).
pub fn parse_cap_eff(status: &str) -> Option<u64> {
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?.trim();
    u64::from_str_radix(hex, 16).ok()
}

pub fn has(eff: u64, cap: u32) -> bool {
    cap < 64 && eff & (1 << cap) != 0
}

/// The `setcap` command that grants `watch` what it needs.
pub fn setcap_hint(binary: &str) -> String {
    format!("setcap cap_net_raw,cap_perfmon+ep {binary}")
}

/// One line per capability kernel events lack, empty when they can run.
pub fn missing_for_kernel_events(eff: u64, binary: &str) -> Vec<String> {
    if has(eff, CAP_PERFMON) || has(eff, CAP_SYS_ADMIN) {
        return Vec::new();
    }
    vec![format!(
        "kernel events off: missing CAP_PERFMON (reading tracepoints: why each RST was sent, which process connected); grant it with: {}",
        setcap_hint(binary)
    )]
}

/// The check for the running process: reads `/proc/self/status`. An unreadable status counts
/// as no capability.
pub fn check_kernel_events(binary: &str) -> Vec<String> {
    let eff = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| parse_cap_eff(&s))
        .unwrap_or(0);
    missing_for_kernel_events(eff, binary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_effective_set_and_names_the_missing_capability() {
        let root = "CapInh:\t0000000000000000\nCapEff:\t000001fffeffffff\n";
        let eff = parse_cap_eff(root).unwrap();
        assert!(has(eff, CAP_PERFMON) && has(eff, CAP_NET_RAW));
        assert!(missing_for_kernel_events(eff, "/usr/bin/rsthound").is_empty());
        let only_raw = 1u64 << CAP_NET_RAW;
        let lines = missing_for_kernel_events(only_raw, "/usr/bin/rsthound");
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("CAP_PERFMON"));
        assert!(lines[0].ends_with("setcap cap_net_raw,cap_perfmon+ep /usr/bin/rsthound"));
        assert!(missing_for_kernel_events(1 << CAP_SYS_ADMIN, "x").is_empty());
        assert_eq!(parse_cap_eff("CapEff:\tzz\n"), None);
        assert_eq!(parse_cap_eff(""), None);
    }
}
