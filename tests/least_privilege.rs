//! `read` parses files strangers wrote: it holds no capability while it does, and cannot gain
//! one again through exec (no_new_privs).

mod common;
#[path = "live/mod.rs"]
mod live;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `Name:\tvalue` from a `status` file under /proc.
fn status_field(status_path: &std::path::Path, name: &str) -> String {
    let status = std::fs::read_to_string(status_path).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

/// The `/proc/PID/task/TID` directories of a process: capabilities are per thread.
fn tasks(pid: u32) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

#[test]
fn read_holds_no_capability_while_reading() {
    if !live::privileged("read_holds_no_capability_while_reading") {
        return;
    }
    // The test itself runs with capabilities: what the child starts with is not zero.
    let mine = status_field("/proc/self/status".as_ref(), "CapEff");
    assert_ne!(mine, "0000000000000000");
    let d = common::TempDir::new("least-privilege");
    let fifo = d.0.join("in.pcap");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for threads in [&[][..], &["--single-thread"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rsthound"))
            .arg("read")
            .args(threads)
            .arg(&fifo)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        // A thread of the child blocks opening the FIFO until a writer comes: it is about to
        // read its input, and has read nothing yet.
        let start = Instant::now();
        while !tasks(pid).iter().any(|t| {
            std::fs::read_to_string(t.join("wchan")).is_ok_and(|w| w.contains("wait_for_partner"))
        }) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "never opened the FIFO"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let tasks = tasks(pid);
        let mut wrong = Vec::new();
        for task in &tasks {
            let status = task.join("status");
            for set in ["CapEff", "CapPrm", "CapInh", "CapAmb", "CapBnd"] {
                let value = status_field(&status, set);
                if value != "0000000000000000" {
                    wrong.push(format!("{set} {value} in {}", task.display()));
                }
            }
            if status_field(&status, "NoNewPrivs") != "1" {
                wrong.push(format!("NoNewPrivs not 1 in {}", task.display()));
            }
        }
        if !wrong.is_empty() || tasks.is_empty() {
            // Not left blocked on the FIFO.
            let _ = child.kill();
            let _ = child.wait();
            panic!("{threads:?}: {wrong:?} (the test's own CapEff is {mine})");
        }
        // And it then reads the capture as usual.
        let sample = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/samples/founding-story.pcapng"
        ))
        .unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&fifo)
            .unwrap()
            .write_all(&sample)
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("[R.]"));
    }
}
