//! The capabilities kernel events need, checked before anything is opened: system-wide
//! tracepoints need CAP_PERFMON (5.8+) or CAP_SYS_ADMIN, and their `format` files under tracefs
//! are readable by root only on most systems (6.18 here: the directory 0700, the files 0440), so
//! a non-root process also needs CAP_DAC_READ_SEARCH (or tracefs mounted with `gid=`/`mode=`
//! that let it read). One line per missing capability, with the exact `setcap` that grants what
//! `watch` needs (CAP_NET_RAW for packets as well).

/// Capability numbers (include/uapi/linux/capability.h).
pub const CAP_DAC_OVERRIDE: u32 = 1;
pub const CAP_DAC_READ_SEARCH: u32 = 2;
pub const CAP_NET_RAW: u32 = 13;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_PERFMON: u32 = 38;

/// The effective set from `/proc/self/status` (`CapEff:\t000001fffeffffff`).
pub fn parse_cap_eff(status: &str) -> Option<u64> {
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))?
        .trim();
    u64::from_str_radix(hex, 16).ok()
}

pub fn has(eff: u64, cap: u32) -> bool {
    cap < 64 && eff & (1 << cap) != 0
}

/// The `setcap` command that grants `watch` what it needs; `dac` when tracefs is root-only.
pub fn setcap_hint(binary: &str, dac: bool) -> String {
    if dac {
        format!("setcap cap_net_raw,cap_perfmon,cap_dac_read_search+ep {binary}")
    } else {
        format!("setcap cap_net_raw,cap_perfmon+ep {binary}")
    }
}

/// One line per capability kernel events lack, empty when they can run. `tracefs_denied`:
/// reading a tracepoint's format file failed with a permission error.
pub fn missing_for_kernel_events(eff: u64, tracefs_denied: bool, binary: &str) -> Vec<String> {
    let dac = tracefs_denied && !has(eff, CAP_DAC_READ_SEARCH) && !has(eff, CAP_DAC_OVERRIDE);
    let mut lines = Vec::new();
    if !has(eff, CAP_PERFMON) && !has(eff, CAP_SYS_ADMIN) {
        lines.push(format!(
            "kernel events off: missing CAP_PERFMON (reading tracepoints: why each RST was sent, which process connected); grant it with: {}",
            setcap_hint(binary, dac)
        ));
    }
    if dac {
        lines.push(format!(
            "kernel events off: missing CAP_DAC_READ_SEARCH (the tracepoints' format files under /sys/kernel/tracing are readable by root only); grant it with: {} (or mount tracefs with gid=GROUP,mode=0750 for a group this user is in)",
            setcap_hint(binary, dac)
        ));
    }
    lines
}

/// The check for the running process: reads `/proc/self/status` and tries one format file. An
/// unreadable status counts as no capability.
pub fn check_kernel_events(tracefs: &std::path::Path, binary: &str) -> Vec<String> {
    let eff = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| parse_cap_eff(&s))
        .unwrap_or(0);
    let denied = std::fs::read(tracefs.join("events/tcp/tcp_send_reset/format"))
        .is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied);
    missing_for_kernel_events(eff, denied, binary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_effective_set_and_names_the_missing_capability() {
        let root = "CapInh:\t0000000000000000\nCapEff:\t000001fffeffffff\n";
        let eff = parse_cap_eff(root).unwrap();
        assert!(has(eff, CAP_PERFMON) && has(eff, CAP_NET_RAW));
        assert!(missing_for_kernel_events(eff, false, "/usr/bin/rsthound").is_empty());
        // Root reads tracefs through CAP_DAC_OVERRIDE even when the mode says no.
        assert!(missing_for_kernel_events(eff, true, "/usr/bin/rsthound").is_empty());
        let only_raw = 1u64 << CAP_NET_RAW;
        let lines = missing_for_kernel_events(only_raw, false, "/usr/bin/rsthound");
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("CAP_PERFMON"));
        assert!(lines[0].ends_with("setcap cap_net_raw,cap_perfmon+ep /usr/bin/rsthound"));
        assert!(missing_for_kernel_events(1 << CAP_SYS_ADMIN, false, "x").is_empty());
        // setcap'd with CAP_PERFMON only, on a root-only tracefs: one line, for DAC.
        let perfmon = only_raw | 1 << CAP_PERFMON;
        let lines = missing_for_kernel_events(perfmon, true, "/usr/bin/rsthound");
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("CAP_DAC_READ_SEARCH"));
        assert!(
            lines[0].contains(
                "setcap cap_net_raw,cap_perfmon,cap_dac_read_search+ep /usr/bin/rsthound"
            )
        );
        assert_eq!(missing_for_kernel_events(only_raw, true, "b").len(), 2);
        assert_eq!(parse_cap_eff("CapEff:\tzz\n"), None);
        assert_eq!(parse_cap_eff(""), None);
    }
}
