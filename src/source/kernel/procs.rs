//! Who a pid is: procfs lookups (command, command line, uid, cgroup, start time, network
//! namespace) behind a bounded cache that the perf ring's task records keep honest. A COMM record
//! (exec, rename) names a process the moment it execs, so one that connects and exits within a
//! millisecond is still named when its events are read later, when `/proc/PID` is gone; a FORK
//! record starts a fresh entry, which is how a reused pid is told from the process that had it.
//! Names and command lines go through [`sanitize_text`].

use crate::engine::kevent::Process;
use crate::sanitize::sanitize_text;
use foldhash::{HashMap, HashMapExt};
use std::path::PathBuf;
use std::sync::Arc;

/// Longest command shown (the kernel keeps 15 bytes).
const COMM_CHARS: usize = 64;
/// Command lines are read up to this many bytes and shown up to this many characters.
const CMDLINE_BYTES: usize = 4096;
const CMDLINE_CHARS: usize = 512;
const CGROUP_CHARS: usize = 256;

/// Reads what procfs says of a pid. A trait so the cache is tested without procfs.
pub trait ProcReader {
    /// `None` when the process is gone (or unreadable).
    fn read(&mut self, pid: u32) -> Option<Process>;
}

/// The real procfs (`/proc`, or another mount point).
#[derive(Debug, Clone)]
pub struct Procfs {
    pub root: PathBuf,
}

impl Default for Procfs {
    fn default() -> Self {
        Procfs {
            root: PathBuf::from("/proc"),
        }
    }
}

fn read_capped(path: &std::path::Path, cap: usize) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(cap as u64)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

impl ProcReader for Procfs {
    fn read(&mut self, pid: u32) -> Option<Process> {
        let dir = self.root.join(pid.to_string());
        // stat first: it names the process (comm) and its start time in one read; if it is
        // gone, so is the process.
        let stat = read_capped(&dir.join("stat"), 4096)?;
        let (comm, start_time) = parse_stat(&stat)?;
        let cmdline = read_capped(&dir.join("cmdline"), CMDLINE_BYTES).map(|b| parse_cmdline(&b));
        let uid = read_capped(&dir.join("status"), 16 << 10)
            .and_then(|b| parse_status_uid(&String::from_utf8_lossy(&b)));
        let cgroup = read_capped(&dir.join("cgroup"), 16 << 10).and_then(|b| parse_cgroup(&b));
        let netns = std::fs::read_link(dir.join("ns/net"))
            .ok()
            .and_then(|l| parse_ns_link(&l.to_string_lossy()));
        Some(Process {
            pid,
            comm,
            cmdline: cmdline.filter(|c| !c.is_empty()),
            uid,
            cgroup,
            start_time: Some(start_time),
            netns,
        })
    }
}

/// `/proc/PID/stat`: the command between the first `(` and the last `)` (it may hold spaces and
/// parentheses), and field 22, the start time in clock ticks since boot.
pub fn parse_stat(b: &[u8]) -> Option<(String, u64)> {
    let open = b.iter().position(|&c| c == b'(')?;
    let close = b.iter().rposition(|&c| c == b')')?;
    if close < open {
        return None;
    }
    let comm = sanitize_text(&b[open + 1..close], COMM_CHARS);
    let rest = std::str::from_utf8(b.get(close + 1..)?).ok()?;
    // After the command come field 3 (state) onwards: field 22 is the 20th of them.
    let start = rest.split_ascii_whitespace().nth(19)?.parse().ok()?;
    Some((comm, start))
}

/// NUL-separated arguments, joined by spaces and sanitized.
pub fn parse_cmdline(b: &[u8]) -> String {
    let b = b.strip_suffix(&[0]).unwrap_or(b);
    let joined: Vec<u8> = b.iter().map(|&c| if c == 0 { b' ' } else { c }).collect();
    sanitize_text(&joined, CMDLINE_CHARS)
}

/// The real uid of `Uid:\t0\t0\t0\t0`.
pub fn parse_status_uid(s: &str) -> Option<u32> {
    s.lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The cgroup v2 path (`0::/system.slice/x.service`); with only v1 hierarchies, the first
/// path given.
pub fn parse_cgroup(b: &[u8]) -> Option<String> {
    let mut first = None;
    for line in b.split(|&c| c == b'\n') {
        let mut parts = line.splitn(3, |&c| c == b':');
        let (Some(id), Some(_), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if id == b"0" {
            return Some(sanitize_text(path, CGROUP_CHARS));
        }
        if first.is_none() && !path.is_empty() {
            first = Some(sanitize_text(path, CGROUP_CHARS));
        }
    }
    first
}

/// `net:[4026531840]` → 4026531840.
pub fn parse_ns_link(s: &str) -> Option<u64> {
    s.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}

#[derive(Debug, Clone)]
struct Entry {
    process: Arc<Process>,
    /// Read from procfs (else only what task records said: the command).
    complete: bool,
    exited: bool,
}

/// Counters of the process cache, shown with the output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcStats {
    pub entries: usize,
    /// Processes not cached because the cache was full of live ones.
    pub overflow: u64,
    /// Lookups of a pid that was gone from procfs and unknown to the task records.
    pub unknown: u64,
    /// Lookups answered from task records alone (the process had exited).
    pub named_after_exit: u64,
}

/// pid → process, bounded.
#[derive(Debug)]
pub struct ProcTable<R> {
    reader: R,
    entries: HashMap<u32, Entry>,
    cap: usize,
    stats: ProcStats,
}

impl<R: ProcReader> ProcTable<R> {
    pub fn new(reader: R, cap: usize) -> ProcTable<R> {
        ProcTable {
            reader,
            entries: HashMap::new(),
            cap: cap.max(1),
            stats: ProcStats::default(),
        }
    }

    pub fn stats(&self) -> ProcStats {
        ProcStats {
            entries: self.entries.len(),
            ..self.stats
        }
    }

    fn insert(&mut self, pid: u32, e: Entry) {
        if !self.entries.contains_key(&pid) && self.entries.len() >= self.cap {
            // Exited processes go first: their events were read in time order already.
            self.entries.retain(|_, e| !e.exited);
            if self.entries.len() >= self.cap {
                self.stats.overflow += 1;
                return;
            }
        }
        self.entries.insert(pid, e);
    }

    /// A COMM record: `pid`'s thread `tid` is now called `comm` (after exec when `exec`).
    /// Only the main thread names the process (threads may rename themselves).
    pub fn on_comm(&mut self, pid: u32, tid: u32, comm: &[u8], exec: bool) {
        if pid != tid && !exec {
            return;
        }
        let comm = sanitize_text(comm, COMM_CHARS);
        let mut p = match self.entries.get(&pid) {
            // Exec keeps the pid, uid and cgroup but not the command line.
            Some(e) if !exec => (*e.process).clone(),
            _ => Process {
                pid,
                ..Process::default()
            },
        };
        p.comm = comm;
        if exec {
            p.cmdline = None;
        }
        self.insert(
            pid,
            Entry {
                process: Arc::new(p),
                complete: false,
                exited: false,
            },
        );
    }

    /// A FORK record. A new process (not a thread) is a fresh entry: whatever had its pid
    /// before is gone. It inherits its parent's name until it execs.
    pub fn on_fork(&mut self, pid: u32, ppid: u32, tid: u32) {
        if pid != tid || pid == ppid {
            return;
        }
        let comm = self
            .entries
            .get(&ppid)
            .map(|e| e.process.comm.clone())
            .unwrap_or_default();
        self.entries.remove(&pid);
        if comm.is_empty() {
            return;
        }
        self.insert(
            pid,
            Entry {
                process: Arc::new(Process {
                    pid,
                    comm,
                    ..Process::default()
                }),
                complete: false,
                exited: false,
            },
        );
    }

    /// An EXIT record: the process is gone (its entry stays until space is needed).
    pub fn on_exit(&mut self, pid: u32, tid: u32) {
        if pid == tid
            && let Some(e) = self.entries.get_mut(&pid)
        {
            e.exited = true;
        }
    }

    /// The process `pid`: cached, else read from procfs (and cached), else what the task
    /// records named it.
    pub fn resolve(&mut self, pid: u32) -> Option<Arc<Process>> {
        if pid == 0 {
            return None;
        }
        if let Some(e) = self.entries.get(&pid)
            && (e.complete || e.exited)
        {
            if !e.complete {
                self.stats.named_after_exit += 1;
            }
            return Some(e.process.clone());
        }
        match self.reader.read(pid) {
            Some(mut p) => {
                // A name from exec is the truth of that moment; procfs agrees unless the
                // process renamed itself since.
                if let Some(e) = self.entries.get(&pid)
                    && !e.process.comm.is_empty()
                {
                    p.comm = e.process.comm.clone();
                }
                let p = Arc::new(p);
                self.insert(
                    pid,
                    Entry {
                        process: p.clone(),
                        complete: true,
                        exited: false,
                    },
                );
                Some(p)
            }
            None => match self.entries.get(&pid) {
                Some(e) => {
                    self.stats.named_after_exit += 1;
                    Some(e.process.clone())
                }
                None => {
                    self.stats.unknown += 1;
                    None
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct FakeProc {
        alive: HashMap<u32, Process>,
        reads: usize,
    }

    impl ProcReader for FakeProc {
        fn read(&mut self, pid: u32) -> Option<Process> {
            self.reads += 1;
            self.alive.get(&pid).cloned()
        }
    }

    fn proc(pid: u32, comm: &str) -> Process {
        Process {
            pid,
            comm: comm.into(),
            cmdline: Some(format!("/usr/bin/{comm} --flag")),
            uid: Some(1000),
            start_time: Some(5),
            ..Process::default()
        }
    }

    #[test]
    fn parses_procfs_files() {
        let stat = b"4711 (my (odd) name) S 1 4711 4711 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10";
        assert_eq!(parse_stat(stat), Some(("my (odd) name".to_string(), 98765)));
        assert_eq!(parse_stat(b"1 (x"), None);
        assert_eq!(parse_stat(b")1 (x"), None);
        assert_eq!(parse_cmdline(b"curl\0-s\0http://x\0"), "curl -s http://x");
        assert_eq!(parse_cmdline(b"a\x1b[2Jb\0"), "a\\x1b[2Jb");
        assert_eq!(
            parse_status_uid("Name:\tx\nUid:\t1000\t1000\t1000\t1000\n"),
            Some(1000)
        );
        assert_eq!(
            parse_cgroup(b"0::/system.slice/collectord.service\n").as_deref(),
            Some("/system.slice/collectord.service")
        );
        assert_eq!(
            parse_cgroup(b"12:pids:/user.slice\n0::/init.scope\n").as_deref(),
            Some("/init.scope")
        );
        assert_eq!(parse_ns_link("net:[4026531840]"), Some(4026531840));
    }

    #[test]
    fn exec_names_a_process_that_is_gone() {
        let mut t = ProcTable::new(FakeProc::default(), 8);
        t.on_fork(100, 1, 100);
        t.on_comm(100, 100, b"collectord", true);
        t.on_exit(100, 100);
        let p = t.resolve(100).unwrap();
        assert_eq!(
            (p.pid, p.comm.as_str(), p.cmdline.as_deref()),
            (100, "collectord", None)
        );
        assert_eq!(t.stats().named_after_exit, 1);
        assert!(t.resolve(101).is_none());
        assert_eq!(t.stats().unknown, 1);
    }

    #[test]
    fn procfs_fills_in_and_is_cached_until_a_fork_reuses_the_pid() {
        let mut fake = FakeProc::default();
        fake.alive.insert(200, proc(200, "server"));
        let mut t = ProcTable::new(fake, 8);
        assert_eq!(t.resolve(200).unwrap().uid, Some(1000));
        assert_eq!(t.resolve(200).unwrap().comm, "server");
        assert_eq!(t.reader.reads, 1);
        // The pid is reused: a FORK from another parent, then exec.
        t.reader.alive.insert(200, proc(200, "other"));
        t.on_fork(200, 1, 200);
        t.on_comm(200, 200, b"other", true);
        assert_eq!(t.resolve(200).unwrap().comm, "other");
        assert_eq!(t.reader.reads, 2);
    }

    #[test]
    fn thread_names_do_not_rename_the_process_and_the_cache_is_bounded() {
        let mut t = ProcTable::new(FakeProc::default(), 2);
        t.on_comm(1, 1, b"main", true);
        t.on_comm(1, 2, b"worker-thread", false);
        assert_eq!(t.resolve(1).unwrap().comm, "main");
        t.on_comm(2, 2, b"b", true);
        t.on_comm(3, 3, b"c", true);
        assert_eq!(t.stats().overflow, 1);
        t.on_exit(1, 1);
        t.on_comm(3, 3, b"c", true);
        assert_eq!(t.stats().entries, 2);
        assert_eq!(t.resolve(3).unwrap().comm, "c");
        t.on_comm(4, 4, b"\x1b]0;evil\x07", true);
        assert_eq!(t.stats().overflow, 2);
    }
}
