//! Support for the live tests: network namespaces the test creates (and always deletes), code
//! run inside them on a thread, kernel counters read from inside, and `rsthound watch` run as a
//! child with its stderr followed line by line.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// True when the live tests can run (root). Not root: skip with a message, unless CI=true, where
/// a missing privilege is a failure.
pub fn privileged(test: &str) -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        .unwrap_or("");
    if euid == "0" {
        watchdog(test);
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{test}: CI=true but not running as root: live tests need root (network namespaces, CAP_NET_RAW)"
        );
    }
    eprintln!(
        "SKIPPED {test}: live tests need root (network namespaces, CAP_NET_RAW); run them with sudo or CI=true as root"
    );
    false
}

/// How long one live test may run before the whole test binary is stopped: a hung child or a
/// wait that never ends must fail CI, not hold it until its global timeout.
/// `RSTHOUND_LIVE_TEST_LIMIT` (seconds) overrides the default.
const LIVE_TEST_LIMIT: Duration = Duration::from_secs(300);

thread_local! {
    /// Set when the test's thread ends (libtest runs each test on its own thread, and a
    /// thread-local is dropped when its thread exits, by panic too).
    static FINISHED: std::cell::RefCell<Option<Finish>> = const { std::cell::RefCell::new(None) };
}

struct Finish(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Drop for Finish {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Stops the test process, with one line naming the test, if this test's thread is still
/// running after the limit.
fn watchdog(test: &str) {
    let limit = std::env::var("RSTHOUND_LIVE_TEST_LIMIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(LIVE_TEST_LIMIT, Duration::from_secs);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    FINISHED.with(|f| *f.borrow_mut() = Some(Finish(done.clone())));
    let test = test.to_string();
    std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < limit {
            if done.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        // Straight to fd 2: libtest captures eprintln! output, and exit() would discard it.
        let line = format!(
            "{test}: still running after {} s: the live test hung; stopping the test binary\n",
            limit.as_secs()
        );
        let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
        std::process::exit(101);
    });
}

pub fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd} not runnable: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A unique short name (interface names have at most 15 bytes).
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}x{}",
        std::process::id() % 100_000,
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// A network namespace made by the test, with `lo` up; deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(prefix: &str) -> Netns {
        let name = unique(&format!("rsth-{prefix}"));
        run("ip", &["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.name))
    }

    /// Sets one sysctl of this namespace only (`net.ipv4.…=VALUE`; the host's stays as it is).
    pub fn sysctl(&self, setting: &str) {
        run(
            "ip",
            &["netns", "exec", &self.name, "sysctl", "-qw", setting],
        );
    }

    /// `ip -n NAME ARGS…`
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        run("ip", &all);
    }

    /// Runs `f` on a thread inside the namespace and returns its result.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = self.path();
        std::thread::spawn(move || {
            rsthound::sys::netns::enter(&path).expect("enter netns");
            f()
        })
        .join()
        .expect("thread in netns panicked")
    }

    /// Starts `f` on a thread inside the namespace.
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = self.path();
        std::thread::spawn(move || {
            rsthound::sys::netns::enter(&path).expect("enter netns");
            f()
        })
    }

    /// A `Tcp:` counter of this namespace (OutRsts, AttemptFails…).
    pub fn tcp_counter(&self, name: &'static str) -> u64 {
        self.run(move || tcp_counter_here(name))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A `Tcp:` counter of the calling thread's namespace (`/proc/thread-self/net`: `/proc/self/net`
/// follows the main thread's namespace).
pub fn tcp_counter_here(name: &str) -> u64 {
    let snmp = std::fs::read_to_string("/proc/thread-self/net/snmp").expect("read snmp");
    let rows: Vec<&str> = snmp.lines().filter(|l| l.starts_with("Tcp:")).collect();
    let keys: Vec<&str> = rows[0].split_whitespace().collect();
    let vals: Vec<&str> = rows[1].split_whitespace().collect();
    let i = keys.iter().position(|k| *k == name).expect("counter");
    vals[i].parse().expect("number")
}

/// A veth pair between two namespaces, addressed `10.X.0.1/24` (in `a`) and `10.X.0.2/24` (in
/// `b`). Deleting either namespace deletes the pair.
pub fn veth(a: &Netns, b: &Netns, subnet: u8) -> (String, String) {
    let (va, vb) = (unique("rva"), unique("rvb"));
    run(
        "ip",
        &[
            "link", "add", &va, "netns", &a.name, "type", "veth", "peer", "name", &vb, "netns",
            &b.name,
        ],
    );
    a.ip(&["addr", "add", &format!("10.{subnet}.0.1/24"), "dev", &va]);
    b.ip(&["addr", "add", &format!("10.{subnet}.0.2/24"), "dev", &vb]);
    a.ip(&["link", "set", &va, "up"]);
    b.ip(&["link", "set", &vb, "up"]);
    (va, vb)
}

/// `rsthound watch` running as a child, its stderr followed line by line.
pub struct Watch {
    pub child: Child,
    lines: Receiver<String>,
    pub stderr: Vec<String>,
}

pub fn rsthound_bin() -> &'static str {
    env!("CARGO_BIN_EXE_rsthound")
}

impl Watch {
    /// Starts `rsthound watch ARGS…` and waits for its banner (the socket is open then).
    pub fn start(args: &[&str]) -> Watch {
        Watch::start_with(Command::new(rsthound_bin()).arg("watch").args(args))
    }

    pub fn start_with(cmd: &mut Command) -> Watch {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rsthound watch");
        let err = child.stderr.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut w = Watch {
            child,
            lines,
            stderr: Vec::new(),
        };
        w.wait_for_line("rsthound: kernel filter", Duration::from_secs(10));
        w
    }

    /// Waits until a stderr line contains `needle`; panics with everything seen on timeout.
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> String {
        if let Some(l) = self.stderr.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        let until = Instant::now() + timeout;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stderr.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no stderr line with {needle:?} within {timeout:?}; stderr so far:\n{}",
                    self.stderr.join("\n")
                ),
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGINT (as Ctrl-C does) and collects stdout and the rest of stderr.
    pub fn interrupt(self) -> Finished {
        run("kill", &["-INT", &self.pid().to_string()]);
        self.wait()
    }

    /// Waits for the child to end by itself (`--duration`, `--count`).
    pub fn wait(mut self) -> Finished {
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let status = self.child.wait().unwrap();
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.stderr.push(l);
        }
        Finished {
            status: status.code(),
            stdout: out,
            stderr: self.stderr.join("\n"),
        }
    }
}

pub struct Finished {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// The JSON objects of type `kind`.
    pub fn json(&self, kind: &str) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
            .filter(|v| v["type"] == kind)
            .collect()
    }
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// This test binary under another name (a symlink in a fresh directory, removed on drop), so
/// that a child it starts has a distinctive command for the kernel to report. The child runs
/// one `#[ignore]`d test (`role_test`) that reads its role from the environment variable
/// `role_env`.
pub struct NamedBinary {
    /// The fresh directory holding the link (a test may keep other files there).
    pub dir: PathBuf,
    pub path: PathBuf,
    role_test: &'static str,
    role_env: &'static str,
}

impl NamedBinary {
    pub fn new(name: &str, role_test: &'static str, role_env: &'static str) -> NamedBinary {
        let dir = std::env::temp_dir().join(unique("rsth-bin"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::os::unix::fs::symlink(std::env::current_exe().unwrap(), &path).unwrap();
        NamedBinary {
            dir,
            path,
            role_test,
            role_env,
        }
    }

    /// The command that runs `role` in a child (stdin and stdout null, stderr inherited).
    pub fn command(&self, role: &str) -> Command {
        let mut c = Command::new(&self.path);
        c.args([
            self.role_test,
            "--exact",
            "--test-threads=1",
            "--nocapture",
            "-q",
        ])
        .env(self.role_env, role)
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
