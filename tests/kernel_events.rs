//! The kernel-events source for real: as root, in network namespaces these tests create, with
//! real processes started under distinctive names (this test binary exec'd through a symlink, so
//! the kernel's `comm` is the symlink's name), real sockets and the RSTs the kernel sends. Each
//! test asserts what a user would check: the kernel's reason for each RST and the process behind
//! it. Tracepoints are global, so each test picks its events by its own ports and pids. Not
//! root: skipped with a message, unless CI=true (then a failure).

mod live;

use live::{NamedBinary, Netns, privileged};
use rsthound::engine::attribution::Attributed;
use rsthound::engine::kevent::{EventKind, SendReset, TcpState};
use rsthound::source::kernel::procs::Procfs;
use rsthound::source::kernel::{KernelView, SourceConfig, Tracepoints};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Set in a child: which part it plays (see `kev_child`).
const ROLE: &str = "RSTHOUND_KEV_ROLE";

/// Not a test of its own: the entry point of the child processes. Without the variable it does
/// nothing.
#[test]
fn kev_child() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let (what, addr) = role.split_once('@').expect("ROLE=what@addr");
    let addr: SocketAddr = addr.parse().unwrap();
    match what {
        // Connect N times to a closed port.
        // Connect N times to a closed port, 100 ms apart ("retry": also 100 ms before exit).
        w if w.starts_with("refuse") || w.starts_with("retry") => {
            let retry = w.starts_with("retry");
            let n: usize = w
                .trim_start_matches(|c: char| c.is_alphabetic())
                .parse()
                .unwrap_or(1);
            for _ in 0..n {
                let e = TcpStream::connect(addr).expect_err("the port is closed");
                assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
                if retry {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        // Accept one connection, wait for its data, close without reading it.
        "abort-server" => {
            let l = TcpListener::bind(addr).unwrap();
            println!("KEV-READY");
            std::io::stdout().flush().unwrap();
            let (s, _) = l.accept().unwrap();
            let mut peek = [0u8; 1];
            s.peek(&mut peek).unwrap();
            drop(s);
        }
        // Connect, then close with SO_LINGER {1, 0}.
        "linger" => {
            let s = TcpStream::connect(addr).unwrap();
            println!("KEV-LOCAL {}", s.local_addr().unwrap());
            std::io::stdout().flush().unwrap();
            socket2::SockRef::from(&s)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
            let mut b = [0u8; 1];
            // Wait until the test says "close".
            let _ = std::io::stdin().read(&mut b);
            drop(s);
        }
        // Listen (backlog 1 when asked: "listen1"), never accept, until stdin closes.
        w if w.starts_with("listen") => {
            let backlog = if w == "listen1" { 1 } else { 128 };
            let sock = socket2::Socket::new(
                socket2::Domain::for_address(addr),
                socket2::Type::STREAM,
                None,
            )
            .unwrap();
            sock.set_reuse_address(true).unwrap();
            sock.bind(&addr.into()).unwrap();
            sock.listen(backlog).unwrap();
            println!("KEV-READY");
            std::io::stdout().flush().unwrap();
            let _ = std::io::stdin().read(&mut [0u8; 1]);
            drop(sock);
        }
        // Open the kernel view; say what it noted (exit 3 when it did not open).
        "open" => match KernelView::open(&SourceConfig::default()) {
            Ok(view) => {
                for n in view.notes() {
                    println!("KEV-NOTE {n}");
                }
                println!("KEV-OPENED");
            }
            Err(e) => {
                for n in &e.notes {
                    println!("KEV-NOTE {n}");
                }
                println!("KEV-ERROR {e}");
                std::io::stdout().flush().unwrap();
                std::process::exit(3);
            }
        },
        other => panic!("unknown role {other}"),
    }
}

/// The short-lived client acts before the test harness starts (the harness alone takes a few
/// milliseconds): connect once to a closed port, exit. Runs from `.init_array`, like a C
/// constructor, in every process of this binary; it does nothing without the variable.
extern "C" fn short_lived_client() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    if let Some(addr) = role.strip_prefix("once@") {
        let refused = TcpStream::connect(addr)
            .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused);
        std::process::exit(if refused { 0 } else { 1 });
    }
}

#[used]
#[unsafe(link_section = ".init_array")]
static SHORT_LIVED_CLIENT: extern "C" fn() = short_lived_client;

/// This test binary under `name`, running `kev_child` roles.
fn named(name: &str) -> NamedBinary {
    NamedBinary::new(name, "kev_child", ROLE)
}

type View = KernelView<Tracepoints, Procfs>;

fn open_view() -> View {
    open_view_with(SourceConfig::default())
}

fn open_view_with(cfg: SourceConfig) -> View {
    let view = KernelView::open(&cfg).unwrap_or_else(|e| panic!("kernel events did not open: {e}"));
    for n in view.notes() {
        eprintln!("kernel events: {n}");
    }
    view
}

/// Polls until `done` holds for what was collected, or `timeout`; returns everything.
fn collect(
    view: &mut View,
    timeout: Duration,
    done: impl Fn(&[Attributed]) -> bool,
) -> Vec<Attributed> {
    let until = Instant::now() + timeout;
    let mut all = Vec::new();
    while Instant::now() < until && !done(&all) {
        view.poll(Duration::from_millis(50), &mut all).unwrap();
    }
    all
}

fn send_resets(all: &[Attributed]) -> Vec<(&Attributed, &SendReset)> {
    all.iter()
        .filter_map(|a| match &a.event.kind {
            EventKind::SendReset(r) => Some((a, r)),
            _ => None,
        })
        .collect()
}

fn lost(view: &View) -> u64 {
    view.stats().source.lost_records
}

#[test]
fn refused_attempts_carry_no_socket_and_the_client_process() {
    if !privileged("refused_attempts_carry_no_socket_and_the_client_process") {
        return;
    }
    let ns = Netns::new("kev1");
    let bin = named("collectord");
    let server: SocketAddr = "127.0.0.1:7211".parse().unwrap();
    let mut view = open_view();
    let mut cmd = bin.command(&format!("retry2@{server}"));
    // Read while the client runs, as `watch` does: its command line is read while it lives.
    let mut child = ns.run(move || cmd.spawn().unwrap());
    let pid = child.id();
    // Picked by the test's own port and the client's pid (the RST ran in its context on lo).
    let mine = |all: &[Attributed]| -> usize {
        send_resets(all)
            .iter()
            .filter(|(a, r)| r.src == Some(server) && a.event.ctx.pid == pid)
            .count()
    };
    let failed_of = |all: &[Attributed]| -> usize {
        all.iter()
            .filter(|a| {
                matches!(&a.event.kind, EventKind::SetState(s)
                    if s.old == TcpState::SYN_SENT && s.new == TcpState::CLOSE && s.remote == Some(server))
                    && a.event.ctx.pid == pid
            })
            .count()
    };
    let all = collect(&mut view, Duration::from_secs(5), |all| {
        mine(all) >= 2 && failed_of(all) >= 2
    });
    let status = child.wait().unwrap();
    assert!(status.success(), "the client failed: {status}");
    let resets: Vec<_> = send_resets(&all)
        .into_iter()
        .filter(|(a, r)| r.src == Some(server) && a.event.ctx.pid == pid)
        .collect();
    assert_eq!(resets.len(), 2, "one RST per refused attempt");
    for (a, r) in &resets {
        assert_eq!(r.reason.as_deref(), Some("NO_SOCKET"));
        assert_eq!(r.skaddr, 0, "a RST for no socket");
        let (client, _) = a.client.as_ref().expect("the client is named");
        assert_eq!((client.pid, client.comm.as_str()), (pid, "collectord"));
        assert!(
            client
                .cmdline
                .as_deref()
                .unwrap_or("")
                .contains("kev_child"),
            "{:?}",
            client.cmdline
        );
        assert_eq!(client.uid, Some(0));
        // The namespace the client ran in: the test's, not the host's.
        let ns_inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(ns.path()).unwrap());
        assert_eq!(client.netns, Some(ns_inode));
        assert_eq!(
            a.client_local, r.dst,
            "the client's port is the RST's destination"
        );
    }
    // Every attempt is also a failed connect (SYN_SENT → CLOSE) of that process.
    assert_eq!(failed_of(&all), 2);
    for a in all.iter().filter(|a| {
        matches!(&a.event.kind, EventKind::SetState(s)
        if s.new == TcpState::CLOSE && s.remote == Some(server))
            && a.event.ctx.pid == pid
    }) {
        let (client, _) = a.client.as_ref().expect("the failed connect's caller");
        assert_eq!((client.pid, client.comm.as_str()), (pid, "collectord"));
    }
    let of_client: Vec<String> = all
        .iter()
        .filter(|a| a.event.ctx.pid == pid)
        .map(|a| match &a.event.kind {
            EventKind::SendReset(r) => {
                format!("send_reset({})", r.reason.as_deref().unwrap_or("-"))
            }
            EventKind::ReceiveReset(_) => "receive_reset".into(),
            EventKind::SetState(s) => format!("set_state({}->{})", s.old.name(), s.new.name()),
            EventKind::RetransmitSynack(_) => "retransmit_synack".into(),
            EventKind::KfreeSkb(k) => format!("kfree_skb({})", k.reason.as_deref().unwrap_or("-")),
            EventKind::ConnectExit(c) => format!("connect()={}", c.ret),
        })
        .collect();
    eprintln!(
        "refused: {} events in the client's context for 2 refused attempts ({}), {} lost records",
        of_client.len(),
        of_client.join(" "),
        lost(&view)
    );
    assert_eq!(lost(&view), 0);
}

#[test]
fn a_client_that_lives_a_few_milliseconds_is_still_named() {
    if !privileged("a_client_that_lives_a_few_milliseconds_is_still_named") {
        return;
    }
    let ns = Netns::new("kev4");
    let bin = named("blinkd");
    let server: SocketAddr = "127.0.0.1:7214".parse().unwrap();
    let mut view = open_view();
    // Spawn-to-exit as the parent sees it bounds the child's life from above. A loaded
    // machine may stretch one run past 10 ms: up to five tries for one that stays under.
    let (pid, lived) = (0..5)
        .map(|_| {
            let mut cmd = bin.command(&format!("once@{server}"));
            let (pid, status, lived) = ns.run(move || {
                let t = Instant::now();
                let mut child = cmd.spawn().unwrap();
                let st = child.wait().unwrap();
                (child.id(), st, t.elapsed())
            });
            assert!(status.success(), "the client was not refused");
            (pid, lived)
        })
        .find(|(_, lived)| *lived < Duration::from_millis(10))
        .expect("a client that lives under 10 ms");
    // Gone before anything is read: procfs cannot name it any more.
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    let pick = |all: &[Attributed]| {
        send_resets(all)
            .into_iter()
            .filter(|(a, r)| r.src == Some(server) && a.event.ctx.pid == pid)
            .map(|(a, _)| a.clone())
            .collect::<Vec<_>>()
    };
    let all = collect(&mut view, Duration::from_secs(5), |all| {
        !pick(all).is_empty()
    });
    let resets = pick(&all);
    assert_eq!(resets.len(), 1);
    assert!(matches!(&resets[0].event.kind,
        EventKind::SendReset(r) if r.reason.as_deref() == Some("NO_SOCKET")));
    let (client, _) = resets[0].client.as_ref().expect("named after it exited");
    assert_eq!((client.pid, client.comm.as_str()), (pid, "blinkd"));
    eprintln!(
        "short-lived client: lived {lived:?} (spawn to exit), named {}, stats {:?}",
        client.label(),
        view.stats().procs
    );
    assert_eq!(lost(&view), 0);
}

/// Spawns `cmd` inside `ns` and waits for its `KEV-READY` line.
fn spawn_ready(ns: &Netns, mut cmd: Command) -> (Child, BufReader<std::process::ChildStdout>) {
    cmd.stdout(Stdio::piped());
    let mut child = ns.run(move || cmd.spawn().unwrap());
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "child ended before it was ready"
        );
        if line.starts_with("KEV-READY") || line.starts_with("KEV-LOCAL") {
            break;
        }
    }
    (child, out)
}

#[test]
fn close_with_unread_data_is_abort_on_close_by_the_server() {
    if !privileged("close_with_unread_data_is_abort_on_close_by_the_server") {
        return;
    }
    let ns = Netns::new("kev2");
    let bin = named("abortd");
    let server: SocketAddr = "127.0.0.1:7222".parse().unwrap();
    let mut view = open_view();
    let (mut child, _out) = spawn_ready(&ns, bin.command(&format!("abort-server@{server}")));
    let pid = child.id();
    let got = ns.run(move || {
        let mut s = TcpStream::connect(server).unwrap();
        s.write_all(b"unread request").unwrap();
        let mut b = [0u8; 16];
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.read(&mut b).map_err(|e| e.kind())
    });
    assert_eq!(
        got,
        Err(std::io::ErrorKind::ConnectionReset),
        "the client saw the RST"
    );
    assert!(child.wait().unwrap().success());
    let pick = |all: &[Attributed]| {
        send_resets(all)
            .into_iter()
            .filter(|(_, r)| r.src == Some(server))
            .map(|(a, r)| (a.clone(), r.clone()))
            .collect::<Vec<_>>()
    };
    let all = collect(&mut view, Duration::from_secs(5), |all| {
        !pick(all).is_empty()
    });
    let resets = pick(&all);
    assert_eq!(resets.len(), 1, "{resets:#?}");
    let (a, r) = &resets[0];
    assert_eq!(r.reason.as_deref(), Some("TCP_ABORT_ON_CLOSE"));
    assert_ne!(r.skaddr, 0);
    let actor = a.actor.as_ref().expect("the closing process");
    assert_eq!((actor.pid, actor.comm.as_str()), (pid, "abortd"));
    assert_eq!(lost(&view), 0);
}

#[test]
fn so_linger_zero_close_is_attributed_to_the_closing_process() {
    if !privileged("so_linger_zero_close_is_attributed_to_the_closing_process") {
        return;
    }
    let ns = Netns::new("kev3");
    let bin = named("lingerer");
    let server: SocketAddr = "127.0.0.1:7233".parse().unwrap();
    let listener = ns.run(move || TcpListener::bind(server).unwrap());
    let mut view = open_view();
    let mut cmd = bin.command(&format!("linger@{server}"));
    cmd.stdin(Stdio::piped());
    let (mut child, _out) = spawn_ready(&ns, cmd);
    let pid = child.id();
    let (conn, local) = listener.accept().unwrap();
    drop(child.stdin.take()); // EOF: the child closes
    assert!(child.wait().unwrap().success());
    drop(conn);
    let pick = |all: &[Attributed]| {
        send_resets(all)
            .into_iter()
            .filter(|(_, r)| r.src == Some(local) && r.dst == Some(server))
            .map(|(a, r)| (a.clone(), r.clone()))
            .collect::<Vec<_>>()
    };
    let all = collect(&mut view, Duration::from_secs(5), |all| {
        !pick(all).is_empty()
    });
    let resets = pick(&all);
    assert_eq!(resets.len(), 1, "{resets:#?}");
    let (a, r) = &resets[0];
    // 6.18 reports a linger-0 close as TCP_STATE (tcp_disconnect → tcp_need_reset).
    assert_eq!(r.reason.as_deref(), Some("TCP_STATE"));
    let actor = a.actor.as_ref().expect("the closing process");
    assert_eq!((actor.pid, actor.comm.as_str()), (pid, "lingerer"));
    // It was also the connect() caller of that socket.
    let (client, _) = a.client.as_ref().expect("the socket's connect() caller");
    assert_eq!(client.pid, pid);
    assert_eq!(lost(&view), 0);
}

/// Runs this binary's `open` role through `wrapper` (a shell line whose `"$@"` is the child).
fn open_role_through(bin: &NamedBinary, wrapper: &str) -> (Option<i32>, String) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(wrapper)
        .arg("sh")
        .arg(&bin.path)
        .args([
            "kev_child",
            "--exact",
            "--test-threads=1",
            "--nocapture",
            "-q",
        ])
        .env(ROLE, "open@127.0.0.1:0")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn tracefs_is_mounted_when_absent() {
    if !privileged("tracefs_is_mounted_when_absent") {
        return;
    }
    let bin = named("kevmount");
    // A private mount namespace without tracefs: the host's stays as it is.
    let (code, out) = open_role_through(
        &bin,
        r#"exec unshare -m --propagation private sh -c 'umount /sys/kernel/tracing 2>/dev/null; test ! -d /sys/kernel/tracing/events && exec "$@"' sh "$@""#,
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("KEV-NOTE mounted tracefs at /sys/kernel/tracing"),
        "{out}"
    );
    assert!(out.contains("KEV-OPENED"), "{out}");
    assert!(std::path::Path::new("/sys/kernel/tracing/events").is_dir());
}

#[test]
fn tracefs_absent_and_not_mountable_is_said() {
    if !privileged("tracefs_absent_and_not_mountable_is_said") {
        return;
    }
    let bin = named("kevnomount");
    let (code, out) = open_role_through(
        &bin,
        r#"exec unshare -m --propagation private sh -c 'umount /sys/kernel/tracing 2>/dev/null; exec setpriv --bounding-set=-sys_admin "$@"' sh "$@""#,
    );
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("kernel events off: tracefs is not mounted and mounting it at /sys/kernel/tracing failed"),
        "{out}"
    );
}

#[test]
fn without_cap_perfmon_one_line_with_the_setcap_hint() {
    if !privileged("without_cap_perfmon_one_line_with_the_setcap_hint") {
        return;
    }
    let bin = named("kevnocap");
    let (code, out) = open_role_through(
        &bin,
        r#"exec setpriv --bounding-set=-perfmon,-sys_admin "$@""#,
    );
    assert_eq!(code, Some(3), "{out}");
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("KEV-NOTE")).collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].contains("missing CAP_PERFMON"), "{out}");
    assert!(
        lines[0].contains("setcap cap_net_raw,cap_perfmon+ep "),
        "{out}"
    );
}

#[test]
fn non_root_with_cap_perfmon_alone_is_told_about_tracefs() {
    if !privileged("non_root_with_cap_perfmon_alone_is_told_about_tracefs") {
        return;
    }
    let bin = named("kevperfmon");
    // What `setcap cap_net_raw,cap_perfmon+ep` gives a user: not enough to read tracefs here.
    let (code, out) = open_role_through(
        &bin,
        r#"exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=+perfmon,+net_raw --ambient-caps=+perfmon,+net_raw "$@""#,
    );
    assert_eq!(code, Some(3), "{out}");
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("KEV-NOTE")).collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].contains("missing CAP_DAC_READ_SEARCH"), "{out}");
    assert!(
        lines[0].contains("setcap cap_net_raw,cap_perfmon,cap_dac_read_search+ep "),
        "{out}"
    );
    // With it, the view opens for that user.
    let (code, out) = open_role_through(
        &bin,
        r#"exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=+perfmon,+net_raw,+dac_read_search --ambient-caps=+perfmon,+net_raw,+dac_read_search "$@""#,
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("KEV-OPENED"), "{out}");
}

#[test]
fn a_burst_of_refused_connects_is_counted_and_attributed_whole() {
    if !privileged("a_burst_of_refused_connects_is_counted_and_attributed_whole") {
        return;
    }
    const N: usize = 3000;
    let ns = Netns::new("kev5");
    let bin = named("burstd");
    let server: SocketAddr = "127.0.0.1:7215".parse().unwrap();
    // The rings `watch` uses (4 MiB per CPU): a test thread descheduled on a loaded machine
    // must not lose records that watch would keep.
    let mut view = open_view_with(SourceConfig {
        ring_pages: 1024,
        ..SourceConfig::default()
    });
    let mut cmd = bin.command(&format!("refuse{N}@{server}"));
    let t = Instant::now();
    let mut child = ns.run(move || cmd.spawn().unwrap());
    let pid = child.id();
    let mut all = Vec::new();
    let mut mine = 0;
    let mut attributed = 0;
    let mut exited = None;
    // Read as they come (as `watch` does), keeping only the counts: the burst is large.
    while t.elapsed() < Duration::from_secs(60) {
        view.poll(Duration::from_millis(50), &mut all).unwrap();
        for (a, r) in send_resets(&all) {
            if r.src == Some(server) && r.reason.as_deref() == Some("NO_SOCKET") {
                mine += 1;
                attributed += usize::from(
                    a.client
                        .as_ref()
                        .is_some_and(|(p, _)| p.pid == pid && p.comm == "burstd"),
                );
            }
        }
        all.clear();
        if exited.is_none() {
            exited = child.try_wait().unwrap();
        }
        if exited.is_some() && mine + (lost(&view) as usize) >= N {
            break;
        }
    }
    let finished = exited.is_some();
    let status = match exited {
        Some(s) => s,
        None => {
            let _ = child.kill();
            child.wait().unwrap()
        }
    };
    assert!(
        finished && status.success(),
        "the client did not finish: {status}"
    );
    let stats = view.stats();
    eprintln!(
        "burst: {N} refused connects in {:?}: {mine} NO_SOCKET resets seen, {attributed} attributed, {} records lost, {stats:?}",
        t.elapsed(),
        stats.source.lost_records
    );
    assert_eq!(stats.source.lost_records, 0, "records lost");
    assert_eq!(mine, N, "one RST per refused attempt");
    assert_eq!(attributed, N, "every attempt named");
}

#[test]
fn refused_over_ipv6_loopback_is_decoded_and_attributed() {
    if !privileged("refused_over_ipv6_loopback_is_decoded_and_attributed") {
        return;
    }
    let ns = Netns::new("kev6");
    let bin = named("sixd");
    let server: SocketAddr = "[::1]:7216".parse().unwrap();
    let mut view = open_view();
    let mut cmd = bin.command(&format!("retry1@{server}"));
    let mut child = ns.run(move || cmd.spawn().unwrap());
    let pid = child.id();
    let pick = |all: &[Attributed]| {
        send_resets(all)
            .into_iter()
            .filter(|(a, r)| r.src == Some(server) && a.event.ctx.pid == pid)
            .map(|(a, r)| (a.clone(), r.clone()))
            .collect::<Vec<_>>()
    };
    let all = collect(&mut view, Duration::from_secs(5), |all| {
        !pick(all).is_empty()
    });
    assert!(child.wait().unwrap().success());
    let resets = pick(&all);
    assert_eq!(resets.len(), 1);
    let (a, r) = &resets[0];
    assert_eq!(r.reason.as_deref(), Some("NO_SOCKET"));
    assert!(
        r.dst
            .is_some_and(|d| d.ip() == server.ip() && d.port() != 0)
    );
    let (client, _) = a.client.as_ref().expect("the IPv6 client is named");
    assert_eq!((client.pid, client.comm.as_str()), (pid, "sixd"));
    assert_eq!(a.client_local, r.dst);
}

// ---- the same facts through `rsthound watch`: fused into its RST lines and findings ----

/// The `rst` records of a watch run whose RST came from `port`.
fn rsts_from(done: &live::Finished, port: u16) -> Vec<serde_json::Value> {
    done.json("rst")
        .into_iter()
        .filter(|r| r["sport"] == port)
        .collect()
}

#[test]
fn watch_gives_each_refused_attempt_the_kernel_reason_and_the_client_process() {
    if !privileged("watch_gives_each_refused_attempt_the_kernel_reason_and_the_client_process") {
        return;
    }
    let ns = Netns::new("kw1");
    let bin = named("collectord");
    let w = live::Watch::start(&["--netns", &ns.name, "--json"]);
    let mut cmd = bin.command("retry2@127.0.0.1:7211");
    let pid = ns.run(move || {
        let mut c = cmd.spawn().unwrap();
        assert!(c.wait().unwrap().success());
        c.id()
    });
    std::thread::sleep(Duration::from_millis(400));
    let done = w.interrupt();
    let rsts = rsts_from(&done, 7211);
    assert_eq!(
        rsts.len(),
        2,
        "stdout:\n{}\nstderr:\n{}",
        done.stdout,
        done.stderr
    );
    for r in &rsts {
        assert_eq!(r["verdict"], "refused", "{r}");
        assert_eq!(r["kernel"]["origin"], "stack", "{r}");
        assert_eq!(r["kernel"]["reason"], "NO_SOCKET", "{r}");
        assert_eq!(r["kernel"]["client"]["comm"], "collectord", "{r}");
        assert_eq!(r["kernel"]["client"]["pid"], pid, "{r}");
    }
    let summary = &done.json("summary")[0];
    assert_eq!(summary["kernel"]["lost_records"], 0, "{summary}");
    let failed = &summary["kernel"]["failed_connects"];
    assert!(
        failed
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["process"]["comm"] == "collectord"
                && f["remote"] == "127.0.0.1:7211"
                && f["count"] == 2),
        "{summary}"
    );
    // The finding names the client process too.
    assert!(
        done.stderr.contains(&format!("collectord[{pid}]")),
        "{}",
        done.stderr
    );
}

#[test]
fn watch_names_the_server_that_closed_with_unread_data() {
    if !privileged("watch_names_the_server_that_closed_with_unread_data") {
        return;
    }
    let ns = Netns::new("kw2");
    let bin = named("abortd");
    let server: SocketAddr = "127.0.0.1:7222".parse().unwrap();
    let w = live::Watch::start(&["--netns", &ns.name, "--json"]);
    let (mut child, _out) = spawn_ready(&ns, bin.command(&format!("abort-server@{server}")));
    let pid = child.id();
    ns.run(move || {
        let mut s = TcpStream::connect(server).unwrap();
        s.write_all(b"unread request").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.read(&mut [0u8; 16]);
    });
    assert!(child.wait().unwrap().success());
    std::thread::sleep(Duration::from_millis(400));
    let done = w.interrupt();
    let rsts = rsts_from(&done, 7222);
    assert_eq!(rsts.len(), 1, "stdout:\n{}", done.stdout);
    let k = &rsts[0]["kernel"];
    assert_eq!(k["reason"], "TCP_ABORT_ON_CLOSE", "{k}");
    assert_eq!(k["sender"]["comm"], "abortd", "{k}");
    assert_eq!(k["sender"]["pid"], pid, "{k}");
}

#[test]
fn watch_attributes_a_linger_zero_abort_to_the_closing_process() {
    if !privileged("watch_attributes_a_linger_zero_abort_to_the_closing_process") {
        return;
    }
    let ns = Netns::new("kw3");
    let bin = named("lingerer");
    let server: SocketAddr = "127.0.0.1:7233".parse().unwrap();
    let listener = ns.run(move || TcpListener::bind(server).unwrap());
    let w = live::Watch::start(&["--netns", &ns.name, "--json"]);
    let mut cmd = bin.command(&format!("linger@{server}"));
    cmd.stdin(Stdio::piped());
    let (mut child, _out) = spawn_ready(&ns, cmd);
    let pid = child.id();
    let (conn, _) = listener.accept().unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    drop(conn);
    std::thread::sleep(Duration::from_millis(400));
    let done = w.interrupt();
    let rst = done
        .json("rst")
        .into_iter()
        .find(|r| r["dport"] == 7233)
        .unwrap_or_else(|| panic!("no RST to 7233:\n{}", done.stdout));
    let k = &rst["kernel"];
    assert_eq!(k["origin"], "stack", "{k}");
    assert_eq!(k["sender"]["comm"], "lingerer", "{k}");
    assert_eq!(k["sender"]["pid"], pid, "{k}");
}

#[test]
fn watch_names_a_client_that_lived_a_few_milliseconds() {
    if !privileged("watch_names_a_client_that_lived_a_few_milliseconds") {
        return;
    }
    let ns = Netns::new("kw4");
    let bin = named("blinkd");
    let w = live::Watch::start(&["--netns", &ns.name, "--json"]);
    let mut cmd = bin.command("once@127.0.0.1:7214");
    let (pid, lived) = ns.run(move || {
        let t = Instant::now();
        let mut c = cmd.spawn().unwrap();
        assert!(c.wait().unwrap().success(), "the client was not refused");
        (c.id(), t.elapsed())
    });
    std::thread::sleep(Duration::from_millis(400));
    let done = w.interrupt();
    let rsts = rsts_from(&done, 7214);
    assert_eq!(rsts.len(), 1, "stdout:\n{}", done.stdout);
    assert_eq!(rsts[0]["kernel"]["client"]["comm"], "blinkd", "{}", rsts[0]);
    assert_eq!(rsts[0]["kernel"]["client"]["pid"], pid, "{}", rsts[0]);
    eprintln!("short-lived client under watch: lived {lived:?}");
}

/// Three connects from `ns` to `port`, each refused.
fn refused_three_times(ns: &Netns, port: SocketAddr) {
    ns.run(move || {
        for _ in 0..3 {
            assert!(TcpStream::connect(port).is_err());
        }
    });
}

#[test]
fn watch_names_the_process_that_stopped_listening_before_the_refusals() {
    if !privileged("watch_names_the_process_that_stopped_listening_before_the_refusals") {
        return;
    }
    let ns = Netns::new("kw5");
    let bin = named("collector-agent");
    let port: SocketAddr = "127.0.0.1:7211".parse().unwrap();
    let mut cmd = bin.command(&format!("listen@{port}"));
    cmd.stdin(Stdio::piped());
    let (mut child, _out) = spawn_ready(&ns, cmd);
    let pid = child.id();
    let w = live::Watch::start(&["--netns", &ns.name, "--json"]);
    // The service stops while watch runs; then its clients are refused.
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    std::thread::sleep(Duration::from_millis(200));
    refused_three_times(&ns, port);
    std::thread::sleep(Duration::from_millis(400));
    let done = w.interrupt();
    let summary = &done.json("summary")[0];
    let stopped = summary["listeners"]["stopped"].as_array().unwrap();
    assert!(
        stopped.iter().any(|s| s["address"] == "127.0.0.1:7211"
            && s["process"] == "collector-agent"
            && s["pid"] == pid
            && s["exact"] == true),
        "{summary}"
    );
    let line = format!(
        "nothing listens on 127.0.0.1:7211 now; collector-agent (pid {pid}) listened there until"
    );
    assert!(done.stderr.contains(&line), "{}", done.stderr);
}

#[test]
fn watch_names_the_listener_whose_accept_queue_overflows_and_what_to_raise() {
    if !privileged("watch_names_the_listener_whose_accept_queue_overflows_and_what_to_raise") {
        return;
    }
    let ns = Netns::new("kw6");
    let bin = named("slowacceptd");
    let port: SocketAddr = "127.0.0.1:7300".parse().unwrap();
    let mut cmd = bin.command(&format!("listen1@{port}"));
    cmd.stdin(Stdio::piped());
    let (mut child, _out) = spawn_ready(&ns, cmd);
    let pid = child.id();
    let w = live::Watch::start(&["--netns", &ns.name, "--json"]);
    // 50 clients at once against a backlog of 1 that is never accepted.
    ns.run(move || {
        let clients: Vec<_> = (0..50)
            .map(|_| {
                std::thread::spawn(move || {
                    TcpStream::connect_timeout(&port, Duration::from_millis(1500))
                })
            })
            .collect();
        for c in clients {
            let _ = c.join();
        }
    });
    let done = w.interrupt();
    drop(child.stdin.take());
    let _ = child.wait();
    let summary = &done.json("summary")[0];
    let over = summary["listeners"]["overflowing"].as_array().unwrap();
    let l = over
        .iter()
        .find(|o| o["address"] == "127.0.0.1:7300")
        .unwrap_or_else(|| panic!("{summary}"));
    assert_eq!(l["process"], "slowacceptd", "{l}");
    assert_eq!(l["pid"], pid, "{l}");
    assert_eq!(l["backlog"], 1, "{l}");
    assert!(l["queue"].as_u64().unwrap() >= 1, "{l}");
    assert!(
        l["advice"].as_array().unwrap().iter().any(|a| a
            .as_str()
            .unwrap()
            .contains("raise the backlog the application passes to listen()")),
        "{l}"
    );
    assert!(
        summary["counters"]["ListenOverflows"].as_i64().unwrap() > 0,
        "{summary}"
    );
    assert!(
        done.stderr
            .contains("accept queue full: 127.0.0.1:7300 (slowacceptd"),
        "{}",
        done.stderr
    );
}

// ---- `watch --write`, then `read` of that file on its own: the same reasons and processes ----

#[test]
fn read_of_a_watch_written_pcapng_shows_the_kernel_reason_and_the_client() {
    if !privileged("read_of_a_watch_written_pcapng_shows_the_kernel_reason_and_the_client") {
        return;
    }
    let ns = Netns::new("kw9");
    let bin = named("collectord");
    let file = bin.dir.join("kept.pcapng");
    let w = live::Watch::start(&["--netns", &ns.name, "--write", file.to_str().unwrap()]);
    let mut cmd = bin.command("retry2@127.0.0.1:7211");
    let pid = ns.run(move || {
        let mut c = cmd.spawn().unwrap();
        assert!(c.wait().unwrap().success());
        c.id()
    });
    std::thread::sleep(Duration::from_millis(400));
    let done = w.interrupt();
    assert!(file.exists(), "no file written; stderr:\n{}", done.stderr);
    let read = |extra: &[&str]| {
        let out = Command::new(live::rsthound_bin())
            .arg("read")
            .args(extra)
            .arg(&file)
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (json, stderr) = read(&["--json"]);
    let rsts: Vec<serde_json::Value> = json
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["type"] == "rst" && r["sport"] == 7211)
        .collect();
    assert_eq!(
        rsts.len(),
        2,
        "read --json:\n{json}\nstderr:\n{stderr}\nwatch stderr:\n{}",
        done.stderr
    );
    for r in &rsts {
        assert_eq!(r["verdict"], "refused", "{r}");
        assert_eq!(r["kernel"]["origin"], "stack", "{r}");
        assert_eq!(r["kernel"]["reason"], "NO_SOCKET", "{r}");
        assert_eq!(r["kernel"]["client"]["comm"], "collectord", "{r}");
        assert_eq!(r["kernel"]["client"]["pid"], pid, "{r}");
    }
    let (text, stderr) = read(&[]);
    let needle = format!("· kernel: NO_SOCKET · client collectord[{pid}]");
    assert_eq!(
        text.lines().filter(|l| l.contains(&needle)).count(),
        2,
        "read:\n{text}\nstderr:\n{stderr}"
    );
    // The same file read single-threaded says the same.
    let (single, _) = read(&["--single-thread"]);
    assert_eq!(single, text);
    // And so does the file read from standard input (the threaded reader).
    let (piped, stderr) = read_stdin(&file, &[]);
    assert_eq!(rst_lines(&piped), rst_lines(&text), "stderr:\n{stderr}");
    let (piped_json, _) = read_stdin(&file, &["--json"]);
    assert_eq!(rst_records(&piped_json), rst_records(&json));
}

/// `cat FILE | rsthound read ARGS… -`: (stdout, stderr).
fn read_stdin(file: &std::path::Path, args: &[&str]) -> (String, String) {
    let out = Command::new(live::rsthound_bin())
        .arg("read")
        .args(args)
        .arg("-")
        .stdin(std::fs::File::open(file).unwrap())
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `rst` records of JSON lines, without the name of the file they came from (`<stdin>`
/// for standard input).
fn rst_records(json: &str) -> Vec<serde_json::Value> {
    json.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["type"] == "rst")
        .map(|mut r| {
            r.as_object_mut().map(|o| o.remove("file"));
            r
        })
        .collect()
}

/// The RST lines of text output (each has its verdict after ` | `).
fn rst_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.contains(" [R")).collect()
}

/// A capture `watch --write` made (the sample, taken as root with kernel events on) read from
/// standard input, which the threaded reader takes, shows the kernel's reason and the client
/// process on every RST, exactly as reading the file by name does. No privilege needed.
#[test]
fn a_watch_written_capture_read_from_stdin_keeps_the_kernel_notes() {
    let file = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/founding-story-live.pcapng"
    ));
    let by_name = |args: &[&str]| {
        let out = Command::new(live::rsthound_bin())
            .arg("read")
            .args(args)
            .arg(file)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (json, stderr) = read_stdin(file, &["--json"]);
    let rsts = rst_records(&json);
    assert_eq!(rsts.len(), 10, "{json}\nstderr:\n{stderr}");
    for r in &rsts {
        assert_eq!(r["kernel"]["origin"], "stack", "{r}");
        assert_eq!(r["kernel"]["reason"], "NO_SOCKET", "{r}");
        assert_eq!(r["kernel"]["client"]["comm"], "collectord", "{r}");
    }
    assert_eq!(rsts, rst_records(&by_name(&["--json"])));
    let (text, stderr) = read_stdin(file, &[]);
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("· kernel: NO_SOCKET · client collectord["))
            .count(),
        10,
        "{text}\nstderr:\n{stderr}"
    );
    assert_eq!(rst_lines(&text), rst_lines(&by_name(&[])));
    assert!(!stderr.contains("could not be read"), "{stderr}");
}

/// The writer (a sink) and the reader (a source) cannot share the prefix and the size limit by
/// import: they must agree.
#[test]
fn kernel_comment_prefix_and_limit_agree_between_writer_and_reader() {
    use rsthound::{sink, source};
    assert_eq!(
        sink::pcapng::KERNEL_COMMENT_PREFIX.as_bytes(),
        source::capture::KERNEL_COMMENT_PREFIX
    );
    assert_eq!(
        sink::pcapng::MAX_KERNEL_COMMENT,
        source::capture::MAX_KERNEL_COMMENT
    );
}

/// With `net.ipv4.tcp_abort_on_overflow = 1`, a client whose final ACK finds the accept queue
/// full gets a RST. On loopback each handshake completes in the SYN's own softirq, so the queue
/// is never full with handshakes pending; an nftables rule holds the clients' ACKs back for
/// 500 ms (what a long round trip does), and the ones retransmitted after it find the queue full.
#[test]
fn watch_ties_the_rsts_of_tcp_abort_on_overflow_to_the_full_listener() {
    if !privileged("watch_ties_the_rsts_of_tcp_abort_on_overflow_to_the_full_listener") {
        return;
    }
    let ns = Netns::new("kw7");
    ns.sysctl("net.ipv4.tcp_abort_on_overflow=1");
    let nft = |rule: &str| live::run("ip", &["netns", "exec", &ns.name, "nft", rule]);
    let bin = named("slowacceptd");
    // A port of its own: the kernel's LISTEN events are global, and another test's listener on
    // 127.0.0.1:7300 in its own namespace would be indistinguishable by address alone.
    let port: SocketAddr = "127.0.0.1:7301".parse().unwrap();
    let mut cmd = bin.command(&format!("listen1@{port}"));
    cmd.stdin(Stdio::piped());
    let (mut child, _out) = spawn_ready(&ns, cmd);
    let pid = child.id();
    let w = live::Watch::start(&["--netns", &ns.name, "--json"]);
    // Client A's handshake gets the listener's one request slot, its ACK held back; then two
    // clients fill the accept queue (backlog 1 holds 2); then A's ACK goes through and finds it
    // full. Deterministic: only A had a request socket (later SYNs got SYN cookies).
    nft("add table inet hold");
    nft("add chain inet hold in { type filter hook input priority 0; }");
    nft("add rule inet hold in tcp sport 40001 tcp flags & (syn|rst) == 0 drop");
    let name = ns.name.clone();
    let resets = ns.run(move || {
        let a = std::thread::spawn(move || {
            let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
            s.set_reuse_address(true)?;
            s.bind(&"127.0.0.1:40001".parse::<SocketAddr>().unwrap().into())?;
            s.connect_timeout(&port.into(), Duration::from_secs(3))?;
            let mut s: TcpStream = s.into();
            s.set_read_timeout(Some(Duration::from_secs(3)))?;
            s.write_all(b"x")?;
            s.read(&mut [0u8; 1])
        });
        std::thread::sleep(Duration::from_millis(200));
        let fill: Vec<_> = (0..2).map(|_| TcpStream::connect(port)).collect();
        std::thread::sleep(Duration::from_millis(200));
        live::run(
            "ip",
            &["netns", "exec", &name, "nft", "delete table inet hold"],
        );
        let r = a.join().unwrap();
        drop(fill);
        usize::from(r.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset))
    });
    // The packet ring hands over a block when it fills or times out.
    std::thread::sleep(Duration::from_millis(400));
    let done = w.interrupt();
    drop(child.stdin.take());
    let _ = child.wait();
    assert!(resets > 0, "no client was reset\n{}", done.stderr);
    let tied: Vec<_> = rsts_from(&done, 7301)
        .into_iter()
        .filter(|r| !r["kernel"]["listener_reset"].is_null())
        .collect();
    assert_eq!(
        tied.len(),
        resets,
        "every client reset is one RST tied to the listener\n{}",
        done.stdout
    );
    for r in &tied {
        let k = &r["kernel"];
        assert_eq!(k["origin"], "stack", "{r}");
        assert_eq!(k["reason"], "INVALID_SYN", "{r}");
        let l = &k["listener_reset"];
        assert_eq!(l["listener"], "127.0.0.1:7301", "{r}");
        assert_eq!(l["process"], "slowacceptd", "{r}");
        assert_eq!(l["pid"], pid, "{r}");
        assert_eq!(l["abort_on_overflow"], 1, "{r}");
    }
    let line = format!(
        "accept queue of 127.0.0.1:7301 (slowacceptd pid {pid}) full: tcp_abort_on_overflow=1 resets clients"
    );
    assert!(done.stderr.contains(&line), "{}", done.stderr);
    eprintln!("{resets} clients reset; watch said:\n{}", done.stderr);
}

/// The tracepoints are global: a listener that starts and stops in ANOTHER namespace on the
/// same address must not be taken for one of the watched namespace's. Refusals there are
/// "nothing listens", with no past listener named.
#[test]
fn watch_ignores_listeners_of_other_namespaces() {
    if !privileged("watch_ignores_listeners_of_other_namespaces") {
        return;
    }
    let (watched, other) = (Netns::new("kw9a"), Netns::new("kw9b"));
    let bin = named("elsewhere-d");
    let port: SocketAddr = "127.0.0.1:7216".parse().unwrap();
    let w = live::Watch::start(&["--netns", &watched.name, "--json"]);
    // Another namespace's service starts and stops while watch runs.
    let mut cmd = bin.command(&format!("listen@{port}"));
    cmd.stdin(Stdio::piped());
    let (mut child, _out) = spawn_ready(&other, cmd);
    std::thread::sleep(Duration::from_millis(300));
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    std::thread::sleep(Duration::from_millis(300));
    // Clients in the watched namespace are refused on the same address.
    refused_three_times(&watched, port);
    std::thread::sleep(Duration::from_millis(400));
    let done = w.interrupt();
    let summary = &done.json("summary")[0];
    let stopped = summary["listeners"]["stopped"].as_array().unwrap();
    assert!(
        !stopped.iter().any(|s| s["address"] == "127.0.0.1:7216"),
        "another namespace's listener taken for this one's: {summary}"
    );
    assert!(
        !done.stderr.contains("elsewhere-d"),
        "another namespace's process named: {}",
        done.stderr
    );
    assert_eq!(done.json("rst").len(), 3, "{}", done.stdout);
    // Said, not silently dropped: its start and its stop were left out.
    assert!(
        summary["kernel"]["listen_elsewhere"].as_u64().unwrap() >= 2,
        "{summary}"
    );
}
