//! `read` parses files strangers wrote: it holds no capability while it does, and cannot gain
//! one again through exec (no_new_privs); it opens its inputs first, so root reads a file only
//! another user may read.

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

/// A directory only `nobody` may enter (0700), for files only `nobody` may read (0600): root
/// opens them with CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH, and with nothing once those are gone.
struct NobodysDir(common::TempDir);

const NOBODY: u32 = 65534;

impl NobodysDir {
    fn new(tag: &str) -> Self {
        let d = common::TempDir::new(tag);
        NobodysDir(d)
    }

    /// Makes `name` nobody's, mode 0600 (a FIFO when `data` is `None`).
    fn add(&self, name: &str, data: Option<&[u8]>) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.0.0.join(name);
        match data {
            Some(data) => std::fs::write(&path, data).unwrap(),
            None => assert!(
                Command::new("mkfifo")
                    .arg(&path)
                    .status()
                    .unwrap()
                    .success()
            ),
        }
        std::os::unix::fs::chown(&path, Some(NOBODY), Some(NOBODY)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }

    /// Closes the directory to everyone but nobody (after the files are in).
    fn close(&self) {
        use std::os::unix::fs::PermissionsExt;
        std::os::unix::fs::chown(&self.0.0, Some(NOBODY), Some(NOBODY)).unwrap();
        std::fs::set_permissions(&self.0.0, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/samples/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn root_reads_another_users_0600_capture_then_holds_nothing() {
    if !live::privileged("root_reads_another_users_0600_capture_then_holds_nothing") {
        return;
    }
    let dir = NobodysDir::new("nobodys-captures");
    let story = sample("founding-story.pcapng");
    let live_story = sample("founding-story-live.pcapng");
    let plain = dir.add("story.pcapng", Some(&story));
    // Compressed: read with read(), not mapped.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &story).unwrap();
    let zipped = dir.add("story.pcapng.gz", Some(&gz.finish().unwrap()));
    // Written by `watch --write`: peeked at for its kernel notes before it is read.
    let noted = dir.add("live.pcapng", Some(&live_story));
    dir.close();
    let expected_rsts = |data: &[u8]| {
        let out = common::rsthound(&["read", "--json", "-"], Some(data));
        common::rst_rows(&out).len()
    };
    let (story_rsts, live_rsts) = (expected_rsts(&story), expected_rsts(&live_story));
    assert!(story_rsts > 0 && live_rsts > 0);
    for mode in [&[][..], &["--single-thread"], &["--no-mmap"]] {
        for (path, rsts) in [
            (&plain, story_rsts),
            (&zipped, story_rsts),
            (&noted, live_rsts),
        ] {
            let path = path.to_str().unwrap();
            let mut args = vec!["read", "--json"];
            args.extend_from_slice(mode);
            args.push(path);
            let out = common::rsthound(&args, None);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(0), "{mode:?} {path}: {stderr}");
            let rows = common::rst_rows(&out);
            assert_eq!(rows.len(), rsts, "{mode:?} {path}: {stderr}");
            if path.ends_with("live.pcapng") {
                // The kernel notes were found: the peek used the file opened before the drop.
                assert!(
                    rows.iter().all(|r| r["kernel"]["reason"] == "NO_SOCKET"),
                    "{mode:?}: kernel notes lost: {}",
                    rows[0]
                );
            }
        }
        // All three in one run, the same one twice: each name opened once per mention.
        let mut args = vec!["read", "-q", "--json"];
        args.extend_from_slice(mode);
        let all = [&plain, &zipped, &noted, &plain];
        args.extend(all.iter().map(|p| p.to_str().unwrap()));
        let out = common::rsthound(&args, None);
        assert_eq!(out.status.code(), Some(0), "{mode:?}");
        assert_eq!(
            common::rst_rows(&out).len(),
            3 * story_rsts + live_rsts,
            "{mode:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Without the capabilities root reads it with, the same file cannot be opened at all: what
    // the test reads is really out of reach once they are gone.
    let out = Command::new("setpriv")
        .args(["--inh-caps=-all", "--bounding-set=-all", "--"])
        .arg(env!("CARGO_BIN_EXE_rsthound"))
        .args(["read", plain.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Permission denied"), "{stderr}");
}

#[test]
fn read_holds_no_capability_while_reading() {
    if !live::privileged("read_holds_no_capability_while_reading") {
        return;
    }
    // The test itself runs with capabilities: what the child starts with is not zero.
    let mine = status_field("/proc/self/status".as_ref(), "CapEff");
    assert_ne!(mine, "0000000000000000");
    // A FIFO only nobody may open: the child needs its capabilities to open it, and must hold
    // none once it is open and it waits for the first byte.
    let d = NobodysDir::new("least-privilege");
    let fifo = d.add("in.pcap", None);
    d.close();
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
        // The write end opens once the child has opened the read end (non-blocking, so that
        // a child that cannot open it fails the test instead of hanging it).
        let start = Instant::now();
        let mut writer = loop {
            use std::os::unix::fs::OpenOptionsExt;
            match std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&fifo)
            {
                Ok(w) => break w,
                Err(e)
                    if start.elapsed() > Duration::from_secs(10)
                        || child.try_wait().unwrap().is_some() =>
                {
                    let _ = child.kill();
                    let out = child.wait_with_output().unwrap();
                    panic!(
                        "{threads:?}: the child never opened the FIFO ({e}): {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        };
        // A thread of the child then blocks reading the empty FIFO: it has opened its input,
        // and has read nothing yet.
        let start = Instant::now();
        while !tasks(pid).iter().any(|t| {
            std::fs::read_to_string(t.join("wchan")).is_ok_and(|w| w.contains("pipe_read"))
        }) {
            if start.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "never waited for input: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
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
        // A few KiB: the pipe's buffer takes it in one non-blocking write.
        writer.write_all(&sample("founding-story.pcapng")).unwrap();
        drop(writer);
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
