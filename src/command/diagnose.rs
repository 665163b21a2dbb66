//! `rsthound diagnose` and `rsthound check`: the whole investigation in one run. For the
//! duration, every source at once — a `watch` session (packets on every interface, the kernel's
//! events with processes) with its per-RST lines discarded, the namespace's TCP counters, and
//! the listeners at the start and the end with the listen sysctls — fused into one
//! [`Snapshot`] for the pure rules of [`crate::engine::diagnosis`]; then the ranked diagnoses
//! in words (`sink::diagnosis`), as JSON, or as a monitoring plugin's status line and exit code.
//!
//! Without privileges it still reads what needs none (counters and listeners of its own
//! namespace) and says exactly what it skipped, with the `setcap` line that would enable it.

use crate::command::watch::{self, Sinks, SystemClock, WatchOptions, netns_path};
use crate::duration::parse_duration;
use crate::engine::counters::{self as counters_engine, ATTEMPT_FAILS};
use crate::engine::diagnosis::range::{Range, Status, status_of};
use crate::engine::diagnosis::{
    CaptureView, CountersView, KernelView, Outcome, Part, Severity, Snapshot, Unavailable, diagnose,
};
use crate::engine::summary::{CountersOverRun, RunSummary};
use crate::sanitize::sanitize_text;
use crate::sink::diagnosis::Perf;
use crate::source::counters::{CounterSource, NetnsCounters, ProcCounters, counters_start};
use crate::source::live::SysInterfaces;
use crate::source::sockets::{NetlinkSockets, SocketSource};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// `rsthound diagnose`.
#[derive(Debug, Clone, clap::Args)]
pub struct DiagnoseArgs {
    /// How long to look: seconds (5, 0.5) or with a unit (500ms, 10s, 1m).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Diagnose another network namespace: a name from `ip netns`, a path such as
    /// /proc/PID/ns/net, or the PID of a process in it (a container's).
    #[arg(long, value_name = "NAME|PATH|PID")]
    pub netns: Option<String>,
    /// One JSON object per diagnosis (`"type":"diagnosis"`), then a `"type":"summary"` one.
    #[arg(long)]
    pub json: bool,
}

/// `rsthound check`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Warning range for failed connections/s, in the monitoring-plugins syntax
    /// `[@][start:][end]` (a plain number N means: warn above N).
    #[arg(long, value_name = "RANGE", default_value = "1", value_parser = parse_range, allow_hyphen_values = true)]
    pub warn: Range,
    /// Critical range for failed connections/s (same syntax).
    #[arg(long, value_name = "RANGE", default_value = "10", value_parser = parse_range, allow_hyphen_values = true)]
    pub crit: Range,
    /// How long to look.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Check another network namespace (NAME, PATH or PID).
    #[arg(long, value_name = "NAME|PATH|PID")]
    pub netns: Option<String>,
}

fn parse_range(text: &str) -> Result<Range, String> {
    Range::parse(text).map_err(|e| {
        format!(
            "invalid range {:?}: {e} (use [@][start:][end], e.g. 1, 0:5, ~:10, @1:2)",
            sanitize_text(text.as_bytes(), 48)
        )
    })
}

/// Longest duration accepted: a diagnosis is for the moment of the alert.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// Shortest duration: below it rates are rounding noise.
pub const MIN_DURATION: Duration = Duration::from_millis(100);

fn check_duration(d: Duration) -> Result<(), String> {
    if d < MIN_DURATION || d > MAX_DURATION {
        return Err(format!(
            "--duration must be between {} ms and {} s",
            MIN_DURATION.as_millis(),
            MAX_DURATION.as_secs()
        ));
    }
    Ok(())
}

const CAP_NET_RAW: u32 = 13;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_SYS_PTRACE: u32 = 19;
const CAP_PERFMON: u32 = 38;

fn effective_caps() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))?
        .trim();
    u64::from_str_radix(hex, 16).ok()
}

/// Every capability `diagnose` uses: packets, tracepoints (whose format files under tracefs are
/// root-only on Debian, hence CAP_DAC_READ_SEARCH), other users' sockets, and `--netns`.
fn setcap_all(netns: bool) -> &'static str {
    if netns {
        "cap_net_raw,cap_perfmon,cap_dac_read_search,cap_sys_admin,cap_sys_ptrace"
    } else {
        "cap_net_raw,cap_perfmon,cap_dac_read_search,cap_sys_ptrace"
    }
}

fn exe_path() -> String {
    std::env::current_exe()
        .map(|p| sanitize_text(p.as_os_str().as_encoded_bytes(), 256))
        .unwrap_or_else(|_| "$(command -v rsthound)".to_string())
}

/// What the missing capabilities turn off, checked before anything is opened: one entry per
/// capability, each with the `setcap` line that grants it.
pub fn missing_privileges(caps: Option<u64>, netns: bool, exe: &str) -> Vec<Unavailable> {
    let has = |bit: u32| caps.is_some_and(|c| c & (1u64 << bit) != 0);
    let mut out = Vec::new();
    let all = setcap_all(netns);
    if !has(CAP_NET_RAW) {
        out.push(Unavailable {
            part: Part::Packets,
            why: "no CAP_NET_RAW: no packet capture, so no RSTs, endpoints or verdicts".into(),
            fix: Some(format!("sudo setcap {all}+ep {exe}")),
        });
    }
    if !has(CAP_PERFMON) && !has(CAP_SYS_ADMIN) {
        out.push(Unavailable {
            part: Part::KernelEvents,
            why: "no CAP_PERFMON: no kernel events, so no reasons and no processes behind the RSTs"
                .into(),
            fix: Some(format!("sudo setcap {all}+ep {exe}")),
        });
    }
    if !has(CAP_SYS_PTRACE) {
        out.push(Unavailable {
            part: Part::ListenerOwners,
            why: "no CAP_SYS_PTRACE: listeners of other users' processes show no process".into(),
            fix: Some(format!("sudo setcap {all}+ep {exe}")),
        });
    }
    if netns && !has(CAP_SYS_ADMIN) {
        out.push(Unavailable {
            part: Part::Counters,
            why: "no CAP_SYS_ADMIN: cannot enter the namespace given with --netns".into(),
            fix: Some(format!("sudo setcap {all}+ep {exe}")),
        });
    }
    out
}

/// What a run gathered, before the rules.
pub struct Gathered {
    pub snapshot: Snapshot,
    pub perf: Perf,
    /// Why the analysis could not run at all (no counters: `check` says UNKNOWN).
    pub failed: Option<String>,
    /// What was looked at, for the first line.
    pub intro: String,
}

/// Runs every source for `duration` in `netns` and fuses what they saw.
pub fn gather(duration: Duration, netns: Option<&str>, stop: &AtomicBool) -> Gathered {
    let path: Option<PathBuf> = netns.map(netns_path);
    let shown_ns = netns.map(|n| sanitize_text(n.as_bytes(), 128));
    let caps = effective_caps();
    let exe = exe_path();
    let mut unavailable = missing_privileges(caps, netns.is_some(), &exe);
    let services = crate::source::services::load();
    // Listeners at the start, with full privileges (owners of every process).
    let mut sysctls = Default::default();
    let listeners_start = match NetlinkSockets::new(path.clone()).snapshot() {
        Ok(s) => {
            sysctls = s.sysctls;
            add_notes(&mut unavailable, &s.notes);
            Some(s.listeners)
        }
        Err(e) => {
            unavailable.push(Unavailable {
                part: Part::Listeners,
                why: sanitize_text(e.to_string().as_bytes(), 400),
                fix: None,
            });
            None
        }
    };
    let (start, _) = counters_start(path.as_deref());
    let netns_inode = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(
            path.as_deref()
                .unwrap_or(std::path::Path::new("/proc/thread-self/ns/net")),
        )
        .ok()
        .map(|m| m.ino())
    };
    let opts = WatchOptions {
        quiet: true,
        duration: Some(duration.as_secs_f64()),
        netns: netns.map(str::to_string),
        services: Some(services.clone()),
        buffer_mib: 16,
        storm_limit: 20,
        kernel_events: true,
        tally: true,
        ..Default::default()
    };
    let want_packets = !unavailable.iter().any(|u| u.part == Part::Packets);
    let mut entered = false;
    let mut summary: Option<RunSummary> = None;
    let mut counters: Option<Result<CountersOverRun, String>> = None;
    let mut seconds = duration.as_secs_f64();
    if want_packets {
        match watch::start(&opts) {
            Ok(watch::Started {
                mut ring,
                mut kernel,
                listeners,
                warnings,
            }) => {
                entered = netns.is_some();
                if kernel.is_none() {
                    unavailable.retain(|u| u.part != Part::KernelEvents);
                    unavailable.push(Unavailable {
                        part: Part::KernelEvents,
                        why: sanitize_text(warnings.join("; ").as_bytes(), 600),
                        fix: Some(format!(
                            "sudo setcap {}+ep {exe}",
                            setcap_all(netns.is_some())
                        )),
                    });
                } else {
                    unavailable.retain(|u| u.part != Part::KernelEvents);
                }
                let mut proc_counters = ProcCounters::default();
                // Watch follows who listens (for refusals on a port whose listener stopped).
                let mut sockets = NetlinkSockets::new(None);
                let mut sink = io::sink();
                let mut err = Vec::new();
                let r = watch::watch(
                    &opts,
                    watch::Sources {
                        frames: &mut ring,
                        interfaces: &mut SysInterfaces,
                        clock: &mut SystemClock,
                        counters: Some(&mut proc_counters),
                        kernel: kernel.as_mut().map(|k| k as &mut dyn watch::KernelFeed),
                        sockets: Some(&mut sockets),
                        listeners_at_start: Some(listeners),
                    },
                    stop,
                    Sinks {
                        out: &mut sink,
                        err: &mut err,
                    },
                );
                seconds = r.seconds;
                summary = Some(r);
            }
            Err(e) => {
                unavailable.retain(|u| u.part != Part::Packets && u.part != Part::KernelEvents);
                unavailable.push(Unavailable {
                    part: Part::Packets,
                    why: sanitize_text(e.to_string().as_bytes(), 600),
                    fix: Some(format!(
                        "sudo setcap {}+ep {exe}",
                        setcap_all(netns.is_some())
                    )),
                });
            }
        }
    }
    if summary.is_none() {
        // Counters alone: two samples the duration apart.
        let (c, s) = counters_only(path.as_deref(), duration, stop);
        counters = Some(c);
        seconds = s;
    }
    // Listeners at the end: this thread is in the namespace already if watch entered it (and
    // has given up its capabilities: a thread it spawns inherits both).
    let end_source = if entered { None } else { path.clone() };
    let listeners_end = match NetlinkSockets::new(end_source).snapshot() {
        Ok(s) => {
            if listeners_start.is_none() {
                sysctls = s.sysctls;
            }
            let mut end = s.listeners;
            // Capabilities are gone by now: the owners found at the start (same socket inode)
            // stand for those the end snapshot could not see.
            for l in end.iter_mut().filter(|l| l.owners.is_empty()) {
                if let Some(b) = listeners_start
                    .iter()
                    .flatten()
                    .find(|b| b.inode == l.inode && b.key == l.key)
                {
                    l.owners = b.owners.clone();
                }
            }
            Some(end)
        }
        Err(_) => None,
    };
    let mut snap = Snapshot {
        seconds,
        netns: shown_ns.clone(),
        netns_inode,
        listeners_start,
        listeners_end,
        sysctls,
        services,
        ..Default::default()
    };
    let mut failed = None;
    let over_run = match summary.as_mut() {
        Some(r) => r.counters.take().map(|c| match c {
            CountersOverRun::Unavailable(why) => Err(why),
            ok => Ok(ok),
        }),
        None => counters,
    };
    match over_run {
        Some(Ok(CountersOverRun::Compared { run, disagreements })) => {
            let novelty = run
                .failed_connections()
                .rate()
                .zip(
                    run.get(ATTEMPT_FAILS)
                        .and_then(|c| Some(c.total?.saturating_sub(run.delta(ATTEMPT_FAILS)?))),
                )
                .map(|(now, before)| counters_engine::novelty(now, before, start));
            snap.counters = Some(CountersView {
                rates: run,
                disagreements,
                novelty,
            });
        }
        Some(Ok(CountersOverRun::Unavailable(why))) | Some(Err(why)) => {
            let why = sanitize_text(why.as_bytes(), 400);
            failed = Some(format!("the TCP counters could not be read: {why}"));
            unavailable.push(Unavailable {
                part: Part::Counters,
                why,
                fix: None,
            });
        }
        None => {
            failed = Some("the TCP counters could not be read".into());
        }
    }
    if let Some(r) = summary.as_mut() {
        snap.capture = Some(CaptureView {
            tcp_segments: r.stats.tcp,
            rsts: r.stats.rsts,
            kernel_drops: r.kernel_drops,
            interfaces: r.watched.clone(),
        });
        snap.tally = r.tally.take().unwrap_or_default();
        snap.findings = r.findings.take().map(|f| f.findings).unwrap_or_default();
        snap.kernel = r.kernel.take().map(|k| KernelView {
            events: k.events,
            lost_records: k.lost_records,
            failed_connects: k.failed_connects,
            connect_errors: k.connect_errors,
            stopped: k.stopped,
        });
        if r.kernel_drops > 0 {
            unavailable.push(Unavailable {
                part: Part::Packets,
                why: format!(
                    "the kernel dropped {} packets (ring full): some RSTs are missing",
                    r.kernel_drops
                ),
                fix: None,
            });
        }
        if let Some(k) = &snap.kernel
            && k.lost_records > 0
        {
            unavailable.push(Unavailable {
                part: Part::KernelEvents,
                why: format!(
                    "the kernel lost {} event records: some processes and reasons are missing",
                    k.lost_records
                ),
                fix: None,
            });
        }
        if snap.tally.overflow > 0 {
            unavailable.push(Unavailable {
                part: Part::Packets,
                why: format!(
                    "{} events found no room in the diagnosis tables and are not grouped",
                    snap.tally.overflow
                ),
                fix: None,
            });
        }
    }
    snap.other_netns = other_namespaces(netns);
    snap.unavailable = unavailable;
    let c = snap.counters.as_ref();
    let perf = Perf {
        failed_conn_per_s: c.and_then(|c| c.failed_per_s()),
        rst_per_s: match &snap.capture {
            Some(cap) if seconds > 0.0 => Some(cap.rsts as f64 / seconds),
            _ => c.and_then(|c| c.rate("OutRsts")),
        },
        listen_overflows_per_s: c.and_then(|c| c.rate("ListenOverflows")),
    };
    let mut looked = Vec::new();
    if let Some(cap) = &snap.capture {
        looked.push(format!(
            "packets on {} interface{} ({})",
            cap.interfaces.len(),
            if cap.interfaces.len() == 1 { "" } else { "s" },
            cap.interfaces.join(", ")
        ));
    }
    if snap.kernel.is_some() {
        looked.push("kernel events".into());
    }
    if snap.counters.is_some() {
        looked.push("TCP counters".into());
    }
    if snap.listeners_known() {
        looked.push("listeners".into());
    }
    let intro = format!(
        "rsthound diagnose: {:.1} s in {}; looked at {}",
        seconds,
        match &shown_ns {
            Some(n) => format!("network namespace {n}"),
            None => "this network namespace".into(),
        },
        if looked.is_empty() {
            "nothing".to_string()
        } else {
            looked.join(", ")
        }
    );
    Gathered {
        snapshot: snap,
        perf,
        failed,
        intro,
    }
}

fn add_notes(unavailable: &mut Vec<Unavailable>, notes: &[String]) {
    for n in notes.iter().take(8) {
        if unavailable.iter().any(|u| u.part == Part::ListenerOwners) && n.contains("process") {
            continue;
        }
        unavailable.push(Unavailable {
            part: if n.contains("sysctl") || n.contains("/proc/sys") {
                Part::Sysctls
            } else {
                Part::ListenerOwners
            },
            why: sanitize_text(n.as_bytes(), 400),
            fix: None,
        });
    }
}

/// Without packets: the counters at the start and the end of the duration.
fn counters_only(
    path: Option<&std::path::Path>,
    duration: Duration,
    stop: &AtomicBool,
) -> (Result<CountersOverRun, String>, f64) {
    let mut source: Box<dyn CounterSource> = match path {
        Some(p) => match NetnsCounters::start(p) {
            Ok(s) => Box::new(s),
            Err(e) => return (Err(e.to_string()), duration.as_secs_f64()),
        },
        None => Box::new(ProcCounters::default()),
    };
    let t0 = Instant::now();
    let first = source.sample();
    while t0.elapsed() < duration && !stop.load(Ordering::Relaxed) {
        std::thread::sleep((duration - t0.elapsed().min(duration)).min(Duration::from_millis(100)));
    }
    let last = source.sample();
    let seconds = t0.elapsed().as_secs_f64();
    let r = match (first, last) {
        (Ok(a), Ok(b)) => counters_engine::rates(&a, &b, seconds)
            .map(|run| CountersOverRun::Compared {
                run,
                disagreements: Vec::new(),
            })
            .map_err(|e| e.to_string()),
        (Err(e), _) | (_, Err(e)) => Err(e.to_string()),
    };
    (r, seconds)
}

/// Named namespaces (`ip netns`) besides the one diagnosed, a few.
fn other_namespaces(watched: Option<&str>) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .filter_map(|e| e.ok())
        .take(256)
        .map(|e| sanitize_text(e.file_name().as_encoded_bytes(), 64))
        .filter(|n| Some(n.as_str()) != watched)
        .collect();
    names.sort();
    names.truncate(5);
    names
}

fn stop_flag(err: &mut dyn Write) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&stop)) {
            let _ = writeln!(err, "rsthound: warning: cannot catch signal {sig}: {e}");
        }
    }
    stop
}

/// `rsthound diagnose`: exit 0 when it ran (whatever it found), 1 when nothing could be read.
pub fn run_diagnose(args: &DiagnoseArgs) -> i32 {
    let mut err = io::stderr();
    if let Err(e) = check_duration(args.duration) {
        let _ = writeln!(err, "rsthound: {e}");
        return 2;
    }
    for u in missing_privileges(effective_caps(), args.netns.is_some(), &exe_path()) {
        let _ = writeln!(
            err,
            "rsthound: {}{}",
            u.why,
            u.fix
                .map_or(String::new(), |f| format!(" — to enable: {f}"))
        );
    }
    let stop = stop_flag(&mut err);
    let g = gather(args.duration, args.netns.as_deref(), &stop);
    let outcome = diagnose(&g.snapshot);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let written = if args.json {
        write_json(&mut out, &outcome, &g)
    } else {
        out.write_all(crate::sink::diagnosis::text(&outcome, &g.intro).as_bytes())
    }
    .and_then(|()| out.flush());
    if let Err(e) = written
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        let _ = writeln!(err, "rsthound: cannot write the output: {e}");
        return 1;
    }
    i32::from(g.failed.is_some() && g.snapshot.capture.is_none())
}

fn write_json(out: &mut dyn Write, o: &Outcome, g: &Gathered) -> io::Result<()> {
    for r in crate::sink::diagnosis::records(o) {
        crate::sink::json::write_line(out, &r)?;
    }
    let s = crate::sink::diagnosis::summary_record(
        o,
        g.snapshot.seconds,
        g.snapshot.netns.as_deref(),
        &g.perf,
    );
    crate::sink::json::write_line(out, &s)
}

/// The plugin status of an outcome: failed connections/s against the ranges, and the worst
/// severity; UNKNOWN when the analysis could not run.
pub fn check_status(o: &Outcome, perf: &Perf, failed: bool, warn: &Range, crit: &Range) -> Status {
    if failed {
        return Status::Unknown;
    }
    let Some(rate) = perf.failed_conn_per_s else {
        return Status::Unknown;
    };
    let by_rate = status_of(rate, warn, crit);
    let by_severity = match o.diagnoses.first().map(|d| d.severity) {
        Some(Severity::Critical) => Status::Critical,
        Some(Severity::Warning) => Status::Warning,
        _ => Status::Ok,
    };
    by_rate.worst(by_severity)
}

/// `rsthound check`: the monitoring-plugins exit code.
pub fn run_check(args: &CheckArgs) -> i32 {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if let Err(e) = check_duration(args.duration) {
        let _ = writeln!(out, "RSTHOUND UNKNOWN - {e}");
        return Status::Unknown.code();
    }
    let mut err = io::sink();
    let stop = stop_flag(&mut err);
    let g = gather(args.duration, args.netns.as_deref(), &stop);
    let outcome = diagnose(&g.snapshot);
    let status = check_status(
        &outcome,
        &g.perf,
        g.failed.is_some(),
        &args.warn,
        &args.crit,
    );
    let why = (status == Status::Unknown).then(|| {
        g.failed
            .clone()
            .unwrap_or_else(|| "failed connections/s could not be measured".into())
    });
    let text = crate::sink::diagnosis::check_text(
        status,
        &outcome,
        &g.perf,
        &args.warn,
        &args.crit,
        why.as_deref(),
    );
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    status.code()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_privileges_say_what_is_off_and_the_setcap() {
        let u = missing_privileges(Some(0), true, "/usr/bin/rsthound");
        let parts: Vec<Part> = u.iter().map(|u| u.part).collect();
        assert_eq!(
            parts,
            vec![
                Part::Packets,
                Part::KernelEvents,
                Part::ListenerOwners,
                Part::Counters
            ]
        );
        assert!(
            u[0].fix.as_deref().unwrap().starts_with(
                "sudo setcap cap_net_raw,cap_perfmon,cap_dac_read_search,cap_sys_admin,cap_sys_ptrace+ep /usr/bin/rsthound"
            ),
            "{u:?}"
        );
        let all = (1u64 << CAP_NET_RAW) | (1 << CAP_PERFMON) | (1 << CAP_SYS_PTRACE);
        assert!(missing_privileges(Some(all), false, "x").is_empty());
    }
}
