//! Scenario captures made by the project's own tooling: scripted TCP conversations rendered as
//! pcapng, for tests, for the README's first command, and for users who want to see what each
//! kind of RST looks like. `cargo run --example scenarios -- DIR` writes them all.

use crate::engine::decode::TcpFlags;
use crate::model::LinkType;
use crate::model::timestamp::Timestamp;
use crate::sink::pcapng_writer::PcapngWriter;
use crate::testkit::synth::TcpSpec;
use std::net::IpAddr;

/// Who sends a segment in a scripted conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// One scripted TCP connection: addresses, and each side's next sequence number.
#[derive(Debug, Clone)]
pub struct Conn {
    pub client: (IpAddr, u16),
    pub server: (IpAddr, u16),
    pub client_next: u32,
    pub server_next: u32,
    pub client_ttl: u8,
    pub server_ttl: u8,
}

impl Conn {
    pub fn new(
        client: (IpAddr, u16),
        server: (IpAddr, u16),
        client_isn: u32,
        server_isn: u32,
    ) -> Self {
        Conn {
            client,
            server,
            client_next: client_isn,
            server_next: server_isn,
            client_ttl: 64,
            server_ttl: 64,
        }
    }

    /// A segment from `side` with `flags`, carrying `payload`; advances that side's sequence.
    pub fn segment(&mut self, side: Side, flags: u16, payload: &[u8]) -> TcpSpec {
        let (from, to, ttl) = match side {
            Side::Client => (self.client, self.server, self.client_ttl),
            Side::Server => (self.server, self.client, self.server_ttl),
        };
        let (seq, ack) = match side {
            Side::Client => (self.client_next, self.server_next),
            Side::Server => (self.server_next, self.client_next),
        };
        let spec = TcpSpec::new(from.0, from.1, to.0, to.1, flags)
            .seq(seq)
            .ack(if flags & TcpFlags::ACK != 0 { ack } else { 0 })
            .ttl(ttl)
            .payload(payload);
        let advance =
            payload.len() as u32 + u32::from(flags & (TcpFlags::SYN | TcpFlags::FIN) != 0);
        match side {
            Side::Client => self.client_next = self.client_next.wrapping_add(advance),
            Side::Server => self.server_next = self.server_next.wrapping_add(advance),
        }
        spec
    }
}

/// A capture being scripted: frames in time order on one loopback-like interface.
#[derive(Debug, Default)]
pub struct Script {
    frames: Vec<(i64, Vec<u8>)>,
}

impl Script {
    /// Adds the segment at `nanos` since the epoch.
    pub fn push(&mut self, nanos: i64, seg: &TcpSpec) {
        self.frames.push((nanos, seg.ethernet()));
    }

    /// The client's SYN, the server's SYN-ACK and the client's ACK, `rtt_ns` apart.
    pub fn handshake(&mut self, at: i64, c: &mut Conn, rtt_ns: i64) {
        let syn = c.segment(Side::Client, TcpFlags::SYN, &[]);
        self.push(at, &syn);
        let synack = c.segment(Side::Server, TcpFlags::SYN | TcpFlags::ACK, &[]);
        self.push(at + rtt_ns / 2, &synack);
        let ack = c.segment(Side::Client, TcpFlags::ACK, &[]);
        self.push(at + rtt_ns, &ack);
    }

    /// A SYN to a closed port and the kernel's RST/ACK.
    pub fn refused(&mut self, at: i64, c: &mut Conn, rtt_ns: i64) {
        let syn = c.segment(Side::Client, TcpFlags::SYN, &[]);
        self.push(at, &syn);
        // The RST carries seq 0 and acknowledges the SYN (RFC 9293 §3.10.7.1).
        let rst = TcpSpec::new(
            c.server.0,
            c.server.1,
            c.client.0,
            c.client.1,
            TcpFlags::RST | TcpFlags::ACK,
        )
        .seq(0)
        .ack(c.client_next)
        .ttl(c.server_ttl);
        self.push(at + rtt_ns / 2, &rst);
    }

    /// Renders the script as pcapng on one Ethernet interface named `iface`, µs timestamps.
    pub fn pcapng(mut self, iface: &str) -> Vec<u8> {
        self.frames.sort_by_key(|f| f.0);
        let mut w = PcapngWriter::new(Vec::new(), false).expect("writing to memory");
        w.interface(LinkType::ETHERNET, 262_144, Some(iface), Some(6))
            .expect("writing to memory");
        for (nanos, frame) in &self.frames {
            let micros = (nanos / 1000).max(0) as u64;
            w.packet_units(0, micros, frame, frame.len() as u32, None, None)
                .expect("writing to memory");
        }
        w.into_inner()
    }
}

const SEC: i64 = 1_000_000_000;
const MS: i64 = 1_000_000;
/// 2025-11-21T13:15:42Z, the founding story's first refused attempt.
pub const STORY_START: i64 = 1_763_730_942 * SEC + 507_000 * 1000;

fn localhost() -> IpAddr {
    IpAddr::from([127, 0, 0, 1])
}

/// The founding story: on loopback, something connects to 127.0.0.1:7211 twice a second for 5 s
/// and nothing listens there, while a healthy service on 127.0.0.1:8080 answers once a second.
pub fn founding_story() -> Vec<u8> {
    let mut s = Script::default();
    for i in 0..10i64 {
        let at = STORY_START + i * 500 * MS + (i * 37 % 11) * 1000;
        let mut c = Conn::new(
            (localhost(), 57_340 + i as u16 * 2),
            (localhost(), 7211),
            1_082_312_302u32.wrapping_add(i as u32 * 7_919_111),
            0,
        );
        s.refused(at, &mut c, 40_000);
    }
    for i in 0..5i64 {
        let at = STORY_START + 120 * MS + i * SEC;
        let mut c = Conn::new(
            (localhost(), 41_000 + i as u16),
            (localhost(), 8080),
            3_000_000 + i as u32 * 1_000_003,
            9_000_000 + i as u32 * 77_777,
        );
        s.handshake(at, &mut c, 60_000);
        let req = c.segment(
            Side::Client,
            TcpFlags::PSH | TcpFlags::ACK,
            b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n",
        );
        s.push(at + 100_000, &req);
        let resp = c.segment(
            Side::Server,
            TcpFlags::PSH | TcpFlags::ACK,
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK",
        );
        s.push(at + 400_000, &resp);
        let fin = c.segment(Side::Client, TcpFlags::FIN | TcpFlags::ACK, &[]);
        s.push(at + 450_000, &fin);
        let fin2 = c.segment(Side::Server, TcpFlags::FIN | TcpFlags::ACK, &[]);
        s.push(at + 480_000, &fin2);
        let last = c.segment(Side::Client, TcpFlags::ACK, &[]);
        s.push(at + 500_000, &last);
    }
    s.pcapng("lo")
}

fn addr(a: [u8; 4]) -> IpAddr {
    IpAddr::from(a)
}

/// A client (10.0.0.2) and a server (10.0.0.1:port) on an Ethernet link, 40 ms apart.
fn client_server(port: u16, cport: u16) -> Conn {
    let mut c = Conn::new(
        (addr([10, 0, 0, 2]), cport),
        (addr([10, 0, 0, 1]), port),
        1_000_000,
        5_000_000,
    );
    c.server_ttl = 64;
    c.client_ttl = 63;
    c
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: example\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

/// SYN, SYN-ACK, then the client gives up with a RST before completing the handshake.
pub fn handshake_reset() -> Vec<u8> {
    let mut s = Script::default();
    let mut c = client_server(443, 50_001);
    let syn = c.segment(Side::Client, TcpFlags::SYN, &[]);
    s.push(STORY_START, &syn);
    let synack = c.segment(Side::Server, TcpFlags::SYN | TcpFlags::ACK, &[]);
    s.push(STORY_START + 40 * MS, &synack);
    let rst = c.segment(Side::Client, TcpFlags::RST, &[]);
    s.push(STORY_START + 41 * MS, &rst);
    s.pcapng("eth0")
}

/// An established connection the client aborts (RST/ACK after data).
pub fn reset_by_client() -> Vec<u8> {
    let mut s = Script::default();
    let mut c = client_server(80, 50_002);
    s.handshake(STORY_START, &mut c, 40 * MS);
    let req = c.segment(Side::Client, TcpFlags::PSH | TcpFlags::ACK, REQUEST);
    s.push(STORY_START + 41 * MS, &req);
    let resp = c.segment(Side::Server, TcpFlags::PSH | TcpFlags::ACK, RESPONSE);
    s.push(STORY_START + 80 * MS, &resp);
    let rst = c.segment(Side::Client, TcpFlags::RST | TcpFlags::ACK, &[]);
    s.push(STORY_START + 90 * MS, &rst);
    s.pcapng("eth0")
}

/// An established connection the server aborts while the client waits for its answer.
pub fn reset_by_server() -> Vec<u8> {
    let mut s = Script::default();
    let mut c = client_server(5432, 50_003);
    s.handshake(STORY_START, &mut c, 40 * MS);
    let req = c.segment(Side::Client, TcpFlags::PSH | TcpFlags::ACK, b"SELECT 1;");
    s.push(STORY_START + 41 * MS, &req);
    let ack = c.segment(Side::Server, TcpFlags::ACK, &[]);
    s.push(STORY_START + 60 * MS, &ack);
    let rst = c.segment(Side::Server, TcpFlags::RST | TcpFlags::ACK, &[]);
    s.push(STORY_START + 2 * SEC, &rst);
    s.pcapng("eth0")
}

/// The server closes an idle keep-alive connection; the client, unaware, sends another request
/// and the closed socket answers with a RST. Routine.
pub fn reset_after_close() -> Vec<u8> {
    let mut s = Script::default();
    let mut c = client_server(80, 50_004);
    s.handshake(STORY_START, &mut c, 40 * MS);
    let req = c.segment(Side::Client, TcpFlags::PSH | TcpFlags::ACK, REQUEST);
    s.push(STORY_START + 41 * MS, &req);
    let resp = c.segment(Side::Server, TcpFlags::PSH | TcpFlags::ACK, RESPONSE);
    s.push(STORY_START + 80 * MS, &resp);
    let ack = c.segment(Side::Client, TcpFlags::ACK, &[]);
    s.push(STORY_START + 120 * MS, &ack);
    let fin = c.segment(Side::Server, TcpFlags::FIN | TcpFlags::ACK, &[]);
    s.push(STORY_START + 5 * SEC, &fin);
    let finack = c.segment(Side::Client, TcpFlags::ACK, &[]);
    s.push(STORY_START + 5 * SEC + 40 * MS, &finack);
    let req2 = c.segment(Side::Client, TcpFlags::PSH | TcpFlags::ACK, REQUEST);
    s.push(STORY_START + 5 * SEC + 100 * MS, &req2);
    let rst = c.segment(Side::Server, TcpFlags::RST, &[]);
    s.push(STORY_START + 5 * SEC + 140 * MS, &rst);
    s.pcapng("eth0")
}

/// A RST for a connection the capture never saw.
pub fn stray() -> Vec<u8> {
    let mut s = Script::default();
    let rst = TcpSpec::new(
        addr([10, 0, 0, 1]),
        443,
        addr([10, 0, 0, 9]),
        51_515,
        TcpFlags::RST,
    )
    .seq(77_777);
    s.push(STORY_START, &rst);
    s.pcapng("eth0")
}

/// A RST whose sequence number is far outside the window the receiver advertised.
pub fn out_of_window() -> Vec<u8> {
    let mut s = Script::default();
    let mut c = client_server(22, 50_005);
    s.handshake(STORY_START, &mut c, 40 * MS);
    let data = c.segment(
        Side::Server,
        TcpFlags::PSH | TcpFlags::ACK,
        b"SSH-2.0-OpenSSH_9.6\r\n",
    );
    s.push(STORY_START + 50 * MS, &data);
    let ack = c.segment(Side::Client, TcpFlags::ACK, &[]);
    s.push(STORY_START + 90 * MS, &ack);
    let rst = TcpSpec::new(
        c.server.0,
        c.server.1,
        c.client.0,
        c.client.1,
        TcpFlags::RST,
    )
    .seq(c.server_next.wrapping_add(40_000_000))
    .ttl(c.server_ttl);
    s.push(STORY_START + 3 * SEC, &rst);
    let more = c.segment(
        Side::Client,
        TcpFlags::PSH | TcpFlags::ACK,
        b"SSH-2.0-client\r\n",
    );
    s.push(STORY_START + 3 * SEC + 10 * MS, &more);
    s.pcapng("eth0")
}

/// A middlebox forges a RST "from the server" (wrong TTL), and the real server keeps talking.
pub fn injected() -> Vec<u8> {
    let mut s = Script::default();
    let mut c = client_server(443, 50_006);
    c.server_ttl = 52;
    s.handshake(STORY_START, &mut c, 40 * MS);
    let hello = c.segment(
        Side::Client,
        TcpFlags::PSH | TcpFlags::ACK,
        b"\x16\x03\x01\x00\x05hello",
    );
    s.push(STORY_START + 41 * MS, &hello);
    let forged = TcpSpec::new(
        c.server.0,
        c.server.1,
        c.client.0,
        c.client.1,
        TcpFlags::RST | TcpFlags::ACK,
    )
    .seq(c.server_next)
    .ack(c.client_next)
    .ttl(64);
    s.push(STORY_START + 45 * MS, &forged);
    let answer = c.segment(
        Side::Server,
        TcpFlags::PSH | TcpFlags::ACK,
        b"\x16\x03\x03\x00\x05world",
    );
    s.push(STORY_START + 80 * MS, &answer);
    s.pcapng("eth0")
}

/// SYNs to a filtered port: retransmitted after 1, 2 and 4 s, never answered.
pub fn unanswered() -> Vec<u8> {
    let mut s = Script::default();
    let c = client_server(3306, 50_007);
    let syn = TcpSpec::new(
        c.client.0,
        c.client.1,
        c.server.0,
        c.server.1,
        TcpFlags::SYN,
    )
    .seq(c.client_next)
    .ttl(63);
    for at in [0, SEC, 3 * SEC, 7 * SEC] {
        s.push(STORY_START + at, &syn);
    }
    s.pcapng("eth0")
}

/// Every scenario by file name, with the verdict (or fate) it demonstrates.
pub fn all() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("founding-story.pcapng", founding_story()),
        ("handshake-reset.pcapng", handshake_reset()),
        ("reset-by-client.pcapng", reset_by_client()),
        ("reset-by-server.pcapng", reset_by_server()),
        ("reset-after-close.pcapng", reset_after_close()),
        ("stray.pcapng", stray()),
        ("out-of-window.pcapng", out_of_window()),
        ("injected.pcapng", injected()),
        ("unanswered.pcapng", unanswered()),
    ]
}

/// Timestamp helper for callers that script with [`Timestamp`]s.
pub fn ts(nanos: i64) -> Timestamp {
    Timestamp::from_nanos(nanos, 6)
}
