//! `rsthound diagnose` and `rsthound check` for real: as root, each scenario in network
//! namespaces it creates, with real processes under distinctive names (this test binary exec'd
//! through a symlink, so the kernel's `comm` is the symlink's name), real sockets and the RSTs
//! the kernel sends. Each asserts what the on-call engineer would read: the top diagnosis, its
//! key evidence, and `check`'s exit code. Not root: skipped with a message, unless CI=true (then
//! a failure).

mod live;

use live::{NamedBinary, Netns, privileged, rsthound_bin, veth};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Set in a child: which part it plays (see `dg_child`).
const ROLE: &str = "RSTHOUND_DG_ROLE";

/// Not a test of its own: the entry point of the child processes. Without the variable it does
/// nothing. Children run until the test kills them.
#[test]
fn dg_child() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let (what, addr) = role.split_once('@').expect("ROLE=what@addr");
    let addr: SocketAddr = addr.parse().unwrap();
    let ready = || {
        println!("DG-READY");
        std::io::stdout().flush().unwrap();
    };
    match what {
        // Connect to a (closed) port twice a second, forever.
        "refuse-loop" => loop {
            let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
            std::thread::sleep(Duration::from_millis(500));
        },
        // Accept, read to EOF, close normally, forever.
        "server" => {
            let l = TcpListener::bind(addr).unwrap();
            ready();
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                std::thread::spawn(move || {
                    let mut b = Vec::new();
                    let _ = s.read_to_end(&mut b);
                });
            }
        }
        // Listen with a backlog of 1 and never accept.
        "no-accept" => {
            let s =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            s.set_reuse_address(true).unwrap();
            s.bind(&addr.into()).unwrap();
            s.listen(1).unwrap();
            ready();
            loop {
                std::thread::sleep(Duration::from_secs(60));
            }
        }
        // Accept, wait for data, close without reading it, forever.
        "abort-server" => {
            let l = TcpListener::bind(addr).unwrap();
            ready();
            for s in l.incoming() {
                let Ok(s) = s else { continue };
                let mut peek = [0u8; 1];
                let _ = s.peek(&mut peek);
                drop(s);
            }
        }
        // Connect, send, close with SO_LINGER {1, 0}, twice a second.
        "linger-loop" => loop {
            if let Ok(mut s) = TcpStream::connect(addr) {
                let _ = s.write_all(b"hello");
                let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
                std::thread::sleep(Duration::from_millis(50));
                drop(s);
            }
            std::thread::sleep(Duration::from_millis(450));
        },
        // Connect, send data, wait for the server's close, twice a second.
        "send-loop" => loop {
            if let Ok(mut s) = TcpStream::connect(addr) {
                let _ = s.write_all(b"unread data");
                let mut b = [0u8; 16];
                let _ = s.read(&mut b);
            }
            std::thread::sleep(Duration::from_millis(500));
        },
        other => panic!("unknown role {other}"),
    }
}

/// This test binary under `name`, running `dg_child` roles.
fn named(name: &str) -> NamedBinary {
    NamedBinary::new(name, "dg_child", ROLE)
}

/// A child killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

/// Starts `role` of `bin` inside `ns`; waits for `DG-READY` when `wait_ready`.
fn start(ns: &Netns, bin: &NamedBinary, role: &str, wait_ready: bool) -> Running {
    let mut cmd = bin.command(role);
    if wait_ready {
        cmd.stdout(Stdio::piped());
    }
    let mut child = ns.run(move || cmd.spawn().unwrap());
    if wait_ready {
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "child ended early");
            if line.starts_with("DG-READY") {
                break;
            }
        }
        // Keep the pipe open: the child may print more.
        std::mem::forget(out);
    }
    Running(child)
}

fn rsthound(args: &[&str]) -> Output {
    Command::new(rsthound_bin()).args(args).output().unwrap()
}

/// `diagnose --json` in `ns`: the diagnosis records (ranked) and the summary.
fn diagnose(ns: &Netns, secs: &str) -> (Vec<Value>, Value, String) {
    let out = rsthound(&[
        "diagnose",
        "--netns",
        &ns.name,
        "--duration",
        secs,
        "--json",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let summary = records
        .iter()
        .find(|r| r["type"] == "summary")
        .expect("a summary")
        .clone();
    let diagnoses = records
        .into_iter()
        .filter(|r| r["type"] == "diagnosis")
        .collect();
    (diagnoses, summary, stdout)
}

/// `check` in `ns`: exit code and output.
fn check(ns: &Netns, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["check", "--netns", &ns.name, "--duration", "3s"];
    args.extend_from_slice(extra);
    let out = rsthound(&args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

fn evidence<'a>(d: &'a Value, fact: &str) -> Vec<&'a Value> {
    d["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["fact"] == fact)
        .collect()
}

fn processes(d: &Value) -> Vec<(u64, String)> {
    d["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["processes"].as_array().cloned().unwrap_or_default())
        .map(|p| {
            (
                p["pid"].as_u64().unwrap(),
                p["comm"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// (1) The founding story: a client under a distinctive name hits closed 127.0.0.1:7211 twice
/// a second. The top diagnosis names the port, about 2/s, the client's pid and command, and
/// that nothing listens; check warns at the default thresholds.
#[test]
fn founding_story_refused_local_port() {
    if !privileged("founding_story_refused_local_port") {
        return;
    }
    let ns = Netns::new("dg1");
    let bin = named("collectord");
    let client = start(&ns, &bin, "refuse-loop@127.0.0.1:7211", false);
    std::thread::sleep(Duration::from_millis(700));
    let (d, summary, out) = diagnose(&ns, "5s");
    let top = &d[0];
    assert_eq!(top["rule"], "refused_local", "{out}");
    assert_eq!(top["subject"], "127.0.0.1:7211", "{out}");
    let rate = top["per_second"].as_f64().unwrap();
    assert!((1.6..=2.4).contains(&rate), "about 2/s: {rate}\n{out}");
    assert!(
        processes(top).contains(&(u64::from(client.pid()), "collectord".to_string())),
        "{out}"
    );
    assert_eq!(evidence(top, "nothing_listening").len(), 1, "{out}");
    assert!(
        top["headline"]
            .as_str()
            .unwrap()
            .contains("nothing listens on tcp/7211")
    );
    let failed = summary["failed_conn_per_s"].as_f64().unwrap();
    assert!((1.6..=2.4).contains(&failed), "{summary}");
    let (code, text) = check(&ns, &[]);
    assert_eq!(code, 1, "{text}");
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("RSTHOUND WARNING - 127.0.0.1:7211 refused"),
        "{text}"
    );
    assert!(first.contains("| failed_conn_per_s="), "{text}");
    assert!(first.contains(";1;10;0 rst_per_s="), "{text}");
    // Thresholds as ranges: warning only above 5 → OK; critical inside 1:3 → CRITICAL.
    let (code, text) = check(&ns, &["--warn", "5", "--crit", "@1:3"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains(";5;@1:3;0"), "{text}");
}

/// (2) A server in another namespace, its port closed, reached over a veth pair.
#[test]
fn refused_by_a_remote_host() {
    if !privileged("refused_by_a_remote_host") {
        return;
    }
    let (a, b) = (Netns::new("dg2a"), Netns::new("dg2b"));
    veth(&a, &b, 62);
    let bin = named("fetcherd");
    let _client = start(&a, &bin, "refuse-loop@10.62.0.2:7212", false);
    std::thread::sleep(Duration::from_millis(700));
    let (d, _, out) = diagnose(&a, "4s");
    let top = &d[0];
    assert_eq!(top["rule"], "refused_remote", "{out}");
    assert_eq!(top["subject"], "10.62.0.2:7212", "{out}");
    assert!(
        processes(top).iter().any(|(_, c)| c == "fetcherd"),
        "the client is named: {out}"
    );
    let (code, text) = check(&a, &[]);
    assert_eq!(code, 1, "{text}");
}

/// (3) An nftables reject rule in front of a live listener: the RSTs were forged by the
/// firewall, and the listener is named.
#[test]
fn firewall_reject_in_front_of_a_listener() {
    if !privileged("firewall_reject_in_front_of_a_listener") {
        return;
    }
    let ns = Netns::new("dg3");
    let server_bin = named("webd");
    let server = start(&ns, &server_bin, "server@127.0.0.1:7213", true);
    let nft = |rule: &str| {
        live::run("ip", &["netns", "exec", &ns.name, "nft", rule]);
    };
    nft("add table inet rsth");
    nft("add chain inet rsth in { type filter hook input priority 0; }");
    nft("add rule inet rsth in tcp dport 7213 reject with tcp reset");
    let bin = named("poller");
    let _client = start(&ns, &bin, "refuse-loop@127.0.0.1:7213", false);
    std::thread::sleep(Duration::from_millis(700));
    let (d, _, out) = diagnose(&ns, "4s");
    let top = &d[0];
    assert_eq!(top["rule"], "firewall_reject", "{out}");
    assert_eq!(top["subject"], "127.0.0.1:7213", "{out}");
    let listening = evidence(top, "listening");
    assert_eq!(listening.len(), 1, "{out}");
    assert!(
        processes(top).contains(&(u64::from(server.pid()), "webd".to_string())),
        "{out}"
    );
    assert!(processes(top).iter().any(|(_, c)| c == "poller"), "{out}");
    assert!(
        top["next"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("nft list ruleset")),
        "{out}"
    );
}

/// (4) A listener with backlog 1 that never accepts, and 50 clients.
#[test]
fn listen_queue_overflow() {
    if !privileged("listen_queue_overflow") {
        return;
    }
    let ns = Netns::new("dg4");
    let bin = named("slowd");
    let server = start(&ns, &bin, "no-accept@127.0.0.1:7214", true);
    let diag = {
        let name = ns.name.clone();
        std::thread::spawn(move || {
            rsthound(&["diagnose", "--netns", &name, "--duration", "4s", "--json"])
        })
    };
    std::thread::sleep(Duration::from_millis(1000));
    let clients: Vec<_> = (0..50)
        .map(|_| {
            ns.spawn(|| {
                let a: SocketAddr = "127.0.0.1:7214".parse().unwrap();
                TcpStream::connect_timeout(&a, Duration::from_millis(2500)).ok()
            })
        })
        .collect();
    let out = diag.join().unwrap();
    let _conns: Vec<_> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let d: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["type"] == "diagnosis")
        .collect();
    let top = &d[0];
    assert_eq!(top["rule"], "listen_overflow", "{stdout}");
    assert_eq!(top["subject"], "127.0.0.1:7214", "{stdout}");
    let queue = evidence(top, "queue");
    assert!(
        queue[0]["text"].as_str().unwrap().contains("/ backlog 1 "),
        "{stdout}"
    );
    assert!(
        processes(top).contains(&(u64::from(server.pid()), "slowd".to_string())),
        "{stdout}"
    );
    assert!(
        top["causes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().contains("backlog")),
        "{stdout}"
    );
}

/// (5) A server that closes connections with unread data: TCP_ABORT_ON_CLOSE, by process.
#[test]
fn server_closing_with_unread_data() {
    if !privileged("server_closing_with_unread_data") {
        return;
    }
    let ns = Netns::new("dg5");
    let sbin = named("abortd");
    let server = start(&ns, &sbin, "abort-server@127.0.0.1:7215", true);
    let cbin = named("sender");
    let _client = start(&ns, &cbin, "send-loop@127.0.0.1:7215", false);
    std::thread::sleep(Duration::from_millis(500));
    let (d, _, out) = diagnose(&ns, "4s");
    let top = &d[0];
    assert_eq!(top["rule"], "abort_on_close", "{out}");
    assert_eq!(top["subject"], "127.0.0.1:7215", "{out}");
    assert!(
        processes(top).contains(&(u64::from(server.pid()), "abortd".to_string())),
        "{out}"
    );
}

/// (6) Clients aborting with SO_LINGER 0: a notice naming the client (check stays OK on that).
#[test]
fn clients_aborting_with_linger_zero() {
    if !privileged("clients_aborting_with_linger_zero") {
        return;
    }
    let ns = Netns::new("dg6");
    let sbin = named("echod");
    let _server = start(&ns, &sbin, "server@127.0.0.1:7216", true);
    let cbin = named("lingerer");
    let client = start(&ns, &cbin, "linger-loop@127.0.0.1:7216", false);
    std::thread::sleep(Duration::from_millis(500));
    let (d, _, out) = diagnose(&ns, "4s");
    let top = &d[0];
    assert_eq!(top["rule"], "abort_on_linger", "{out}");
    assert_eq!(top["severity"], "notice", "{out}");
    assert!(
        processes(top).contains(&(u64::from(client.pid()), "lingerer".to_string())),
        "{out}"
    );
}

/// (7) One source scanning 200 closed ports: one scan, not 200 refusals.
#[test]
fn a_scan_of_200_closed_ports() {
    if !privileged("a_scan_of_200_closed_ports") {
        return;
    }
    let ns = Netns::new("dg7");
    let diag = {
        let name = ns.name.clone();
        std::thread::spawn(move || {
            rsthound(&["diagnose", "--netns", &name, "--duration", "3s", "--json"])
        })
    };
    std::thread::sleep(Duration::from_millis(1000));
    ns.run(|| {
        for port in 30000..30200u16 {
            let a: SocketAddr = SocketAddr::from(([127, 0, 0, 1], port));
            let _ = TcpStream::connect(a);
        }
    });
    let out = diag.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let d: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["type"] == "diagnosis")
        .collect();
    assert_eq!(d[0]["rule"], "port_scan", "{stdout}");
    assert_eq!(d[0]["subject"], "127.0.0.1", "{stdout}");
    assert!(
        !d.iter().any(|x| x["rule"] == "refused_local"),
        "the scan's refusals are told once: {stdout}"
    );
    let ports = evidence(&d[0], "ports");
    assert!(
        ports[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("200 distinct ports"),
        "{stdout}"
    );
}

/// (8) SYNs to an address whose namespace drops them: unanswered, by process.
#[test]
fn syns_dropped_by_the_peer_namespace() {
    if !privileged("syns_dropped_by_the_peer_namespace") {
        return;
    }
    let (a, b) = (Netns::new("dg8a"), Netns::new("dg8b"));
    veth(&a, &b, 68);
    live::run(
        "ip",
        &["netns", "exec", &b.name, "nft", "add table inet rsth"],
    );
    live::run(
        "ip",
        &[
            "netns",
            "exec",
            &b.name,
            "nft",
            "add chain inet rsth in { type filter hook input priority 0; }",
        ],
    );
    live::run(
        "ip",
        &[
            "netns",
            "exec",
            &b.name,
            "nft",
            "add rule inet rsth in tcp dport 7218 drop",
        ],
    );
    let bin = named("blackholed");
    let client = start(&a, &bin, "refuse-loop@10.68.0.2:7218", false);
    std::thread::sleep(Duration::from_millis(500));
    let (d, _, out) = diagnose(&a, "5s");
    let top = &d[0];
    assert_eq!(top["rule"], "unanswered", "{out}");
    assert_eq!(top["subject"], "10.68.0.2:7218", "{out}");
    assert!(
        processes(top).contains(&(u64::from(client.pid()), "blackholed".to_string())),
        "{out}"
    );
}

/// (9) A healthy busy namespace: thousands of good connections with normal closes. No
/// warning, and check exits 0.
#[test]
fn healthy_busy_namespace() {
    if !privileged("healthy_busy_namespace") {
        return;
    }
    let ns = Netns::new("dg9");
    let sbin = named("webd");
    let _server = start(&ns, &sbin, "server@127.0.0.1:7219", true);
    let diag = {
        let name = ns.name.clone();
        std::thread::spawn(move || {
            rsthound(&["diagnose", "--netns", &name, "--duration", "4s", "--json"])
        })
    };
    std::thread::sleep(Duration::from_millis(800));
    let done = ns.run(|| {
        let a: SocketAddr = "127.0.0.1:7219".parse().unwrap();
        let mut ok = 0;
        for _ in 0..3000 {
            if let Ok(mut s) = TcpStream::connect(a) {
                let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
                let _ = s.shutdown(std::net::Shutdown::Write);
                let mut b = [0u8; 16];
                let _ = s.read(&mut b);
                ok += 1;
            }
        }
        ok
    });
    assert_eq!(done, 3000);
    let out = diag.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let records: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect();
    assert!(
        !records
            .iter()
            .any(|r| r["type"] == "diagnosis" && r["severity"] != "notice"),
        "{stdout}"
    );
    let summary = records.iter().find(|r| r["type"] == "summary").unwrap();
    let healthy = summary["healthy"].as_array().unwrap();
    assert!(
        healthy.iter().any(|h| {
            let h = h.as_str().unwrap();
            h.starts_with("connections: ") && h.contains("closed normally")
        }),
        "{stdout}"
    );
    let (code, text) = check(&ns, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with("RSTHOUND OK - "), "{text}");
}

/// (10) Without privileges (as nobody): the counters and the listeners still tell that
/// connections fail, and the output says what was skipped with the setcap line.
#[test]
fn diagnose_without_privileges() {
    if !privileged("diagnose_without_privileges") {
        return;
    }
    let ns = Netns::new("dg10");
    let bin = named("collectord");
    let _client = start(&ns, &bin, "refuse-loop@127.0.0.1:7211", false);
    std::thread::sleep(Duration::from_millis(500));
    let run = |args: &[&str]| {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--inh-caps=-all",
            rsthound_bin(),
        ])
        .args(args);
        ns.run(move || cmd.output().unwrap())
    };
    let out = run(&["diagnose", "--duration", "3s"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{text}\n{err}");
    let first = text
        .lines()
        .find(|l| l.starts_with("WARNING"))
        .unwrap_or_else(|| panic!("a warning: {text}"));
    assert!(first.contains("failed connection"), "{text}");
    assert!(text.contains("could not check:"), "{text}");
    assert!(text.contains("no CAP_NET_RAW"), "{text}");
    assert!(text.contains("enable: sudo setcap cap_net_raw"), "{text}");
    assert!(text.contains("looked at TCP counters, listeners"), "{text}");
    let out = run(&["check", "--duration", "3s"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("not checked: packets"), "{text}");
}
