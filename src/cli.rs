//! Command-line interface: argument parsing and dispatch to the commands.

use crate::command::read::{ReadOptions, read_files};
use crate::command::watch::{self, Sinks, SystemClock, WatchOptions};
use crate::sink::json::summary_record;
use crate::sink::pcapng::check_output;
use crate::sink::text::{read_summary, watch_summary};
use crate::source::live::SysInterfaces;
use clap::{Parser, Subcommand};
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

#[derive(Debug, Parser)]
#[command(
    name = "rsthound",
    version,
    about = "Track down failed TCP connections and RST packets",
    long_about = "Track down failed TCP connections and RST packets.\n\nrsthound finds every TCP reset in \
                  captures of any link type and encapsulation (VLAN, IPv6, GRE, VXLAN, …) and explains it.",
    after_help = "Exit status: 0 when every input was read to its end, 1 when an input was damaged or \
                  unreadable (the RSTs before the damage are still reported), 2 on a usage error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read pcap/pcapng captures (gzip or zstd compressed too) and report every RST segment.
    #[command(
        long_about = "Read pcap or pcapng captures, plain or compressed with gzip or zstd (detected by \
                      content), and print one line per TCP segment with RST set, on any link type \
                      (Ethernet, VLAN stacks, Linux cooked SLL/SLL2, raw IP, BSD loopback, PPP, FDDI, \
                      802.11, NFLOG) and inside tunnels (GRE, ERSPAN, VXLAN, GENEVE, GTP-U, Teredo, \
                      IP-in-IP). A summary of what was read, and of what could not be decoded, goes to \
                      stderr.",
        after_help = "Examples:\n  rsthound read capture.pcapng\n  tcpdump -i any -w - | rsthound read -\n  \
                      rsthound read --json old.pcap.gz | jq 'select(.dport == 443)'"
    )]
    Read {
        /// Capture files; `-` reads standard input.
        #[arg(required = true, value_name = "FILE", value_parser = clap::value_parser!(std::ffi::OsString))]
        files: Vec<std::ffi::OsString>,
        /// One JSON object per line instead of text (schema in the README).
        #[arg(long)]
        json: bool,
        /// Do not print the summary on stderr.
        #[arg(short, long)]
        quiet: bool,
        /// Never show a progress bar (it is only shown for large files when stderr is a terminal).
        #[arg(long)]
        no_progress: bool,
        /// List every connection with its Zeek-compatible conn_state and history (a conn.log-like
        /// view) instead of the RST lines.
        #[arg(long)]
        connections: bool,
        /// Write the packets of failed and reset connections (handshake and RST) to this pcapng,
        /// each RST with a packet comment giving its verdict.
        #[arg(long, value_name = "FILE.pcapng", value_parser = clap::value_parser!(std::path::PathBuf))]
        write: Option<std::path::PathBuf>,
        /// Let --write replace an existing file that is not a capture rsthound wrote (an input
        /// is never overwritten, whatever its name).
        #[arg(long, requires = "write")]
        force: bool,
        /// Connections tracked at once (default: sized for about 256 MiB); beyond it the least
        /// recently active are evicted, and the summary says how many.
        #[arg(long, value_name = "N")]
        max_conns: Option<usize>,
        /// Only list the RST segments, without following connections (no verdicts, no
        /// findings): the fastest pass over a very large capture.
        #[arg(long, conflicts_with_all = ["connections", "write"])]
        raw: bool,
        /// Read files with read() instead of memory-mapping them. Mapping (the default for plain,
        /// non-empty regular files) skips a copy; a file that shrinks while mapped is reported as
        /// damaged, at the offset where its bytes went missing.
        #[arg(long)]
        no_mmap: bool,
        /// Decode, track and report on one thread. By default, when the machine has more than
        /// one CPU, tracked reading runs on three (decoding, connection tracking, report and
        /// output), with the same output.
        #[arg(long)]
        single_thread: bool,
    },
    /// Watch every interface live (loopback and interfaces created later included) and report
    /// RSTs and failed connections as they happen.
    #[command(
        long_about = "Watch every network interface at once, loopback and interfaces created later \
                      included, and print one line per RST and per failed connection attempt as it \
                      happens, with the same verdicts as `read`. A kernel filter lets only TCP \
                      segments with SYN, FIN or RST through, cut to their headers, so data never \
                      leaves the kernel. On Ctrl-C (or after --duration/--count) a summary with the \
                      ranked findings goes to stderr, including the kernel's drop count. Needs \
                      CAP_NET_RAW (root, or setcap cap_net_raw+ep on the binary); every capability is \
                      dropped once the socket is open.",
        after_help = "Examples:\n  sudo rsthound watch\n  sudo rsthound watch -i lo --duration 60\n  \
                      sudo rsthound watch --netns $(docker inspect -f '{{.State.Pid}}' web) --json"
    )]
    Watch {
        /// Only these interfaces (repeatable); interfaces named here that do not exist yet are
        /// watched when they appear.
        #[arg(short, long = "interface", value_name = "IFACE")]
        interfaces: Vec<String>,
        /// One JSON object per line instead of text (schema in the README).
        #[arg(long)]
        json: bool,
        /// No banner and no summary on stderr.
        #[arg(short, long)]
        quiet: bool,
        /// Stop after this long: seconds (60, 1.5) or a number with a unit (500ms, 90s, 2m, 1h).
        #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse_duration)]
        duration: Option<std::time::Duration>,
        /// Stop after this many RSTs and failed connections.
        #[arg(short = 'c', long, value_name = "N")]
        count: Option<u64>,
        /// Write the packets of failed and reset connections (handshake and RST) to this pcapng.
        #[arg(long, value_name = "FILE.pcapng", value_parser = clap::value_parser!(std::path::PathBuf))]
        write: Option<std::path::PathBuf>,
        /// Let --write replace an existing file that is not a capture rsthound wrote.
        #[arg(long, requires = "write")]
        force: bool,
        /// Watch inside another network namespace: a name from `ip netns`, a path such as
        /// /proc/PID/ns/net, or the PID of a process in it (a container's).
        #[arg(long, value_name = "NAME|PATH|PID")]
        netns: Option<String>,
        /// Connections tracked at once; beyond it the least recently active are evicted.
        #[arg(long, value_name = "N")]
        max_conns: Option<usize>,
        /// Kernel ring buffer size in MiB: room for bursts while rsthound is busy.
        #[arg(long, value_name = "MiB", default_value_t = 16)]
        buffer_size: u32,
        /// Storm mode: at most N RST lines per second for one resetting endpoint and verdict;
        /// the rest of that second is one line with the exact count. 0 prints every RST.
        #[arg(long, value_name = "N", default_value_t = 20)]
        storm_limit: u32,
        /// Packets only: do not read the kernel's events (the reason for each RST, the
        /// processes behind each connection, RSTs forged by a firewall rule).
        #[arg(long)]
        no_kernel_events: bool,
    },
    /// The kernel's TCP failure counters every interval, as rates in plain words: failed
    /// connections/s as monitoring agents compute it, whether that is new, and its onset.
    #[command(
        after_help = "Exit status: 0 when every sample was read, 1 when the counters could not be \
                      read, 2 on a usage error; exceeding --crit does not change it.\n\nExamples:\n  \
                      rsthound counters\n  rsthound counters --interval 10s --count 6 --json\n  \
                      sudo rsthound counters --netns $(docker inspect -f '{{.State.Pid}}' web)"
    )]
    Counters(crate::command::counters::CountersArgs),
    /// The whole investigation in one run: packets, kernel events, counters and listeners at
    /// once for a few seconds, then ranked diagnoses with evidence, causes and next steps.
    #[command(
        after_help = "Exit status: 0 when it ran (whatever it found), 1 when nothing could be read, 2 on a \
                      usage error.\n\nExamples:\n  sudo rsthound diagnose\n  sudo rsthound diagnose --duration 10s --netns web\n  \
                      rsthound diagnose --json | jq 'select(.type == \"diagnosis\")'"
    )]
    Diagnose(crate::command::diagnose::DiagnoseArgs),
    /// The diagnosis as a monitoring plugin (Nagios, Icinga, Zabbix): one status line with
    /// performance data, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    #[command(
        after_help = "Status: from failed connections/s (the TCP counters' AttemptFails rate) against \
                      --warn and --crit, and from the severity of the findings; UNKNOWN when the counters \
                      cannot be read.\n\nExamples:\n  sudo rsthound check\n  sudo rsthound check --warn 5 --crit 50 --duration 10s"
    )]
    Check(crate::command::diagnose::CheckArgs),
    /// List the listening TCP sockets with their accept queue, backlog, drops and processes.
    #[command(
        long_about = "List every listening TCP socket (IPv4 and IPv6) with its accept queue against \
                      its backlog, the packets dropped on it, the processes holding it and a verdict \
                      (full: the kernel drops new connections) saying what to raise: the \
                      application's listen() backlog or net.core.somaxconn, or that the application \
                      accepts too slowly. The sysctls that bound listeners come first; what could not \
                      be seen (processes of other users without CAP_SYS_PTRACE) comes last.",
        after_help = "Examples:\n  rsthound listeners\n  sudo rsthound listeners --netns $(docker inspect -f '{{.State.Pid}}' web)\n  \
                      rsthound listeners --json | jq 'select(.state == \"full\")'"
    )]
    Listeners {
        /// List the listeners of another network namespace: a name from `ip netns`, a path
        /// such as /proc/PID/ns/net, or the PID of a process in it.
        #[arg(long, value_name = "NAME|PATH|PID")]
        netns: Option<String>,
        /// One JSON object per line instead of the table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs the parsed command and returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Read {
            files,
            json,
            quiet,
            no_progress,
            connections,
            write,
            force,
            max_conns,
            raw,
            no_mmap,
            single_thread,
        } => {
            if files.iter().filter(|f| *f == "-").count() > 1 {
                eprintln!("rsthound: standard input (-) can be read only once");
                return 2;
            }
            if let Some(out) = &write {
                let inputs: Vec<&std::ffi::OsStr> = files.iter().map(|f| f.as_os_str()).collect();
                if let Err(e) = check_output(out, &inputs, force) {
                    eprintln!("rsthound: {e}");
                    return 2;
                }
            }
            // `read` needs privilege only to open (root reading another user's 0600 file needs
            // CAP_DAC_OVERRIDE): open every input, then give up every capability (a binary given
            // cap_net_raw for `watch` has it here too) before the first byte of a possibly
            // hostile file is read.
            let opened = crate::command::read::OpenedInputs::open(&files);
            if let Err(e) = crate::sys::caps::drop_all() {
                eprintln!("rsthound: warning: could not drop capabilities: {e}");
            }
            let opts = ReadOptions {
                json,
                quiet,
                progress: !no_progress,
                connections,
                write,
                max_conns,
                services: None,
                raw,
                no_mmap,
                single_thread,
                exiting: true,
                opened,
            };
            let stdout = io::stdout();
            let mut out = stdout.lock();
            let mut err = io::stderr();
            let report = read_files(&files, &opts, &mut out, &mut err);
            if json && !report.stopped_by_reader {
                let _ = crate::sink::json::write_line(&mut out, &summary_record(&report));
            }
            if !quiet {
                let _ = err.write_all(read_summary(&report).as_bytes());
            }
            report.exit_code()
        }
        Command::Watch {
            interfaces,
            json,
            quiet,
            duration,
            count,
            write,
            force,
            netns,
            max_conns,
            buffer_size,
            storm_limit,
            no_kernel_events,
        } => {
            if let Some(out) = &write
                && let Err(e) = check_output(out, &[], force)
            {
                eprintln!("rsthound: {e}");
                return 2;
            }
            let opts = WatchOptions {
                json,
                quiet,
                interfaces,
                duration: duration.map(|d| d.as_secs_f64()),
                count,
                write,
                netns,
                max_conns,
                services: None,
                buffer_mib: buffer_size,
                storm_limit,
                kernel_events: !no_kernel_events,
                tally: false,
            };
            run_watch(&opts)
        }
        Command::Counters(args) => crate::command::counters::run(&args),
        Command::Diagnose(args) => crate::command::diagnose::run_diagnose(&args),
        Command::Check(args) => crate::command::diagnose::run_check(&args),
        Command::Listeners { netns, json } => {
            crate::command::listeners::run_cli(&crate::command::listeners::ListenersOptions {
                netns,
                json,
            })
        }
    }
}

fn run_watch(opts: &WatchOptions) -> i32 {
    let mut err = io::stderr();
    // Services are read before the namespace switch and the capability drop.
    let mut opts = opts.clone();
    opts.services = Some(crate::source::services::load());
    let watch::Started {
        mut ring,
        mut kernel,
        listeners,
        warnings,
    } = match watch::start(&opts) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "rsthound: {e}");
            return 1;
        }
    };
    for w in warnings {
        let _ = writeln!(err, "rsthound: warning: {w}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&stop)) {
            let _ = writeln!(err, "rsthound: warning: cannot catch signal {sig}: {e}");
        }
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    // The counters of the namespace this thread watches (`start` entered it).
    let mut counters = crate::source::counters::ProcCounters::default();
    // Its listening sockets (sock_diag answers for the namespace of the thread that asks).
    let mut sockets = crate::source::sockets::NetlinkSockets::new(None);
    let report = watch::watch(
        &opts,
        watch::Sources {
            frames: &mut ring,
            interfaces: &mut SysInterfaces,
            clock: &mut SystemClock,
            counters: Some(&mut counters),
            kernel: kernel.as_mut().map(|k| k as &mut dyn watch::KernelFeed),
            sockets: Some(&mut sockets),
            listeners_at_start: Some(listeners),
        },
        &stop,
        Sinks {
            out: &mut out,
            err: &mut err,
        },
    );
    if opts.json && !report.stopped_by_reader {
        let _ = crate::sink::json::write_line(&mut out, &summary_record(&report));
        let _ = out.flush();
    }
    if !opts.quiet {
        let _ = err.write_all(watch_summary(&report).as_bytes());
    }
    report.exit_code()
}
