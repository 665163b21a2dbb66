//! `read` of a pcapng whose RSTs carry `rsthound-kernel:` comments (what `watch --write`
//! keeps): the note's origin decides the verdict as it did live, and a damaged note costs
//! only the note, said on stderr. No privilege needed: the file is crafted here.

use rsthound::engine::decode::TcpFlags;
use rsthound::model::LinkType;
use rsthound::sink::pcapng_writer::PcapngWriter;
use rsthound::testkit::synth::TcpSpec;
use std::net::IpAddr;
use std::process::Command;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A SYN from 10.0.0.1:port to 10.0.0.2:9090, then the RST answering it with `note` as its
/// machine comment.
fn attempt(w: &mut PcapngWriter<Vec<u8>>, t: u64, port: u16, note: Option<&str>) {
    let syn = TcpSpec::new(ip("10.0.0.1"), port, ip("10.0.0.2"), 9090, TcpFlags::SYN).seq(100);
    w.packet_comments(0, t, &syn.ethernet(), 0, None, &[])
        .unwrap();
    let rst = TcpSpec::new(
        ip("10.0.0.2"),
        9090,
        ip("10.0.0.1"),
        port,
        TcpFlags::RST | TcpFlags::ACK,
    )
    .ack(101);
    let data = rst.ethernet();
    let comments: Vec<&str> = note.into_iter().collect();
    w.packet_comments(0, t + 1000, &data, data.len() as u32, None, &comments)
        .unwrap();
}

fn read(path: &std::path::Path, args: &[&str]) -> (Vec<serde_json::Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rsthound"))
        .arg("read")
        .args(args)
        .arg(path)
        .output()
        .unwrap();
    let json = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["type"] == "rst")
        .collect();
    (json, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn forged_locally_note_gives_the_firewall_verdict_and_a_bad_note_only_costs_itself() {
    let mut w = PcapngWriter::new(Vec::new(), false).unwrap();
    w.interface(LinkType::ETHERNET, 262_144, Some("eth0"), Some(9))
        .unwrap();
    let forged = r#"rsthound-kernel: {"origin":"forged_locally","reason":null,"client":{"pid":77,"comm":"probe\u001b]0;x","cmdline":null,"uid":1000,"cgroup":null},"sender":null,"receiver":null}"#;
    attempt(&mut w, 1_000_000_000, 40000, Some(forged));
    attempt(
        &mut w,
        2_000_000_000,
        40001,
        Some("rsthound-kernel: {not json"),
    );
    attempt(&mut w, 3_000_000_000, 40002, None);
    let dir = std::env::temp_dir().join(format!("rsth-notes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notes.pcapng");
    std::fs::write(&path, w.into_inner()).unwrap();
    for args in [&["--json"][..], &["--json", "--single-thread"][..]] {
        let (rsts, stderr) = read(&path, args);
        assert_eq!(rsts.len(), 3, "{args:?}: {rsts:#?}\n{stderr}");
        assert_eq!(rsts[0]["verdict"], "firewall_reject", "{}", rsts[0]);
        assert_eq!(rsts[0]["kernel"]["origin"], "forged_locally");
        let comm = rsts[0]["kernel"]["client"]["comm"].as_str().unwrap();
        assert!(
            comm.starts_with("probe") && !comm.contains('\u{1b}'),
            "{comm:?}"
        );
        // The damaged note and the missing one: the wire's verdict, no kernel object.
        for r in &rsts[1..] {
            assert_eq!(r["verdict"], "refused", "{r}");
            assert!(r["kernel"].is_null(), "{r}");
        }
        assert!(
            stderr.contains("1 kernel note(s) in packet comments could not be read"),
            "{stderr}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
