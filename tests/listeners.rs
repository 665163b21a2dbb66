//! `rsthound listeners` against real listeners, in network namespaces the tests create: a
//! server process (this test binary, re-executed under a distinctive name) listens, real
//! clients overflow its accept queue, and the command must name the listener, the process, the
//! full queue, the drops and what to raise.

mod live;

use live::{Netns, privileged, rsthound_bin};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The environment variable that makes [`server_role`] act: `ADDR:PORT BACKLOG`.
const SERVE: &str = "RSTHOUND_TEST_LISTEN";
/// The server's command name (comm), distinctive so the test knows it found the right process.
const SERVER_NAME: &str = "rsth-backlogd";

/// Not a test: the server process of the tests below, run by them through the test binary
/// (under the name SERVER_NAME) with SERVE set. Listens with the given backlog, never
/// accepts, says "listening", and exits when its stdin closes.
#[test]
#[ignore = "the server process of the live listener tests, started by them"]
fn server_role() {
    let Ok(spec) = std::env::var(SERVE) else {
        return;
    };
    let (addr, backlog) = spec.split_once(' ').expect("ADDR:PORT BACKLOG");
    let addr: SocketAddr = addr.parse().expect("address");
    let s = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .expect("socket");
    if addr.is_ipv6() {
        s.set_only_v6(true).expect("v6only");
    }
    s.bind(&addr.into()).expect("bind");
    s.listen(backlog.parse().expect("backlog")).expect("listen");
    println!("listening");
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    drop(s);
}

/// The server, killed when dropped.
struct Server {
    child: Child,
    _link: PathBuf,
}

impl Server {
    /// Starts the server role inside `ns`, listening on `addr` with `backlog`.
    fn start(ns: &Netns, addr: &str, backlog: u32) -> Server {
        let dir = std::env::temp_dir().join(live::unique("rsth-srv"));
        std::fs::create_dir_all(&dir).unwrap();
        let link = dir.join(SERVER_NAME);
        std::os::unix::fs::symlink(std::env::current_exe().unwrap(), &link).unwrap();
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns.name])
            .arg(&link)
            .args([
                "server_role",
                "--exact",
                "--ignored",
                "--nocapture",
                "--quiet",
            ])
            .env(SERVE, format!("{addr} {backlog}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the server");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            if out.read_line(&mut line).unwrap() == 0 {
                panic!("the server ended before listening");
            }
            if line.trim() == "listening" {
                break;
            }
        }
        Server { child, _link: dir }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._link);
    }
}

/// `rsthound listeners ARGS…`: exit code, stdout, stderr.
fn listeners(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(rsthound_bin())
        .arg("listeners")
        .args(args)
        .output()
        .expect("run rsthound listeners");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn listener<'a>(objs: &'a [serde_json::Value], addr: &str, port: u16) -> &'a serde_json::Value {
    objs.iter()
        .find(|o| o["type"] == "listener" && o["address"] == addr && o["port"] == port)
        .unwrap_or_else(|| panic!("no listener {addr} {port} in {objs:#?}"))
}

/// A TcpExt counter of the calling thread's namespace.
fn tcpext_here(name: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/thread-self/net/netstat").unwrap();
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("TcpExt:")).collect();
    let keys: Vec<&str> = rows[0].split_whitespace().collect();
    let vals: Vec<&str> = rows[1].split_whitespace().collect();
    let i = keys.iter().position(|k| *k == name).unwrap();
    vals[i].parse().unwrap()
}

#[test]
fn overflowing_listener_is_named_with_its_process_and_what_to_raise() {
    if !privileged("overflowing_listener_is_named_with_its_process_and_what_to_raise") {
        return;
    }
    let ns = Netns::new("lq");
    let server = Server::start(&ns, "127.0.0.1:7211", 1);
    // 50 concurrent clients; the server never accepts. Two fit in the queue (backlog + 1), the
    // SYNs of the others are dropped, and the clients stay open while rsthound looks.
    let (clients, overflows) = ns.run(|| {
        let clients: Vec<socket2::Socket> = (0..50)
            .map(|_| {
                let c = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                    .unwrap();
                c.set_nonblocking(true).unwrap();
                let _ = c.connect(&"127.0.0.1:7211".parse::<SocketAddr>().unwrap().into());
                c
            })
            .collect();
        std::thread::sleep(Duration::from_millis(500));
        (clients, tcpext_here("ListenOverflows"))
    });
    assert!(
        overflows > 0,
        "the kernel saw no overflow: the test did not overflow the queue"
    );

    let (code, out, err) = listeners(&["--netns", &ns.name, "--json"]);
    assert_eq!(code, Some(0), "stderr: {err}");
    let objs = json_lines(&out);
    assert_eq!(objs[0]["type"], "sysctls");
    let somaxconn = ns.run(|| {
        std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap()
    });
    assert_eq!(objs[0]["somaxconn"], somaxconn);
    let l = listener(&objs, "127.0.0.1", 7211);
    assert_eq!(l["backlog"], 1);
    assert!(l["queue"].as_u64().unwrap() >= 1, "{l}");
    let drops = l["drops"].as_u64().unwrap();
    assert!(drops > 0, "{l}");
    // Socket drops of this one listener cannot exceed the namespace's ListenDrops.
    let listen_drops = ns.run(|| tcpext_here("ListenDrops"));
    assert!(
        drops <= listen_drops,
        "drops {drops} > ListenDrops {listen_drops}"
    );
    assert_eq!(l["state"], "full");
    assert_eq!(l["limited_by"], "application");
    assert_eq!(l["advice"][0], "raise_listen_backlog", "{l}");
    let procs = l["processes"].as_array().unwrap();
    assert_eq!(procs.len(), 1, "{l}");
    assert_eq!(procs[0]["pid"], server.pid());
    assert_eq!(procs[0]["comm"], SERVER_NAME);
    assert!(
        procs[0]["cmdline"]
            .as_str()
            .unwrap()
            .contains("server_role")
    );
    assert_eq!(procs[0]["uid"], 0);

    // The table says the same to a person.
    let (code, text, _) = listeners(&["--netns", &ns.name]);
    assert_eq!(code, Some(0));
    let row = text
        .lines()
        .find(|l| l.starts_with("127.0.0.1:7211 "))
        .unwrap_or_else(|| panic!("no row for 127.0.0.1:7211:\n{text}"));
    assert!(row.contains("FULL"), "{row}");
    assert!(
        row.contains(&format!("{SERVER_NAME} (pid {})", server.pid())),
        "{row}"
    );
    assert!(
        text.contains("raise the backlog the application passes to listen() (now 1;"),
        "{text}"
    );
    drop(clients);
}

#[test]
fn ipv6_listener_on_loopback_is_seen_and_named() {
    if !privileged("ipv6_listener_on_loopback_is_seen_and_named") {
        return;
    }
    let ns = Netns::new("l6");
    let server = Server::start(&ns, "[::1]:7212", 16);
    let (code, out, err) = listeners(&["--netns", &ns.name, "--json"]);
    assert_eq!(code, Some(0), "stderr: {err}");
    let objs = json_lines(&out);
    let l = listener(&objs, "::1", 7212);
    assert_eq!(l["family"], "ipv6");
    assert_eq!(
        (l["queue"].as_u64(), l["backlog"].as_u64()),
        (Some(0), Some(16))
    );
    assert_eq!(l["state"], "ok");
    assert_eq!(l["processes"][0]["pid"], server.pid());
    assert_eq!(l["processes"][0]["comm"], SERVER_NAME);
    // Only this namespace's listeners: the server is the only one.
    assert_eq!(objs.iter().filter(|o| o["type"] == "listener").count(), 1);
    let summary = objs.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["listeners_without_process"], 0);
}

#[test]
fn without_privilege_the_processes_it_could_not_see_are_said() {
    if !privileged("without_privilege_the_processes_it_could_not_see_are_said") {
        return;
    }
    let ns = Netns::new("lu");
    let _server = Server::start(&ns, "127.0.0.1:7213", 8);
    // rsthound as nobody, inside the namespace: root's /proc/PID/fd is closed to it.
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.name, "setpriv"])
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .args([rsthound_bin(), "listeners", "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("sudo setcap cap_sys_ptrace+ep"),
        "no setcap line: {stderr}"
    );
    let objs = json_lines(&String::from_utf8_lossy(&out.stdout));
    let l = listener(&objs, "127.0.0.1", 7213);
    assert_eq!(l["processes"].as_array().unwrap().len(), 0);
    let summary = objs.last().unwrap();
    assert!(
        summary["processes_denied"].as_u64().unwrap() > 0,
        "{summary}"
    );
    assert_eq!(summary["listeners_without_process"], 1);
    let notes = summary["notes"].to_string();
    assert!(notes.contains("CAP_SYS_PTRACE"), "{notes}");
}

#[test]
fn a_namespace_that_does_not_exist_is_one_line_and_exit_1() {
    let (code, out, err) = listeners(&["--netns", "rsth-no-such-namespace-x"]);
    assert_eq!(code, Some(1));
    assert!(out.is_empty(), "{out}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.contains("setcap")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("cannot enter network namespace /run/netns/rsth-no-such-namespace-x")
    );
}

#[test]
fn a_bad_option_is_usage_exit_2() {
    let (code, _, _) = listeners(&["--no-such-option"]);
    assert_eq!(code, Some(2));
}

#[test]
fn abort_on_overflow_is_read_in_the_namespace_and_said() {
    if !privileged("abort_on_overflow_is_read_in_the_namespace_and_said") {
        return;
    }
    let ns = Netns::new("la");
    // Only this namespace's sysctl changes; the host's stays as it is.
    ns.sysctl("net.ipv4.tcp_abort_on_overflow=1");
    let _server = Server::start(&ns, "127.0.0.1:7214", 1);
    let clients = ns.run(|| {
        let c: Vec<socket2::Socket> = (0..10)
            .map(|_| {
                let c = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                    .unwrap();
                c.set_nonblocking(true).unwrap();
                let _ = c.connect(&"127.0.0.1:7214".parse::<SocketAddr>().unwrap().into());
                c
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        c
    });
    let (code, out, err) = listeners(&["--netns", &ns.name, "--json"]);
    assert_eq!(code, Some(0), "stderr: {err}");
    let objs = json_lines(&out);
    assert_eq!(objs[0]["tcp_abort_on_overflow"], 1);
    let l = listener(&objs, "127.0.0.1", 7214);
    assert_eq!(l["state"], "full");
    let advice: Vec<&str> = l["advice"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert!(advice.contains(&"abort_on_overflow_resets"), "{l}");
    // Without --netns: rsthound's own namespace, whose value was not changed.
    let host = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_abort_on_overflow").unwrap();
    let (_, host_out, _) = listeners(&["--json"]);
    assert_eq!(
        json_lines(&host_out)[0]["tcp_abort_on_overflow"].to_string(),
        host.trim()
    );
    drop(clients);
}
