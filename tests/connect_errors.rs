//! Failed `connect()` calls per process and errno (`syscalls:sys_exit_connect`) through
//! `rsthound watch`, for real: as root, in a network namespace the test creates, with child
//! processes started under distinctive names (this test binary exec'd through a symlink). A
//! connect that never reaches TCP (EADDRNOTAVAIL: the namespace's ephemeral ports are all
//! taken) and a blocking connect refused (ECONNREFUSED) are each counted under the process that
//! made them. Not root: skipped with a message, unless CI=true (then a failure).

mod live;

use live::{NamedBinary, Netns, privileged};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

/// Set in a child: which part it plays (see `cerr_child`).
const ROLE: &str = "RSTHOUND_CERR_ROLE";

/// Not a test of its own: the entry point of the child processes (nothing without the variable).
#[test]
fn cerr_child() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let (what, addr) = role.split_once('@').expect("ROLE=what@addr");
    let addr: SocketAddr = addr.parse().unwrap();
    let n: usize = what
        .trim_start_matches(|c: char| c.is_alphabetic())
        .parse()
        .unwrap_or(1);
    let want = if what.starts_with("noport") {
        libc::EADDRNOTAVAIL
    } else {
        libc::ECONNREFUSED
    };
    for _ in 0..n {
        let e = TcpStream::connect(addr).expect_err("this connect must fail");
        assert_eq!(e.raw_os_error(), Some(want), "{e}");
    }
    // Alive a moment, so that procfs names it too (the exec record alone would).
    std::thread::sleep(Duration::from_millis(50));
}

/// This test binary under `name`, running `cerr_child` roles (stdout and stdin null).
fn named(name: &str) -> NamedBinary {
    NamedBinary::new(name, "cerr_child", ROLE)
}

/// Runs `cmd` in `ns` to its end; returns its pid.
fn run_child(ns: &Netns, mut cmd: Command) -> u32 {
    ns.run(move || {
        let mut c = cmd.spawn().unwrap();
        assert!(
            c.wait().unwrap().success(),
            "the child's connect did not fail as expected"
        );
        c.id()
    })
}

/// Two ephemeral ports in `ns` (the range is per namespace), both held by established
/// connections to one local listener on 127.0.0.1:9000: a third connect() to it has no port.
/// Dropping what it returns frees them.
fn hold_all_ports(ns: &Netns) -> (TcpListener, TcpStream, TcpStream) {
    ns.sysctl("net.ipv4.ip_local_port_range=40000 40001");
    ns.run(|| {
        let l = TcpListener::bind("127.0.0.1:9000").unwrap();
        let a = TcpStream::connect("127.0.0.1:9000").unwrap();
        let b = TcpStream::connect("127.0.0.1:9000").unwrap();
        let e = TcpStream::connect("127.0.0.1:9000").expect_err("both ports are held");
        assert_eq!(e.raw_os_error(), Some(libc::EADDRNOTAVAIL), "{e}");
        (l, a, b)
    })
}

/// The summary's connect_errors group of `comm` with `error`.
fn group<'a>(
    summary: &'a serde_json::Value,
    comm: &str,
    error: &str,
) -> Option<&'a serde_json::Value> {
    summary["kernel"]["connect_errors"]
        .as_array()?
        .iter()
        .find(|g| g["process"]["comm"] == comm && g["error"] == error)
}

#[test]
fn connect_errors_are_counted_per_process_and_errno() {
    if !privileged("connect_errors_are_counted_per_process_and_errno") {
        return;
    }
    let ns = Netns::new("cerr");
    let held = hold_all_ports(&ns);
    let w = live::Watch::start(&["--netns", &ns.name, "--json"]);
    let starved = named("portstarved");
    let starved_pid = run_child(&ns, starved.command("noport3@127.0.0.1:9000"));
    let refused = named("refusedclient");
    let refused_pid = run_child(&ns, refused.command("refuse2@127.0.0.1:7311"));
    std::thread::sleep(Duration::from_millis(400));
    let done = w.interrupt();
    drop(held);
    let summary = &done.json("summary")[0];
    let show = format!("stdout:\n{}\nstderr:\n{}", done.stdout, done.stderr);
    assert_eq!(summary["kernel"]["connect_errors_watched"], true, "{show}");
    assert_eq!(summary["kernel"]["lost_records"], 0, "{show}");

    let g = group(summary, "portstarved", "EADDRNOTAVAIL").unwrap_or_else(|| panic!("{show}"));
    assert_eq!(g["count"], 3, "{show}");
    assert_eq!(g["errno"], libc::EADDRNOTAVAIL, "{show}");
    assert_eq!(g["named"], true, "{show}");
    assert_eq!(g["pids"][0], starved_pid, "{show}");

    let g = group(summary, "refusedclient", "ECONNREFUSED").unwrap_or_else(|| panic!("{show}"));
    assert_eq!(g["count"], 2, "{show}");
    assert_eq!(g["pids"][0], refused_pid, "{show}");
    // The refusal is no connect() error of the port-starved client, nor the reverse.
    assert!(
        group(summary, "portstarved", "ECONNREFUSED").is_none(),
        "{show}"
    );
    assert!(
        group(summary, "refusedclient", "EADDRNOTAVAIL").is_none(),
        "{show}"
    );
}

#[test]
fn the_text_summary_names_the_process_the_errno_and_what_it_means() {
    if !privileged("the_text_summary_names_the_process_the_errno_and_what_it_means") {
        return;
    }
    let ns = Netns::new("cerrt");
    let w = live::Watch::start(&["--netns", &ns.name]);
    let refused = named("textrefused");
    let pid = run_child(&ns, refused.command("refuse1@127.0.0.1:7312"));
    std::thread::sleep(Duration::from_millis(400));
    let done = w.interrupt();
    let line = format!("connect() failed in textrefused[{pid}]: ECONNREFUSED ×1 (refused");
    assert!(
        done.stderr.contains(&line) || done.stdout.contains(&line),
        "no line {line:?}\nstdout:\n{}\nstderr:\n{}",
        done.stdout,
        done.stderr
    );
}

/// `diagnose` names exhausted ephemeral ports, which no packet and no counter shows: the
/// connect() calls fail before TCP sends anything.
#[test]
fn diagnose_names_the_process_that_ran_out_of_ephemeral_ports() {
    if !privileged("diagnose_names_the_process_that_ran_out_of_ephemeral_ports") {
        return;
    }
    let ns = Netns::new("cerrd");
    let held = hold_all_ports(&ns);
    let diagnose = Command::new(live::rsthound_bin())
        .args([
            "diagnose",
            "--netns",
            &ns.name,
            "--duration",
            "4s",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // diagnose reads the listeners and opens its sources first.
    std::thread::sleep(Duration::from_millis(1500));
    let starved = named("diagstarved");
    let pid = run_child(&ns, starved.command("noport5@127.0.0.1:9000"));
    let out = diagnose.wait_with_output().unwrap();
    drop(held);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let show = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{show}");
    let records: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let d = records
        .iter()
        .find(|r| r["type"] == "diagnosis" && r["rule"] == "connect_errors")
        .unwrap_or_else(|| panic!("no connect_errors diagnosis: {show}"));
    // At least its five: the other tests of this file run at the same time in namespaces of
    // their own, and a root process's namespace cannot be read once rsthound has dropped its
    // capabilities, so theirs may be counted too (docs/kernel-events.md).
    assert!(d["count"].as_u64().unwrap() >= 5, "{show}");
    assert_eq!(d["severity"], "warning", "{show}");
    let headline = d["headline"].as_str().unwrap();
    assert!(headline.contains("EADDRNOTAVAIL"), "{headline}");
    let named = d["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["processes"].as_array().cloned().unwrap_or_default())
        .any(|p| p["pid"] == pid && p["comm"] == "diagstarved");
    assert!(named, "the process is named with its pid: {show}");
    let causes = d["causes"].to_string();
    assert!(causes.contains("ephemeral ports exhausted"), "{causes}");
    let next = d["next"].to_string();
    assert!(next.contains("ip_local_port_range"), "{next}");
}
