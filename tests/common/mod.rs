//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The peers' corpus in `../shared`, which a user's clone does not have. Returns `None` (after
/// saying so) when it is absent and CI is unset; under `CI=true` its absence fails the test.
pub fn peers_corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/peers");
    if dir.join("rst_counts.tsv").is_file() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI=true but the peers' corpus is missing at {}",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED: the peers' corpus is not at {} (it ships beside the project, not in it)",
        dir.display()
    );
    None
}

/// A reproducer from `../shared/corpus/repro` (beside the project, like the peers' corpus):
/// `None` (after saying so) when it is absent and CI is unset; under `CI=true` a failure.
pub fn repro_file(name: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/repro")
        .join(name);
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI=true but the reproducer is missing at {}",
            path.display()
        );
    }
    eprintln!(
        "SKIPPED: the reproducer is not at {} (it ships beside the project, not in it)",
        path.display()
    );
    None
}

use rsthound::engine::decode::TcpFlags;
use rsthound::model::LinkType;
use rsthound::model::timestamp::Timestamp;
use rsthound::sink::pcapng_writer::{PcapWriter, PcapngWriter};
use rsthound::testkit::synth::TcpSpec;
use std::net::IpAddr;
use std::process::{Command, Output, Stdio};

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The kernel's answer to a SYN on a closed port: RST/ACK from the port, seq 0.
pub fn refused_rst(sport: u16) -> TcpSpec {
    TcpSpec::new(
        ip("127.0.0.1"),
        7211,
        ip("127.0.0.1"),
        sport,
        TcpFlags::RST | TcpFlags::ACK,
    )
    .ack(1_082_312_303)
}

/// The `i`-th SYN of a flood from distinct (spoofed) sources, 10.0.0.2 on, to 10.0.0.1:80.
pub fn spoofed_syn(i: u32) -> Vec<u8> {
    let src = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0002 + i));
    TcpSpec::new(
        src,
        1024 + (i % 60_000) as u16,
        ip("10.0.0.1"),
        80,
        rsthound::engine::decode::TcpFlags::SYN,
    )
    .seq(i.wrapping_mul(2_654_435_761))
    .ethernet()
}

pub fn syn(sport: u16) -> TcpSpec {
    TcpSpec::new(ip("127.0.0.1"), sport, ip("127.0.0.1"), 7211, TcpFlags::SYN).seq(1_082_312_302)
}

pub fn ts(secs: i64, micros: u64) -> Timestamp {
    Timestamp::from_parts(secs, micros * 1000, 9)
}

/// A pcap (ns, little-endian) of Ethernet frames.
pub fn pcap_of(frames: &[(Timestamp, Vec<u8>)]) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET, 262_144).unwrap();
    for (t, f) in frames {
        w.write_packet(*t, f, f.len() as u32).unwrap();
    }
    w.into_inner()
}

/// Three Ethernet frames: SYN, RST/ACK, SYN — one RST.
pub fn small_capture() -> Vec<u8> {
    pcap_of(&[
        (ts(1_763_730_942, 0), syn(57_340).ethernet()),
        (ts(1_763_730_942, 507_657), refused_rst(57_340).ethernet()),
        (ts(1_763_730_943, 0), syn(57_341).ethernet()),
    ])
}

pub fn pcapng_with(big_endian: bool, f: impl FnOnce(&mut PcapngWriter<Vec<u8>>)) -> Vec<u8> {
    let mut w = PcapngWriter::new(Vec::new(), big_endian).unwrap();
    f(&mut w);
    w.into_inner()
}

pub fn rsthound(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rsthound"));
    cmd.args(args).stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    std::thread::scope(|s| {
        if let Some(data) = stdin {
            use std::io::Write;
            let mut si = child.stdin.take().unwrap();
            // From another thread: with a large input and output, rsthound waits for its output
            // to be read while we would be waiting for it to take more input.
            s.spawn(move || {
                let _ = si.write_all(data);
            });
        }
        child.wait_with_output().unwrap()
    })
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A temporary directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("rsthound-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn write(&self, name: &str, data: &[u8]) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, data).unwrap();
        p.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `{"type":"rst"}` records of a `read --json` run.
pub fn rst_rows(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "rst")
        .collect()
}

/// The report as the sinks show it: the text block, the JSON summary's `findings` value, and
/// the findings in words, in the order shown.
pub trait Shown {
    fn render_text(&self) -> String;
    fn to_json(&self) -> serde_json::Value;
    fn worded(&self) -> Vec<Worded>;
}

#[derive(Debug)]
pub struct Worded {
    pub severity: rsthound::engine::report::Severity,
    pub kind: rsthound::engine::report::FindingKind,
    pub count: u64,
    pub title: String,
    pub evidence: Vec<String>,
    pub next_steps: Vec<String>,
}

impl Shown for rsthound::engine::report::Report {
    fn render_text(&self) -> String {
        rsthound::sink::findings::block(&self.findings_view())
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(rsthound::sink::schema::ReportRecord::new(&self.view())).unwrap()
    }

    fn worded(&self) -> Vec<Worded> {
        let findings = rsthound::engine::report::Report::findings(self);
        rsthound::sink::findings::ranked(&findings)
            .into_iter()
            .map(|w| Worded {
                severity: w.finding.severity,
                kind: w.finding.kind,
                count: w.finding.count,
                title: w.title,
                evidence: w.evidence,
                next_steps: w.next_steps,
            })
            .collect()
    }
}
