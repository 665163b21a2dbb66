//! Failed `connect()` calls per process and errno (`syscalls:sys_exit_connect`) through
//! `rsthound watch`, for real: as root, in a network namespace the test creates, with child
//! processes started under distinctive names (this test binary exec'd through a symlink). A
//! connect that never reaches TCP (EADDRNOTAVAIL: the namespace's ephemeral ports are all
//! taken) and a blocking connect refused (ECONNREFUSED) are each counted under the process that
//! made them. Not root: skipped with a message, unless CI=true (then a failure).

mod live;

use live::{Netns, privileged};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
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

/// A symlink named `name` to this test binary, in a fresh directory (kept until dropped).
struct NamedBinary {
    dir: PathBuf,
    path: PathBuf,
}

impl NamedBinary {
    fn new(name: &str) -> NamedBinary {
        let dir = std::env::temp_dir().join(live::unique("rsth-cerr"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::os::unix::fs::symlink(std::env::current_exe().unwrap(), &path).unwrap();
        NamedBinary { dir, path }
    }

    fn command(&self, role: &str) -> Command {
        let mut c = Command::new(&self.path);
        c.args(["cerr_child", "--exact", "--test-threads=1", "-q"])
            .env(ROLE, role)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        c
    }
}

impl Drop for NamedBinary {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
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
    // Two ephemeral ports in this namespace (the range is per namespace), both held by
    // established connections to one local listener: a third connect() to it has no port.
    live::run(
        "ip",
        &[
            "netns",
            "exec",
            &ns.name,
            "sysctl",
            "-q",
            "-w",
            "net.ipv4.ip_local_port_range=40000 40001",
        ],
    );
    let held = ns.run(|| {
        let l = TcpListener::bind("127.0.0.1:9000").unwrap();
        let a = TcpStream::connect("127.0.0.1:9000").unwrap();
        let b = TcpStream::connect("127.0.0.1:9000").unwrap();
        let e = TcpStream::connect("127.0.0.1:9000").expect_err("both ports are held");
        assert_eq!(e.raw_os_error(), Some(libc::EADDRNOTAVAIL), "{e}");
        (l, a, b)
    });
    let w = live::Watch::start(&["--netns", &ns.name, "--json"]);
    let starved = NamedBinary::new("portstarved");
    let starved_pid = run_child(&ns, starved.command("noport3@127.0.0.1:9000"));
    let refused = NamedBinary::new("refusedclient");
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
    let refused = NamedBinary::new("textrefused");
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
