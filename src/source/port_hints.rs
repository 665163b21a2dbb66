//! Reads what the port hints are made from (`engine::port_hints` matches): `/etc/services`,
//! systemd socket units, and running processes' command lines, each read bounded (file count
//! and size) so a host with thousands of units or processes costs a bounded scan. What was cut
//! short is counted and said.

use crate::engine::port_hints::{cmdline_hint, services_hint, unit_hint};
use crate::sanitize::sanitize_text;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The directories systemd reads socket units from.
pub const UNIT_DIRS: [&str; 3] = [
    "/etc/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
];
/// Bytes read of one file (a services file, a unit, a command line).
pub const MAX_FILE: u64 = 256 * 1024;
/// Socket units read over all directories.
pub const MAX_UNITS: usize = 2_048;
/// Processes whose command line is read.
pub const MAX_PROCS: usize = 8_192;
/// Hints given per port.
pub const MAX_HINTS: usize = 4;

/// Where to look (tests point it at fixture directories).
#[derive(Debug, Clone)]
pub struct HintPaths {
    pub services: PathBuf,
    pub unit_dirs: Vec<PathBuf>,
    pub proc: PathBuf,
}

impl Default for HintPaths {
    fn default() -> Self {
        HintPaths {
            services: PathBuf::from("/etc/services"),
            unit_dirs: UNIT_DIRS.iter().map(PathBuf::from).collect(),
            proc: PathBuf::from("/proc"),
        }
    }
}

/// The hints for one port and what the scan could not cover.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PortHints {
    pub hints: Vec<String>,
    /// Files or processes not read because a bound was reached.
    pub skipped: u64,
}

fn read_bounded(path: &Path) -> Option<Vec<u8>> {
    let f = std::fs::File::open(path).ok()?;
    let mut buf = Vec::new();
    f.take(MAX_FILE).read_to_end(&mut buf).ok()?;
    Some(buf)
}

/// Looks for hints about tcp/`port` in `paths`.
pub fn hints_for(paths: &HintPaths, port: u16) -> PortHints {
    let mut out = PortHints::default();
    let push = |out: &mut PortHints, h: String| {
        if out.hints.len() < MAX_HINTS && !out.hints.contains(&h) {
            out.hints.push(h);
        }
    };
    if let Some(b) = read_bounded(&paths.services)
        && let Some(h) = services_hint(&String::from_utf8_lossy(&b), port)
    {
        push(&mut out, sanitize_text(h.as_bytes(), 300));
    }
    let mut units = 0usize;
    for dir in &paths.unit_dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut names: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "socket"))
            .collect();
        names.sort();
        for p in names {
            if units >= MAX_UNITS {
                out.skipped += 1;
                continue;
            }
            units += 1;
            let Some(b) = read_bounded(&p) else { continue };
            let unit = p
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            if let Some(h) = unit_hint(&unit, &String::from_utf8_lossy(&b), port) {
                push(&mut out, sanitize_text(h.as_bytes(), 300));
            }
        }
    }
    let Ok(entries) = std::fs::read_dir(&paths.proc) else {
        return out;
    };
    let mut procs = 0usize;
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if procs >= MAX_PROCS {
            out.skipped += 1;
            continue;
        }
        procs += 1;
        let Some(raw) = read_bounded(&e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = raw
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| sanitize_text(a, 200))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let comm = read_bounded(&e.path().join("comm"))
            .map(|c| sanitize_text(c.trim_ascii_end(), 64))
            .unwrap_or_else(|| "?".to_string());
        if let Some(h) = cmdline_hint(&comm, pid, &args, port) {
            push(&mut out, h);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_give_one_hint_of_each_kind() {
        let dir = std::env::temp_dir().join(format!("rsth-hints-{}", std::process::id()));
        let units = dir.join("units");
        let proc = dir.join("proc");
        std::fs::create_dir_all(&units).unwrap();
        std::fs::create_dir_all(proc.join("812")).unwrap();
        std::fs::create_dir_all(proc.join("self")).unwrap();
        std::fs::write(dir.join("services"), "collector 7211/tcp\n").unwrap();
        std::fs::write(
            units.join("collector.socket"),
            "[Socket]\nListenStream=7211\n",
        )
        .unwrap();
        std::fs::write(units.join("other.service"), "ListenStream=7211\n").unwrap();
        std::fs::write(
            proc.join("812/cmdline"),
            b"/opt/agent\x00--port\x007211\x00",
        )
        .unwrap();
        std::fs::write(proc.join("812/comm"), "collector-agent\n").unwrap();
        let paths = HintPaths {
            services: dir.join("services"),
            unit_dirs: vec![units, dir.join("absent")],
            proc,
        };
        let got = hints_for(&paths, 7211);
        assert_eq!(
            got.hints,
            vec![
                "hint: tcp/7211 is named collector in /etc/services",
                "hint: tcp/7211 appears in collector.socket (ListenStream=7211)",
                "hint: tcp/7211 appears in the command line of collector-agent (pid 812): --port 7211",
            ]
        );
        assert_eq!(got.skipped, 0);
        assert!(hints_for(&paths, 7212).hints.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
