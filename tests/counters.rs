//! `rsthound counters` for real: as root, in network namespaces these tests create, with a
//! client refused twice a second and a listener whose accept queue overflows. Not root:
//! skipped with a message, unless CI=true (then a failure).

mod live;

use live::{Netns, privileged, rsthound_bin};
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// `rsthound counters ARGS…` as a child, its stderr followed line by line.
struct Counters {
    child: Child,
    lines: Receiver<String>,
    stderr: Vec<String>,
}

impl Counters {
    /// Starts it and waits for the banner (printed right after the first sample).
    fn start(args: &[&str]) -> Counters {
        let mut child = Command::new(rsthound_bin())
            .arg("counters")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rsthound counters");
        let err = child.stderr.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut c = Counters {
            child,
            lines,
            stderr: Vec::new(),
        };
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            match c
                .lines
                .recv_timeout(until.saturating_duration_since(Instant::now()))
            {
                Ok(l) => {
                    let banner = l.contains("rsthound: TCP counters of");
                    c.stderr.push(l);
                    if banner {
                        return c;
                    }
                }
                Err(_) => panic!("no banner within 10 s; stderr:\n{}", c.stderr.join("\n")),
            }
        }
    }

    /// Waits for it to end (`--count`): (exit code, stdout, stderr).
    fn wait(mut self) -> (Option<i32>, String, String) {
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let status = self.child.wait().unwrap();
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.stderr.push(l);
        }
        (status.code(), out, self.stderr.join("\n"))
    }
}

fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn refused_twice_a_second_is_two_failed_connections_per_second_with_its_onset() {
    if !privileged("counters_refused_twice_a_second") {
        return;
    }
    let ns = Netns::new("cnt");
    let c = Counters::start(&[
        "--netns",
        &ns.name,
        "--interval",
        "1s",
        "--count",
        "5",
        "--json",
    ]);
    let t0 = Instant::now();
    // The first interval stays quiet; the client starts 1.25 s in and connects at .25 and .75
    // of every second after it, away from the interval edges.
    std::thread::sleep(Duration::from_millis(1250));
    let stop = Arc::new(AtomicBool::new(false));
    let attempts = Arc::new(AtomicU64::new(0));
    let client = {
        let (stop, attempts) = (Arc::clone(&stop), Arc::clone(&attempts));
        ns.spawn(move || {
            let start = Instant::now();
            let addr: SocketAddr = "127.0.0.1:7211".parse().unwrap();
            let mut k = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let at = start + Duration::from_millis(500) * k;
                std::thread::sleep(at.saturating_duration_since(Instant::now()));
                match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
                    other => panic!("expected refused, got {other:?}"),
                }
                attempts.fetch_add(1, Ordering::Relaxed);
                k += 1;
            }
        })
    };
    let (code, out, err) = c.wait();
    stop.store(true, Ordering::Relaxed);
    client.join().unwrap();
    assert_eq!(code, Some(0), "stderr:\n{err}");
    assert!(
        t0.elapsed() < Duration::from_secs(9),
        "5 intervals of 1 s took {:?}",
        t0.elapsed()
    );
    let lines = json_lines(&out);
    let intervals: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["type"] == "counters").collect();
    assert_eq!(intervals.len(), 5, "{out}");
    let rate = |i: usize| {
        intervals[i]["failed_connections_per_second"]
            .as_f64()
            .unwrap()
    };
    let rates: Vec<f64> = (0..5).map(rate).collect();
    eprintln!("failed connections/s per interval: {rates:?}");
    assert_eq!(
        rates[0], 0.0,
        "the first interval is before the client: {rates:?}"
    );
    for (i, r) in rates.iter().enumerate().skip(2) {
        assert!(
            (r - 2.0).abs() <= 0.2,
            "interval {i}: {r}/s is not within 10 % of 2.0: {rates:?}"
        );
    }
    // The onset: the interval where it first went above --warn 1/s, with its wall-clock start.
    let crossed: Vec<usize> = (0..5)
        .filter(|&i| intervals[i]["event"] == "crossed")
        .collect();
    assert_eq!(crossed.len(), 1, "{out}");
    let at = crossed[0];
    assert!(at == 1 || at == 2, "onset in interval {at}: {rates:?}");
    let onset = &intervals[at]["onset"];
    assert_eq!(onset["since"], intervals[at - 1]["time"], "{onset}");
    assert_eq!(onset["before_run"], false);
    assert_eq!(intervals[4]["level"], "warn");
    // Each interval's AttemptFails row carries the meaning. The namespace's start is unknown, but
    // it never failed before: new.
    let af = intervals[3]["counters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "AttemptFails")
        .unwrap();
    assert_eq!(af["delta"], 2, "{af}");
    assert!(
        af["meaning"]
            .as_str()
            .unwrap()
            .contains("connection attempts that failed")
    );
    assert_eq!(intervals[3]["novelty"]["verdict"], "new");
    assert_eq!(intervals[3]["novelty"]["total_before"], 0);
    assert!(intervals[3]["novelty"].get("average_per_second").is_none());
    assert!(err.contains("Linux does not say when"), "{err}");
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["onset"]["since"], onset["since"]);
    assert_eq!(summary["above_warn_at_end"], true);
    let delta = summary["counters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "AttemptFails")
        .unwrap()["delta"]
        .as_u64()
        .unwrap();
    let made = attempts.load(Ordering::Relaxed);
    assert!(
        delta <= made && delta + 3 >= made,
        "counted {delta}, made {made}"
    );
    eprintln!("summary: {summary}");
}

#[test]
fn a_listener_that_never_accepts_overflows_and_says_why() {
    if !privileged("counters_listen_overflows") {
        return;
    }
    let ns = Netns::new("cnl");
    // Backlog 1, never accepted.
    let listener = ns.run(|| {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.bind(&"127.0.0.1:7300".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        s.listen(1).unwrap();
        s
    });
    let c = Counters::start(&["--netns", &ns.name, "--interval", "1s", "--count", "3"]);
    let clients = ns.spawn(|| {
        let threads: Vec<_> = (0..50)
            .map(|_| {
                std::thread::spawn(|| {
                    // Kept open until the end; most never get past the full queue.
                    TcpStream::connect_timeout(
                        &"127.0.0.1:7300".parse().unwrap(),
                        Duration::from_secs(2),
                    )
                    .ok()
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect::<Vec<_>>()
    });
    let (code, out, err) = c.wait();
    let connected = clients.join().unwrap();
    drop(listener);
    assert_eq!(code, Some(0), "stderr:\n{err}");
    eprintln!("{out}");
    let overflow_lines: Vec<&str> = out
        .lines()
        .filter(|l| l.contains(" ListenOverflows ") && !l.contains(" 0/s "))
        .collect();
    assert!(
        !overflow_lines.is_empty(),
        "ListenOverflows never moved:\n{out}"
    );
    for l in &overflow_lines {
        assert!(l.contains("accept queue was full"), "{l}");
        assert!(l.contains("/s"), "{l}");
    }
    let drops: Vec<&str> = out
        .lines()
        .filter(|l| l.contains(" ListenDrops ") && !l.contains(" 0/s "))
        .collect();
    assert!(
        !drops.is_empty()
            && drops
                .iter()
                .all(|l| l.contains("every ListenOverflow counts here too")),
        "{out}"
    );
    // The summary row: how many overflowed in all, at least one per client refused a place.
    let summary = out.split("rsthound: 3 intervals").nth(1).expect(&out);
    let row = summary
        .lines()
        .find(|l| l.contains(" ListenOverflows "))
        .unwrap();
    let plus: u64 = row
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_start_matches('+')
        .parse()
        .unwrap();
    let queued = connected.iter().flatten().count() as u64;
    assert!(
        plus >= 50 - queued.min(50) / 2,
        "only {plus} overflows with {queued} of 50 connected: {row}"
    );
    eprintln!("{queued} of 50 clients connected; ListenOverflows +{plus}");
}
