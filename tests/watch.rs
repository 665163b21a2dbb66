//! `rsthound watch` for real: as root, in network namespaces these tests create, with real
//! sockets, real RSTs from the kernel (and from nftables), checked against the namespace's own
//! counters. Not root: skipped with a message, unless CI=true (then a failure).

mod live;

use live::{Netns, Watch, privileged, veth};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

fn refused(addr: &str) {
    match TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2)) {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
        other => panic!("expected a refused connection to {addr}, got {other:?}"),
    }
}

/// A healthy request/response that closes cleanly from both sides (no RST).
fn healthy(addr: &str) {
    let mut s = TcpStream::connect(addr).expect("healthy service answers");
    s.write_all(b"ping").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"pong");
}

/// Serves `healthy` clients until `n` have been answered.
fn serve_healthy(listener: TcpListener, n: usize) {
    for _ in 0..n {
        let (mut s, _) = listener.accept().unwrap();
        let mut req = Vec::new();
        s.read_to_end(&mut req).unwrap();
        s.write_all(b"pong").unwrap();
    }
}

fn rate_in(line: &str) -> f64 {
    let i = line.find("/s").expect("a rate");
    let start = line[..i].rfind('(').expect("(rate") + 1;
    line[start..i].parse().expect("rate number")
}

#[test]
fn founding_story_refused_loopback_connections_counted_exactly_once() {
    if !privileged("founding_story") {
        return;
    }
    let ns = Netns::new("story");
    let w = Watch::start(&["--netns", &ns.name, "--json"]);
    // Privileges are gone once the socket is open.
    let status = std::fs::read_to_string(format!("/proc/{}/status", w.pid())).unwrap();
    let cap_eff = status.lines().find(|l| l.starts_with("CapEff:")).unwrap();
    assert!(cap_eff.ends_with("0000000000000000"), "{cap_eff}");

    let before = ns.tcp_counter("OutRsts");
    // A client hits closed 127.0.0.1:7211 twice a second for 3 s while a healthy service on
    // 127.0.0.1:8080 answers.
    ns.run(|| {
        let listener = TcpListener::bind("127.0.0.1:8080").unwrap();
        let server = std::thread::spawn(move || serve_healthy(listener, 6));
        let start = Instant::now();
        for i in 0..6u32 {
            let due = start + Duration::from_millis(500) * i;
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            refused("127.0.0.1:7211");
            healthy("127.0.0.1:8080");
        }
        server.join().unwrap();
    });
    let provoked = ns.tcp_counter("OutRsts") - before;
    // Blocks are handed over within 50 ms; give the watcher a moment, then stop it as Ctrl-C
    // would.
    std::thread::sleep(Duration::from_millis(400));
    let done = w.interrupt();
    assert_eq!(done.status, Some(0), "stderr:\n{}", done.stderr);

    let rsts = done.json("rst");
    assert_eq!(
        provoked, 6,
        "the namespace's kernel sent one RST per attempt"
    );
    assert_eq!(
        rsts.len() as u64,
        provoked,
        "every refused attempt reported exactly once; stdout:\n{}",
        done.stdout
    );
    for r in &rsts {
        assert_eq!(r["interface"], "lo");
        assert_eq!(r["direction"], "in");
        assert_eq!(r["verdict"], "refused");
        assert_eq!(r["src"], "127.0.0.1");
        assert_eq!(r["sport"], 7211);
    }
    let summary = done.json("summary");
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0]["kernel_drops"], 0);
    assert_eq!(summary[0]["interfaces"], serde_json::json!(["lo"]));
    // The healthy service's connections were tracked, and none of them was reset.
    assert!(summary[0]["connections"].as_u64().unwrap() >= 12);
    let finding = done
        .stderr
        .lines()
        .find(|l| l.contains("127.0.0.1:7211 refused 6 connection attempts"))
        .unwrap_or_else(|| panic!("summary names 127.0.0.1:7211; stderr:\n{}", done.stderr));
    let rate = rate_in(finding);
    assert!((1.5..=2.6).contains(&rate), "about 2/s: {finding}");
    assert!(!done.stderr.contains(":8080 refused"));
    assert!(
        done.stderr.contains("kernel drops: 0 of"),
        "{}",
        done.stderr
    );
}

#[test]
fn veth_refused_and_resets_seen_with_direction() {
    if !privileged("veth") {
        return;
    }
    let client = Netns::new("cli");
    let server = Netns::new("srv");
    let (_va, vb) = veth(&client, &server, 231);
    let kept = std::env::temp_dir().join(format!("rsthound-watch-{}.pcapng", live::unique("w")));
    let kept_s = kept.to_str().unwrap().to_string();
    let w = Watch::start(&["--netns", &server.name, "--json", "--write", &kept_s]);

    // The server: one listener whose handler drops a client without reading what it sent
    // (the kernel answers with a RST: abort on close with unread data), and one that sends data
    // to a client that then closes without reading it (the client's kernel sends the RST).
    let srv = server.spawn(|| {
        let abort = TcpListener::bind("10.231.0.2:8080").unwrap();
        let talk = TcpListener::bind("10.231.0.2:8081").unwrap();
        let (s, _) = abort.accept().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        drop(s); // unread data: RST from the server
        let (mut s, _) = talk.accept().unwrap();
        s.write_all(&[7u8; 1000]).unwrap();
        let mut buf = [0u8; 16];
        let _ = s.read(&mut buf); // ends with the client's RST
    });
    client.run(|| {
        std::thread::sleep(Duration::from_millis(100));
        refused("10.231.0.2:7211");
        let mut s = TcpStream::connect("10.231.0.2:8080").unwrap();
        s.write_all(b"request nobody reads").unwrap();
        std::thread::sleep(Duration::from_millis(500));
        drop(s);
        let s = TcpStream::connect("10.231.0.2:8081").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        drop(s); // 1000 unread bytes: RST from the client
    });
    srv.join().unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let done = w.interrupt();
    let rsts = done.json("rst");
    let by_port = |port: u64| -> Vec<&serde_json::Value> {
        rsts.iter()
            .filter(|r| r["sport"] == port || r["dport"] == port)
            .collect()
    };
    let refused_rst = by_port(7211);
    assert_eq!(refused_rst.len(), 1, "stdout:\n{}", done.stdout);
    assert_eq!(refused_rst[0]["interface"], vb.as_str());
    assert_eq!(refused_rst[0]["direction"], "out");
    assert_eq!(refused_rst[0]["verdict"], "refused");

    let server_reset: Vec<_> = by_port(8080)
        .into_iter()
        .filter(|r| r["src"] == "10.231.0.2")
        .collect();
    assert!(!server_reset.is_empty(), "stdout:\n{}", done.stdout);
    assert_eq!(server_reset[0]["interface"], vb.as_str());
    assert_eq!(server_reset[0]["direction"], "out");
    assert_eq!(server_reset[0]["verdict"], "reset_by_server");

    let client_reset: Vec<_> = by_port(8081)
        .into_iter()
        .filter(|r| r["src"] == "10.231.0.1")
        .collect();
    assert!(!client_reset.is_empty(), "stdout:\n{}", done.stdout);
    assert_eq!(client_reset[0]["interface"], vb.as_str());
    assert_eq!(client_reset[0]["direction"], "in");
    assert_eq!(client_reset[0]["verdict"], "reset_by_client");

    // --write kept the failed and reset connections for Wireshark, readable by `read`.
    let reread = std::process::Command::new(live::rsthound_bin())
        .args(["read", "--json", &kept_s])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&kept);
    assert!(reread.status.success());
    let text = String::from_utf8_lossy(&reread.stdout);
    let kept_rsts = text
        .lines()
        .filter(|l| l.contains(r#""type":"rst""#))
        .count();
    assert_eq!(kept_rsts, rsts.len(), "{text}");
    assert!(text.contains(&format!(r#""interface":"{vb}""#)), "{text}");
}

#[test]
fn firewall_reject_with_tcp_reset_is_forged_by_a_local_rule() {
    if !privileged("firewall") {
        return;
    }
    let client = Netns::new("fwc");
    let server = Netns::new("fws");
    let (_va, vb) = veth(&client, &server, 232);
    let rules = "table inet rsthound_test {\n  chain input {\n    type filter hook input priority 0;\n    tcp dport 9090 reject with tcp reset\n  }\n}\n";
    let mut nft = std::process::Command::new("ip")
        .args(["netns", "exec", &server.name, "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("nft (package nftables)");
    nft.stdin
        .take()
        .unwrap()
        .write_all(rules.as_bytes())
        .unwrap();
    assert!(nft.wait().unwrap().success(), "nft rules loaded");

    let w = Watch::start(&["--netns", &server.name, "--json"]);
    // A service listens on 9090, but the firewall answers first.
    let listener = server.run(|| TcpListener::bind("10.232.0.2:9090").unwrap());
    let before = server.tcp_counter("OutRsts");
    client.run(|| refused("10.232.0.2:9090"));
    let stack_rsts = server.tcp_counter("OutRsts") - before;
    std::thread::sleep(Duration::from_millis(400));
    let done = w.interrupt();
    drop(listener);
    let rsts = done.json("rst");
    assert_eq!(rsts.len(), 1, "stdout:\n{}", done.stdout);
    assert_eq!(rsts[0]["sport"], 9090);
    assert_eq!(rsts[0]["interface"], vb.as_str());
    assert_eq!(rsts[0]["direction"], "out");
    // The kernel's view: the RST left the host, but the TCP stack sent none.
    assert_eq!(rsts[0]["verdict"], "firewall_reject", "{}", rsts[0]);
    assert_eq!(rsts[0]["kernel"]["origin"], "forged_locally");
    // So nobody is sent looking for a missing listener.
    assert!(
        !done.stderr.contains("nothing accepted connections"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains("RST forged by a local firewall rule"),
        "{}",
        done.stderr
    );
    // The RST came from nftables, not from the TCP stack: the stack's counter did not move.
    assert_eq!(stack_rsts, 0);
    // And watch says so: the RST it saw leave the host is not in the stack's OutRsts.
    let summary = &done.json("summary")[0];
    assert_eq!(
        summary["disagreements"][0]["kind"], "rsts_not_from_stack",
        "{summary}"
    );
    assert!(
        done.stderr
            .contains("1 RSTs left this host but its TCP stack sent only 0 (OutRsts)"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains("forged by a firewall rule"),
        "{}",
        done.stderr
    );
}

#[test]
fn interface_created_after_start_is_covered() {
    if !privileged("new_interface") {
        return;
    }
    let client = Netns::new("latec");
    let server = Netns::new("lates");
    let mut w = Watch::start(&["--netns", &server.name, "--json"]);
    assert!(
        w.stderr
            .iter()
            .any(|l| l.contains("watching 1 interface (lo)")),
        "{:?}",
        w.stderr
    );
    let (_va, vb) = veth(&client, &server, 233);
    let appeared = w.wait_for_line(&format!("interface {vb} "), Duration::from_secs(5));
    assert!(appeared.contains("appeared: watching it"), "{appeared}");
    // Give the new link a moment to come up (carrier, addresses).
    std::thread::sleep(Duration::from_millis(300));
    client.run(|| refused("10.233.0.2:7211"));
    std::thread::sleep(Duration::from_millis(400));
    let done = w.interrupt();
    let rsts = done.json("rst");
    assert_eq!(
        rsts.len(),
        1,
        "stdout:\n{}\nstderr:\n{}",
        done.stdout,
        done.stderr
    );
    assert_eq!(rsts[0]["interface"], vb.as_str());
    assert_eq!(rsts[0]["verdict"], "refused");
    let changes = done.json("interface");
    assert!(
        changes
            .iter()
            .any(|c| c["name"] == vb.as_str() && c["change"] == "appeared")
    );
}

#[test]
fn interface_filter_and_duration() {
    if !privileged("interface_filter") {
        return;
    }
    let client = Netns::new("ific");
    let server = Netns::new("ifis");
    let (_va, vb) = veth(&client, &server, 234);
    // Only lo: the refused connection on the veth is not reported, the one on lo is.
    let w = Watch::start(&[
        "--netns",
        &server.name,
        "--json",
        "-i",
        "lo",
        "--duration",
        "2",
    ]);
    client.run(|| refused("10.234.0.2:7211"));
    server.run(|| refused("127.0.0.1:7212"));
    let started = Instant::now();
    let done = w.wait();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "--duration ends the watch"
    );
    let rsts = done.json("rst");
    assert_eq!(rsts.len(), 1, "stdout:\n{}", done.stdout);
    assert_eq!(rsts[0]["interface"], "lo");
    assert_eq!(rsts[0]["sport"], 7212);
    assert!(
        done.stderr.contains("packets on interfaces outside -i"),
        "{}",
        done.stderr
    );
    let _ = vb;
}

#[test]
fn without_cap_net_raw_one_clear_error() {
    if !privileged("no_capability") {
        return;
    }
    // As an unprivileged user (setpriv from util-linux), watch must say what is missing and how
    // to grant it.
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            live::rsthound_bin(),
            "watch",
        ])
        .output()
        .expect("setpriv (util-linux)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("CAP_NET_RAW"), "{stderr}");
    assert!(stderr.contains("setcap cap_net_raw+ep"), "{stderr}");
}

#[test]
fn with_cap_net_raw_alone_watch_runs_on_packets_and_says_what_is_off() {
    if !privileged("cap_net_raw_alone") {
        return;
    }
    // What `setcap cap_net_raw+ep` gives a user: packets, but not the kernel's events.
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all,+net_raw",
            "--ambient-caps=-all,+net_raw",
            live::rsthound_bin(),
            "watch",
            "-i",
            "lo",
            "--duration",
            "0.5",
        ])
        .output()
        .expect("setpriv (util-linux)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let missing: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("missing CAP_PERFMON"))
        .collect();
    assert_eq!(missing.len(), 1, "one line for the capability: {stderr}");
    assert!(
        missing[0].contains("setcap cap_net_raw,cap_perfmon"),
        "{stderr}"
    );
    assert!(stderr.contains("kernel events off"), "{stderr}");
    assert!(
        stderr.contains("kernel events: off (packets alone"),
        "{stderr}"
    );
}

#[test]
fn storm_mode_counts_every_rst_exactly_while_showing_few() {
    if !privileged("storm_mode") {
        return;
    }
    let ns = Netns::new("storm");
    let w = Watch::start(&["--netns", &ns.name, "--json", "--storm-limit", "5"]);
    let before = ns.tcp_counter("OutRsts");
    ns.run(|| {
        for _ in 0..600 {
            refused("127.0.0.1:7211");
        }
    });
    let provoked = ns.tcp_counter("OutRsts") - before;
    assert_eq!(provoked, 600);
    std::thread::sleep(Duration::from_millis(400));
    let done = w.interrupt();
    assert_eq!(done.status, Some(0), "stderr:\n{}", done.stderr);

    let shown = done.json("rst");
    let storms = done.json("rst_storm");
    let counted: u64 = storms.iter().map(|s| s["count"].as_u64().unwrap()).sum();
    assert_eq!(
        shown.len() as u64 + counted,
        provoked,
        "lines shown plus storm counts are every RST"
    );
    // At most 5 lines per second of capture time (the 600 attempts span one or two seconds).
    let seconds: std::collections::BTreeSet<&str> = shown
        .iter()
        .map(|r| &r["ts"].as_str().unwrap()[..19])
        .collect();
    assert!(shown.len() <= 5 * seconds.len(), "{} lines", shown.len());
    assert!(!storms.is_empty());
    for s in &storms {
        assert_eq!(s["from"], "127.0.0.1:7211");
        assert_eq!(s["verdict"], "refused");
        assert_eq!(s["shown"], 5);
        assert_eq!(s["peers"], 1);
    }
    let summary = &done.json("summary")[0];
    assert_eq!(summary["rsts"].as_u64(), Some(provoked));
    assert_eq!(summary["storm_suppressed"].as_u64(), Some(counted));
    assert!(
        done.stderr.contains(&format!(
            "storm mode: {counted} RSTs were counted in {} storm lines",
            storms.len()
        )),
        "{}",
        done.stderr
    );
    // The findings still see every attempt.
    assert!(
        done.stderr
            .contains("127.0.0.1:7211 refused 600 connection attempts from 127.0.0.1"),
        "{}",
        done.stderr
    );
}

/// Refusals already flowing when `watch` starts: the packet ring opens before the tracepoints,
/// so the first RSTs may have been sent while no `tcp_send_reset` could be recorded. Their
/// missing event proves nothing: none may be called forged by a firewall (there is none here).
#[test]
fn refusals_under_way_at_start_are_not_called_forged() {
    if !privileged("refusals_under_way_at_start") {
        return;
    }
    let ns = Netns::new("early");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let client = ns.spawn(move || {
        let mut n = 0u64;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = TcpStream::connect("127.0.0.1:7219");
            n += 1;
            std::thread::sleep(Duration::from_micros(500));
        }
        n
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut w = Watch::start(&["--netns", &ns.name, "--json", "--duration", "1s"]);
    w.wait_for_line("kernel", Duration::from_secs(10));
    let done = w.wait();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let attempts = client.join().unwrap();
    let summary = &done.json("summary")[0];
    let by_verdict = &summary["findings"]["totals"]["rsts_by_verdict"];
    let rsts = summary["rsts"].as_u64().unwrap();
    assert!(rsts >= 100, "{attempts} attempts, {rsts} RSTs: {summary}");
    assert!(
        by_verdict.get("firewall_reject").is_none(),
        "no firewall here: {by_verdict}"
    );
    assert_eq!(by_verdict["refused"], rsts, "{by_verdict}");
}
