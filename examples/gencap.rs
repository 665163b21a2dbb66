//! Synthetic pcap generator for benchmarking `rsthound`.
//!
//! Writes a classic little-endian pcap (magic 0xa1b2c3d4, v2.4, snaplen 262144,
//! LINKTYPE_ETHERNET) by streaming through a large `BufWriter`; memory use does not
//! depend on the number of packets. Output is deterministic for a given seed.
//!
//! ```text
//! cargo run --release --example gencap -- mixed   [--packets N] [--seed S] OUT.pcap
//! cargo run --release --example gencap -- small   [--packets N] [--seed S] OUT.pcap
//! cargo run --release --example gencap -- spoofed [--packets N] [--seed S] OUT.pcap
//! ```
//!
//! * `mixed`   (default 5,000,000 packets): interleaved TCP sessions (handshake, data
//!   with 1448/1460-byte full segments and small ones, delayed ACKs, FIN close),
//!   refused connections (SYN -> RST/ACK seq 0), aborted sessions (data then RST),
//!   IPv6 sessions, 802.1Q VLAN-tagged sessions and DNS over UDP. About 1.5 % of the
//!   packets carry RST; mean frame size is ~700 bytes.
//! * `small`   (default 5,000,000 packets): 64-byte frames (60 + 4-byte FCS) of
//!   minimal IPv4/TCP segments without payload from many flows, ~1.5 % RSTs.
//! * `spoofed` (default 1,000,000 packets): SYNs from N distinct source addresses in
//!   10.0.0.0/8 to 10.0.0.1:80, never answered.
//!
//! All addresses are in 10.0.0.0/8 or fd00::/8. Nothing is sent anywhere: this only
//! writes bytes to a file. IPv4 header, TCP and UDP checksums are all correct.
//!
//! At the end, one summary line goes to stderr:
//! `gencap: MODE packets=N rsts=R (P%) bytes=B mean_frame=F`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

/// 2026-11-21T10:54:50Z
const START_SEC: u32 = 1_795_258_490;
const SNAPLEN: u32 = 262_144;
const BUF_CAP: usize = 8 << 20;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

// ---------------------------------------------------------------------------
// PRNG

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

// ---------------------------------------------------------------------------
// Checksums

/// One's-complement partial sum of big-endian 16-bit words (odd tail padded).
#[inline]
fn sum16(b: &[u8]) -> u64 {
    let mut s = 0u64;
    let mut chunks = b.chunks_exact(2);
    for c in &mut chunks {
        s += u16::from_be_bytes([c[0], c[1]]) as u64;
    }
    if let [last] = chunks.remainder() {
        s += (*last as u64) << 8;
    }
    s
}

#[inline]
fn fold(mut s: u64) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

const fn crc32_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}
static CRC_TABLE: [u32; 256] = crc32_table();

/// Ethernet FCS (CRC-32, IEEE 802.3).
fn crc32(b: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &x in b {
        c = CRC_TABLE[((c ^ x as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

// ---------------------------------------------------------------------------
// Output: pcap framing, clock, counters, payload pool

const PAYLOAD_POOL: usize = 1 << 16;

/// The pcap stream: writer, clock and counters.
struct Sink {
    w: BufWriter<File>,
    sec: u32,
    usec: u32,
    packets: u64,
    rsts: u64,
    bytes: u64,
}

struct Out {
    sink: Sink,
    /// Random bytes that payloads are sliced from (at even offsets).
    pool: Vec<u8>,
    /// `prefix[i]` = one's-complement partial sum of `pool[..i]`, so the checksum
    /// contribution of any even-aligned slice is a subtraction.
    prefix: Vec<u64>,
    /// Scratch for the headers of one frame.
    hdr: [u8; 128],
}

impl Out {
    fn create(path: &str, rng: &mut Rng) -> io::Result<Out> {
        let f = File::create(path)?;
        let mut w = BufWriter::with_capacity(BUF_CAP, f);
        let mut gh = [0u8; 24];
        gh[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        gh[4..6].copy_from_slice(&2u16.to_le_bytes());
        gh[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone = 0, sigfigs = 0
        gh[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
        gh[20..24].copy_from_slice(&1u32.to_le_bytes());
        w.write_all(&gh)?;

        let mut pool = vec![0u8; PAYLOAD_POOL + 2048];
        for c in pool.chunks_mut(8) {
            let r = rng.next().to_le_bytes();
            c.copy_from_slice(&r[..c.len()]);
        }
        let mut prefix = Vec::with_capacity(pool.len() + 1);
        let mut acc = 0u64;
        prefix.push(0);
        for (i, &b) in pool.iter().enumerate() {
            acc += if i.is_multiple_of(2) {
                (b as u64) << 8
            } else {
                b as u64
            };
            prefix.push(acc);
        }
        let sink = Sink {
            w,
            sec: START_SEC,
            usec: 0,
            packets: 0,
            rsts: 0,
            bytes: 24,
        };
        Ok(Out {
            sink,
            pool,
            prefix,
            hdr: [0; 128],
        })
    }

    /// Write one record made of `self.hdr[..hlen]` only.
    #[inline]
    fn record(&mut self, hlen: usize, is_rst: bool) -> io::Result<()> {
        self.sink.record(&self.hdr[..hlen], &[], is_rst)
    }

    fn finish(self, mode: &str, started: Instant) -> io::Result<()> {
        self.sink.finish(mode, started)
    }
}

impl Sink {
    /// Advance the clock by `us` microseconds.
    #[inline]
    fn tick(&mut self, us: u32) {
        self.usec += us;
        while self.usec >= 1_000_000 {
            self.usec -= 1_000_000;
            self.sec += 1;
        }
    }

    /// Milliseconds since start, used for TCP timestamp values.
    #[inline]
    fn ms(&self) -> u32 {
        (self.sec - START_SEC) * 1000 + self.usec / 1000
    }

    /// Write one record: `hdr` followed by `payload`.
    #[inline]
    fn record(&mut self, hdr: &[u8], payload: &[u8], is_rst: bool) -> io::Result<()> {
        let len = (hdr.len() + payload.len()) as u32;
        let mut rh = [0u8; 16];
        rh[0..4].copy_from_slice(&self.sec.to_le_bytes());
        rh[4..8].copy_from_slice(&self.usec.to_le_bytes());
        rh[8..12].copy_from_slice(&len.to_le_bytes());
        rh[12..16].copy_from_slice(&len.to_le_bytes());
        self.w.write_all(&rh)?;
        self.w.write_all(hdr)?;
        if !payload.is_empty() {
            self.w.write_all(payload)?;
        }
        self.packets += 1;
        self.rsts += is_rst as u64;
        self.bytes += 16 + len as u64;
        Ok(())
    }

    fn finish(mut self, mode: &str, started: Instant) -> io::Result<()> {
        self.w.flush()?;
        let frames = self.bytes - 24 - 16 * self.packets;
        let pct = if self.packets > 0 {
            100.0 * self.rsts as f64 / self.packets as f64
        } else {
            0.0
        };
        let mean = if self.packets > 0 {
            frames as f64 / self.packets as f64
        } else {
            0.0
        };
        eprintln!(
            "gencap: {mode} packets={} rsts={} ({pct:.2}%) bytes={} mean_frame={mean:.1} time={:.1}s",
            self.packets,
            self.rsts,
            self.bytes,
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Generic Ethernet / IP / L4 frame builder

/// Addresses and per-host IP state of one end of a conversation.
#[derive(Clone, Copy, Default)]
struct Host {
    mac: [u8; 6],
    /// IPv4 uses the first 4 bytes.
    ip: [u8; 16],
    port: u16,
    ttl: u8,
    ipid: u16,
    win: u16,
    /// Offset added to the clock for TCP timestamp values.
    tsoff: u32,
    /// Last TSval sent (echoed by the peer).
    tsval: u32,
}

struct L4<'a> {
    proto: u8, // 6 or 17
    v6: bool,
    vlan: u16, // 0 = untagged
    flow: u32,
    // TCP only
    flags: u8,
    seq: u32,
    ack: u32,
    win: u16,
    opts: &'a [u8],
    payload: &'a [u8],
    /// Partial checksum of `payload`, if already known.
    payload_sum: Option<u64>,
}

/// Build Ethernet + IP + TCP/UDP headers into `hdr`; returns header length.
/// `src.ipid` is advanced for IPv4.
fn build(hdr: &mut [u8; 128], src: &mut Host, dst: &Host, p: &L4) -> usize {
    let mut o = 0;
    hdr[0..6].copy_from_slice(&dst.mac);
    hdr[6..12].copy_from_slice(&src.mac);
    o += 12;
    if p.vlan != 0 {
        hdr[12..14].copy_from_slice(&0x8100u16.to_be_bytes());
        hdr[14..16].copy_from_slice(&(p.vlan & 0x0fff).to_be_bytes());
        o += 4;
    }
    let et: u16 = if p.v6 { 0x86DD } else { 0x0800 };
    hdr[o..o + 2].copy_from_slice(&et.to_be_bytes());
    o += 2;

    let l4hdr = if p.proto == 6 { 20 + p.opts.len() } else { 8 };
    let l4len = l4hdr + p.payload.len();
    let mut pseudo: u64;
    if p.v6 {
        let h = &mut hdr[o..o + 40];
        let vtf = (6u32 << 28) | (p.flow & 0x000f_ffff);
        h[0..4].copy_from_slice(&vtf.to_be_bytes());
        h[4..6].copy_from_slice(&(l4len as u16).to_be_bytes());
        h[6] = p.proto;
        h[7] = src.ttl; // hop limit
        h[8..24].copy_from_slice(&src.ip);
        h[24..40].copy_from_slice(&dst.ip);
        pseudo = sum16(&src.ip) + sum16(&dst.ip) + l4len as u64 + p.proto as u64;
        o += 40;
    } else {
        let h = &mut hdr[o..o + 20];
        h[0] = 0x45;
        h[1] = 0;
        h[2..4].copy_from_slice(&((20 + l4len) as u16).to_be_bytes());
        h[4..6].copy_from_slice(&src.ipid.to_be_bytes());
        src.ipid = src.ipid.wrapping_add(1);
        h[6..8].copy_from_slice(&0x4000u16.to_be_bytes()); // DF
        h[8] = src.ttl;
        h[9] = p.proto;
        h[10] = 0;
        h[11] = 0;
        h[12..16].copy_from_slice(&src.ip[..4]);
        h[16..20].copy_from_slice(&dst.ip[..4]);
        let c = !fold(sum16(h));
        h[10..12].copy_from_slice(&c.to_be_bytes());
        pseudo = sum16(&src.ip[..4]) + sum16(&dst.ip[..4]) + l4len as u64 + p.proto as u64;
        o += 20;
    }

    let l4 = o;
    hdr[o..o + 2].copy_from_slice(&src.port.to_be_bytes());
    hdr[o + 2..o + 4].copy_from_slice(&dst.port.to_be_bytes());
    if p.proto == 6 {
        hdr[o + 4..o + 8].copy_from_slice(&p.seq.to_be_bytes());
        hdr[o + 8..o + 12].copy_from_slice(&p.ack.to_be_bytes());
        hdr[o + 12] = ((l4hdr / 4) as u8) << 4;
        hdr[o + 13] = p.flags;
        hdr[o + 14..o + 16].copy_from_slice(&p.win.to_be_bytes());
        hdr[o + 16..o + 20].copy_from_slice(&[0, 0, 0, 0]); // csum, urg
        hdr[o + 20..o + l4hdr].copy_from_slice(p.opts);
    } else {
        hdr[o + 4..o + 6].copy_from_slice(&(l4len as u16).to_be_bytes());
        hdr[o + 6..o + 8].copy_from_slice(&[0, 0]);
    }
    o += l4hdr;
    pseudo += sum16(&hdr[l4..o]);
    pseudo += p.payload_sum.unwrap_or_else(|| sum16(p.payload));
    let mut c = !fold(pseudo);
    if p.proto == 17 && c == 0 {
        c = 0xffff;
    }
    let co = if p.proto == 6 { l4 + 16 } else { l4 + 6 };
    hdr[co..co + 2].copy_from_slice(&c.to_be_bytes());
    o
}

fn mac_for(ip: &[u8; 16], v6: bool) -> [u8; 6] {
    if v6 {
        [0x02, 0x66, ip[12], ip[13], ip[14], ip[15]]
    } else {
        [0x02, 0x00, ip[0], ip[1], ip[2], ip[3]]
    }
}

// ---------------------------------------------------------------------------
// mixed

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    Normal,
    Refused,
    AbortClient,
    AbortServer,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Syn,
    RefuseRst,
    SynAck,
    HsAck,
    Request,
    Response,
    Close,
    Fin2,
    LastAck,
    DnsQuery,
    DnsReply,
    Done,
}

struct Session {
    v6: bool,
    vlan: u16,
    flow: u32,
    c: Host,
    s: Host,
    c_isn: u32,
    c_seq: u32,
    s_seq: u32,
    ts_opt: bool,
    /// Plain-text HTTP/1.1 on port 80/8080 (real request/response heads).
    http: bool,
    mss: u32,
    wscale: u8,
    fate: Fate,
    /// RST without ACK flag when aborting.
    bare_rst: bool,
    phase: Phase,
    rounds_left: u32,
    resp_left: u32,
    segs: u32,
    ack_pending: bool,
    pkts: u32,
    abort_at: u32,
    dns_id: u16,
    dns_name: u32,
}

const V4_SERVERS: u32 = 300;
const V6_SERVERS: u32 = 60;

fn server_port(rng: &mut Rng) -> u16 {
    match rng.below(20) {
        0..=11 => 443,
        12..=15 => 80,
        16 => 8080,
        17 => 5432,
        18 => 8443,
        _ => 993,
    }
}

fn response_size(rng: &mut Rng) -> u32 {
    match rng.below(100) {
        0..=49 => rng.range(40, 1400),
        50..=79 => rng.range(1400, 8000),
        80..=96 => rng.range(8000, 32_000),
        _ => rng.range(32_000, 160_000),
    }
}

/// A TCP payload: none, a slice of the random pool (offset, length), or bytes.
#[derive(Clone, Copy)]
enum Pay<'a> {
    None,
    Pool(usize, usize),
    Buf(&'a [u8]),
}

/// Write an HTTP/1.1 GET request of exactly `len` bytes (at least ~100) into `buf`.
fn http_request(buf: &mut [u8], len: usize, r: u32, host: u8) -> usize {
    let mut c = io::Cursor::new(&mut buf[..]);
    write!(
        c,
        "GET /obj/{r:08x} HTTP/1.1\r\nHost: svc{host}.corp.test\r\nUser-Agent: gencap/1\r\nAccept: */*\r\nX-Pad: "
    )
    .unwrap();
    let start = c.position() as usize;
    let end = len.max(start + 4);
    for (i, b) in buf[start..end - 4].iter_mut().enumerate() {
        *b = b'a' + (i % 26) as u8;
    }
    buf[end - 4..end].copy_from_slice(b"\r\n\r\n");
    end
}

fn digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// Write an HTTP/1.1 response head for a response of `total` bytes (head + body)
/// into `buf`; returns the head length.
fn http_response_head(buf: &mut [u8], total: usize) -> usize {
    const A: &[u8] = b"HTTP/1.1 200 OK\r\nServer: gencap\r\nContent-Type: application/octet-stream\r\nContent-Length: ";
    let fixed = A.len() + 4;
    // the body length depends on how many digits it has
    let mut body = total - fixed - 1;
    for d in 1..=9 {
        let b = total - fixed - d;
        if digits(b) == d {
            body = b;
            break;
        }
    }
    let mut c = io::Cursor::new(&mut buf[..]);
    c.write_all(A).unwrap();
    write!(c, "{body}\r\n\r\n").unwrap();
    c.position() as usize
}

impl Session {
    fn new(rng: &mut Rng) -> Session {
        let udp = rng.chance(280);
        let v6 = !udp && rng.chance(150);
        let vlan = if rng.chance(100) {
            rng.range(2, 4094) as u16
        } else {
            0
        };
        let mut c = Host::default();
        let mut s = Host::default();
        if v6 {
            // clients fd12:3456:789a:1::/64, servers fd12:3456:789a:2::/64
            let pre = [0xfd, 0x12, 0x34, 0x56, 0x78, 0x9a, 0x00, 0x01];
            c.ip[..8].copy_from_slice(&pre);
            c.ip[8..16].copy_from_slice(&rng.next().to_be_bytes());
            s.ip[..8].copy_from_slice(&pre);
            s.ip[7] = 0x02;
            s.ip[15] = (rng.below(V6_SERVERS) + 1) as u8;
        } else {
            c.ip[..4].copy_from_slice(&[
                10,
                rng.range(1, 127) as u8,
                rng.below(256) as u8,
                rng.range(1, 254) as u8,
            ]);
            if udp {
                s.ip[..4].copy_from_slice(&[10, 0, rng.below(2) as u8, 53]);
            } else {
                let k = rng.below(V4_SERVERS);
                s.ip[..4].copy_from_slice(&[10, 200 + (k / 250) as u8, 1, (k % 250 + 1) as u8]);
            }
        }
        c.mac = mac_for(&c.ip, v6);
        s.mac = mac_for(&s.ip, v6);
        c.port = rng.range(32768, 60999) as u16;
        s.port = if udp { 53 } else { server_port(rng) };
        c.ttl = if rng.chance(700) { 64 } else { 128 } - rng.below(3) as u8;
        s.ttl = 64 - rng.range(1, 12) as u8;
        c.ipid = rng.u32() as u16;
        s.ipid = rng.u32() as u16;
        c.win = rng.range(500, 2048) as u16;
        s.win = rng.range(200, 1024) as u16;
        c.tsoff = rng.u32();
        s.tsoff = rng.u32();
        c.tsval = c.tsoff.wrapping_sub(rng.below(5000));
        s.tsval = s.tsoff.wrapping_sub(rng.below(5000));

        let ts_opt = rng.chance(700);
        let base_mss = if v6 { 1440 } else { 1460 };
        let mss = if ts_opt { base_mss - 12 } else { base_mss };
        let fate = match rng.below(1000) {
            0..=129 => Fate::Refused,
            130..=279 => Fate::AbortClient,
            280..=399 => Fate::AbortServer,
            _ => Fate::Normal,
        };
        let c_isn = rng.u32();
        Session {
            v6,
            vlan,
            flow: rng.u32() & 0xfffff,
            c,
            s,
            c_isn,
            c_seq: c_isn,
            s_seq: rng.u32(),
            ts_opt,
            http: s.port == 80 || s.port == 8080,
            mss,
            wscale: rng.range(2, 9) as u8,
            fate,
            bare_rst: rng.chance(400),
            phase: if udp { Phase::DnsQuery } else { Phase::Syn },
            rounds_left: rng.range(1, 4),
            resp_left: 0,
            segs: 0,
            ack_pending: false,
            pkts: 0,
            abort_at: rng.range(5, 60),
            dns_id: rng.u32() as u16,
            dns_name: rng.u32(),
        }
    }

    /// A session that was already established when the capture started
    /// (used to fill the initial pool, so that short captures already have the
    /// steady-state mix instead of a burst of handshakes).
    fn new_midstream(rng: &mut Rng) -> Session {
        let mut s = Session::new(rng);
        if s.phase == Phase::Syn && s.fate != Fate::Refused && rng.chance(850) {
            s.c_seq = s.c_isn.wrapping_add(1);
            s.phase = Phase::Request;
            s.rounds_left = rng.range(1, s.rounds_left);
            s.pkts = rng.below(40);
        }
        s
    }

    /// Emit one TCP segment of this session.
    fn tcp(
        &mut self,
        out: &mut Out,
        from_client: bool,
        flags: u8,
        seq: u32,
        ack: u32,
        payload: Pay,
    ) -> io::Result<()> {
        let now = out.sink.ms();
        let mut opts = [0u8; 20];
        let olen;
        let (src, dst) = if from_client {
            (&mut self.c, &mut self.s)
        } else {
            (&mut self.s, &mut self.c)
        };
        let tsval = now.wrapping_add(src.tsoff);
        let tsecr = if flags & ACK != 0 { dst.tsval } else { 0 };
        if flags & SYN != 0 {
            let mss = (self.mss + if self.ts_opt { 12 } else { 0 }) as u16;
            if self.ts_opt {
                // MSS, SACK_PERM, TS, NOP, WS  (Linux style, 20 bytes)
                opts[0..4].copy_from_slice(&[2, 4, (mss >> 8) as u8, mss as u8]);
                opts[4..6].copy_from_slice(&[4, 2]);
                opts[6..8].copy_from_slice(&[8, 10]);
                opts[8..12].copy_from_slice(&tsval.to_be_bytes());
                opts[12..16].copy_from_slice(&tsecr.to_be_bytes());
                opts[16..20].copy_from_slice(&[1, 3, 3, self.wscale]);
                olen = 20;
            } else {
                // MSS, NOP, WS, NOP, NOP, SACK_PERM  (Windows style, 12 bytes)
                opts[0..4].copy_from_slice(&[2, 4, (mss >> 8) as u8, mss as u8]);
                opts[4..8].copy_from_slice(&[1, 3, 3, self.wscale]);
                opts[8..12].copy_from_slice(&[1, 1, 4, 2]);
                olen = 12;
            }
        } else if self.ts_opt && flags & RST == 0 {
            opts[0..2].copy_from_slice(&[1, 1]);
            opts[2..4].copy_from_slice(&[8, 10]);
            opts[4..8].copy_from_slice(&tsval.to_be_bytes());
            opts[8..12].copy_from_slice(&tsecr.to_be_bytes());
            olen = 12;
        } else {
            olen = 0;
        }
        if olen > 0 {
            src.tsval = tsval;
        }
        let win = if flags & SYN != 0 {
            64240
        } else if flags & RST != 0 && flags & ACK == 0 {
            0
        } else {
            src.win
        };
        let (bytes, psum): (&[u8], u64) = match payload {
            Pay::None => (&[], 0),
            Pay::Pool(off, len) => (
                &out.pool[off..off + len],
                out.prefix[off + len] - out.prefix[off],
            ),
            Pay::Buf(b) => (b, sum16(b)),
        };
        let p = L4 {
            proto: 6,
            v6: self.v6,
            vlan: self.vlan,
            flow: self.flow,
            flags,
            seq,
            ack,
            win,
            opts: &opts[..olen],
            payload: bytes,
            payload_sum: Some(psum),
        };
        let hlen = build(&mut out.hdr, src, dst, &p);
        self.pkts += 1;
        out.sink.record(&out.hdr[..hlen], bytes, flags & RST != 0)
    }

    /// A random even offset into the payload pool.
    fn pool_off(rng: &mut Rng) -> usize {
        (rng.below(PAYLOAD_POOL as u32) & !1) as usize
    }

    fn abort(&mut self, out: &mut Out) -> io::Result<()> {
        self.phase = Phase::Done;
        let flags = if self.bare_rst { RST } else { RST | ACK };
        if self.fate == Fate::AbortClient {
            let ack = if self.bare_rst { 0 } else { self.s_seq };
            self.tcp(out, true, flags, self.c_seq, ack, Pay::None)
        } else {
            let ack = if self.bare_rst { 0 } else { self.c_seq };
            self.tcp(out, false, flags, self.s_seq, ack, Pay::None)
        }
    }

    fn aborting(&self) -> bool {
        matches!(self.fate, Fate::AbortClient | Fate::AbortServer) && self.pkts >= self.abort_at
    }

    /// Emit the next packet of this session.
    fn step(&mut self, out: &mut Out, rng: &mut Rng) -> io::Result<()> {
        match self.phase {
            Phase::Syn => {
                self.c_seq = self.c_isn.wrapping_add(1);
                self.phase = if self.fate == Fate::Refused {
                    Phase::RefuseRst
                } else {
                    Phase::SynAck
                };
                self.tcp(out, true, SYN, self.c_isn, 0, Pay::None)
            }
            Phase::RefuseRst => {
                self.phase = Phase::Done;
                self.tcp(
                    out,
                    false,
                    RST | ACK,
                    0,
                    self.c_isn.wrapping_add(1),
                    Pay::None,
                )
            }
            Phase::SynAck => {
                let isn = self.s_seq;
                self.s_seq = isn.wrapping_add(1);
                self.phase = Phase::HsAck;
                self.tcp(out, false, SYN | ACK, isn, self.c_seq, Pay::None)
            }
            Phase::HsAck => {
                self.phase = Phase::Request;
                self.tcp(out, true, ACK, self.c_seq, self.s_seq, Pay::None)
            }
            Phase::Request => {
                if self.aborting() {
                    return self.abort(out);
                }
                let len = if rng.chance(900) {
                    rng.range(60, 900)
                } else {
                    rng.range(900, self.mss)
                };
                let seq = self.c_seq;
                self.c_seq = seq.wrapping_add(len);
                self.resp_left = response_size(rng);
                self.segs = 0;
                self.ack_pending = false;
                self.phase = Phase::Response;
                if self.http {
                    // "GET /… HTTP/1.1" with headers padded to `len` bytes
                    self.resp_left = self.resp_left.max(200);
                    let mut buf = [0u8; 1460];
                    let host = if self.v6 { self.s.ip[15] } else { self.s.ip[3] };
                    let n = http_request(&mut buf, len.max(120) as usize, rng.u32(), host);
                    self.c_seq = seq.wrapping_add(n as u32);
                    return self.tcp(out, true, PSH | ACK, seq, self.s_seq, Pay::Buf(&buf[..n]));
                }
                let pl = Pay::Pool(Self::pool_off(rng), len as usize);
                self.tcp(out, true, PSH | ACK, seq, self.s_seq, pl)
            }
            Phase::Response => {
                if self.ack_pending {
                    self.ack_pending = false;
                    if self.resp_left == 0 {
                        self.rounds_left -= 1;
                        self.phase = if self.rounds_left > 0 {
                            Phase::Request
                        } else {
                            Phase::Close
                        };
                    }
                    return self.tcp(out, true, ACK, self.c_seq, self.s_seq, Pay::None);
                }
                if self.aborting() {
                    return self.abort(out);
                }
                let len = self.resp_left.min(self.mss);
                let total = self.resp_left;
                self.resp_left -= len;
                self.segs += 1;
                let flags = if self.resp_left == 0 { PSH | ACK } else { ACK };
                if self.segs.is_multiple_of(2) || self.resp_left == 0 {
                    self.ack_pending = true;
                }
                let seq = self.s_seq;
                self.s_seq = seq.wrapping_add(len);
                let off = Self::pool_off(rng);
                if self.http && self.segs == 1 {
                    // status line and headers, then the start of the body
                    let mut buf = [0u8; 1460];
                    let h = http_response_head(&mut buf, total as usize);
                    let len = len as usize;
                    buf[h..len].copy_from_slice(&out.pool[off..off + len - h]);
                    return self.tcp(out, false, flags, seq, self.c_seq, Pay::Buf(&buf[..len]));
                }
                self.tcp(
                    out,
                    false,
                    flags,
                    seq,
                    self.c_seq,
                    Pay::Pool(off, len as usize),
                )
            }
            Phase::Close => {
                if matches!(self.fate, Fate::AbortClient | Fate::AbortServer) {
                    return self.abort(out);
                }
                let seq = self.c_seq;
                self.c_seq = seq.wrapping_add(1);
                self.phase = Phase::Fin2;
                self.tcp(out, true, FIN | ACK, seq, self.s_seq, Pay::None)
            }
            Phase::Fin2 => {
                let seq = self.s_seq;
                self.s_seq = seq.wrapping_add(1);
                self.phase = Phase::LastAck;
                self.tcp(out, false, FIN | ACK, seq, self.c_seq, Pay::None)
            }
            Phase::LastAck => {
                self.phase = Phase::Done;
                self.tcp(out, true, ACK, self.c_seq, self.s_seq, Pay::None)
            }
            Phase::DnsQuery => {
                self.phase = Phase::DnsReply;
                self.dns(out, true)
            }
            Phase::DnsReply => {
                self.phase = Phase::Done;
                self.dns(out, false)
            }
            Phase::Done => unreachable!(),
        }
    }

    /// A DNS A query for `hXXXXXXX.corp.test` (80-byte frame) or its answer.
    fn dns(&mut self, out: &mut Out, query: bool) -> io::Result<()> {
        let mut m = [0u8; 64];
        m[0..2].copy_from_slice(&self.dns_id.to_be_bytes());
        m[2..4].copy_from_slice(&(if query { 0x0100u16 } else { 0x8180 }).to_be_bytes());
        m[4..6].copy_from_slice(&1u16.to_be_bytes()); // QDCOUNT
        m[6..8].copy_from_slice(&(!query as u16).to_be_bytes()); // ANCOUNT
        let mut o = 12;
        m[o] = 8;
        m[o + 1] = b'h';
        let hex = b"0123456789abcdef";
        for i in 0..7 {
            m[o + 2 + i] = hex[((self.dns_name >> (4 * i)) & 0xf) as usize];
        }
        o += 9;
        m[o..o + 11].copy_from_slice(b"\x04corp\x04test\x00");
        o += 11;
        m[o..o + 4].copy_from_slice(&[0, 1, 0, 1]); // A, IN
        o += 4;
        if !query {
            m[o..o + 2].copy_from_slice(&[0xc0, 12]); // name pointer
            m[o + 2..o + 6].copy_from_slice(&[0, 1, 0, 1]);
            m[o + 6..o + 10].copy_from_slice(&300u32.to_be_bytes());
            m[o + 10..o + 12].copy_from_slice(&4u16.to_be_bytes());
            let a = self.dns_name.to_be_bytes();
            m[o + 12..o + 16].copy_from_slice(&[10, 200, a[2], a[3] | 1]);
            o += 16;
        }
        let (src, dst) = if query {
            (&mut self.c, &mut self.s)
        } else {
            (&mut self.s, &mut self.c)
        };
        let p = L4 {
            proto: 17,
            v6: false,
            vlan: self.vlan,
            flow: 0,
            flags: 0,
            seq: 0,
            ack: 0,
            win: 0,
            opts: &[],
            payload: &m[..o],
            payload_sum: None,
        };
        let hlen = build(&mut out.hdr, src, dst, &p);
        // the message goes into the header scratch so it is written in one piece
        out.hdr[hlen..hlen + o].copy_from_slice(&m[..o]);
        self.pkts += 1;
        out.record(hlen + o, false)
    }
}

const ACTIVE: usize = 1000;

fn gen_mixed(out: &mut Out, rng: &mut Rng, n: u64) -> io::Result<()> {
    let mut active: Vec<Session> = (0..ACTIVE).map(|_| Session::new_midstream(rng)).collect();
    for _ in 0..n {
        let i = rng.below(ACTIVE as u32) as usize;
        out.sink.tick(rng.range(1, 7));
        let s = &mut active[i];
        s.step(out, rng)?;
        if s.phase == Phase::Done {
            *s = Session::new(rng);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// small: 64-byte frames

struct Flow {
    c: Host,
    s: Host,
    c_seq: u32,
    s_seq: u32,
    state: u32,
    acks_left: u32,
    end_rst: bool,
}

impl Flow {
    fn new(rng: &mut Rng) -> Flow {
        let mut c = Host::default();
        let mut s = Host::default();
        c.ip[..4].copy_from_slice(&[
            10,
            rng.range(1, 127) as u8,
            rng.below(256) as u8,
            rng.range(1, 254) as u8,
        ]);
        let k = rng.below(V4_SERVERS);
        s.ip[..4].copy_from_slice(&[10, 200 + (k / 250) as u8, 1, (k % 250 + 1) as u8]);
        c.mac = mac_for(&c.ip, false);
        s.mac = mac_for(&s.ip, false);
        c.port = rng.range(32768, 60999) as u16;
        s.port = server_port(rng);
        c.ttl = 64;
        s.ttl = 60;
        c.ipid = rng.u32() as u16;
        s.ipid = rng.u32() as u16;
        c.win = rng.range(500, 2048) as u16;
        s.win = rng.range(200, 1024) as u16;
        Flow {
            c,
            s,
            c_seq: rng.u32(),
            s_seq: rng.u32(),
            state: 0,
            acks_left: rng.range(10, 90),
            end_rst: rng.chance(800),
        }
    }

    /// Emit the next 64-byte frame; returns true when the flow is finished.
    fn step(&mut self, out: &mut Out, rng: &mut Rng) -> io::Result<bool> {
        let (from_client, flags, seq, ack, done);
        match self.state {
            0 => {
                (from_client, flags, seq, ack, done) = (true, SYN, self.c_seq, 0, false);
                self.c_seq = self.c_seq.wrapping_add(1);
                self.state = 1;
            }
            1 => {
                (from_client, flags, seq, ack, done) =
                    (false, SYN | ACK, self.s_seq, self.c_seq, false);
                self.s_seq = self.s_seq.wrapping_add(1);
                self.state = 2;
            }
            2 if self.acks_left > 0 => {
                // pure ACKs both ways, acknowledging data outside this capture
                self.acks_left -= 1;
                let c = rng.chance(500);
                if c {
                    self.s_seq = self.s_seq.wrapping_add(1448 * rng.range(1, 4));
                }
                (from_client, flags, seq, ack, done) = if c {
                    (true, ACK, self.c_seq, self.s_seq, false)
                } else {
                    (false, ACK, self.s_seq, self.c_seq, false)
                };
            }
            2 if self.end_rst => {
                let c = rng.chance(500);
                (from_client, flags, seq, ack, done) = if c {
                    (true, RST | ACK, self.c_seq, self.s_seq, true)
                } else {
                    (false, RST | ACK, self.s_seq, self.c_seq, true)
                };
            }
            2 => {
                (from_client, flags, seq, ack, done) =
                    (true, FIN | ACK, self.c_seq, self.s_seq, false);
                self.c_seq = self.c_seq.wrapping_add(1);
                self.state = 3;
            }
            3 => {
                (from_client, flags, seq, ack, done) =
                    (false, FIN | ACK, self.s_seq, self.c_seq, false);
                self.s_seq = self.s_seq.wrapping_add(1);
                self.state = 4;
            }
            _ => {
                (from_client, flags, seq, ack, done) = (true, ACK, self.c_seq, self.s_seq, true);
            }
        }
        let (src, dst) = if from_client {
            (&mut self.c, &mut self.s)
        } else {
            (&mut self.s, &mut self.c)
        };
        let win = src.win;
        let p = L4 {
            proto: 6,
            v6: false,
            vlan: 0,
            flow: 0,
            flags,
            seq,
            ack,
            win,
            opts: &[],
            payload: &[],
            payload_sum: Some(0),
        };
        let hlen = build(&mut out.hdr, src, dst, &p); // 54
        out.hdr[hlen..60].fill(0); // Ethernet padding
        let fcs = crc32(&out.hdr[..60]);
        out.hdr[60..64].copy_from_slice(&fcs.to_le_bytes());
        out.record(64, flags & RST != 0)?;
        Ok(done)
    }
}

const FLOWS: usize = 4096;

fn gen_small(out: &mut Out, rng: &mut Rng, n: u64) -> io::Result<()> {
    // start mostly mid-flow so that short captures have the steady-state mix
    let mut flows: Vec<Flow> = (0..FLOWS)
        .map(|_| {
            let mut f = Flow::new(rng);
            if rng.chance(940) {
                f.state = 2;
                f.c_seq = f.c_seq.wrapping_add(1);
                f.s_seq = f.s_seq.wrapping_add(1);
                f.acks_left = rng.range(0, f.acks_left);
            }
            f
        })
        .collect();
    for _ in 0..n {
        let i = rng.below(FLOWS as u32) as usize;
        out.sink.tick(rng.range(0, 2));
        if flows[i].step(out, rng)? {
            flows[i] = Flow::new(rng);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// spoofed: SYN flood from distinct sources

fn gen_spoofed(out: &mut Out, rng: &mut Rng, n: u64) -> io::Result<()> {
    if n > (1 << 24) - 3 {
        return Err(io::Error::other(
            "spoofed: at most 16777213 distinct sources in 10.0.0.0/8",
        ));
    }
    let mut server = Host::default();
    server.ip[..4].copy_from_slice(&[10, 0, 0, 1]);
    server.mac = mac_for(&server.ip, false);
    server.port = 80;
    // i -> (i * odd + c) mod 2^24 is a bijection, so sources are distinct.
    let mul = (rng.u32() | 1) & 0xff_ffff;
    let add = rng.u32() & 0xff_ffff;
    let mut i: u32 = 0;
    let mut written = 0u64;
    let mut opts = [
        2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7,
    ];
    while written < n {
        let low = i.wrapping_mul(mul).wrapping_add(add) & 0xff_ffff;
        i += 1;
        if low == 0 || low == 1 || low == 0xff_ffff {
            continue; // network, the server itself, broadcast
        }
        let mut c = Host::default();
        c.ip[..4].copy_from_slice(&[10, (low >> 16) as u8, (low >> 8) as u8, low as u8]);
        c.mac = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x01]; // all via one router
        c.port = rng.range(1024, 65535) as u16;
        c.ttl = rng.range(40, 250) as u8;
        c.ipid = rng.u32() as u16;
        opts[8..12].copy_from_slice(&rng.u32().to_be_bytes());
        let p = L4 {
            proto: 6,
            v6: false,
            vlan: 0,
            flow: 0,
            flags: SYN,
            seq: rng.u32(),
            ack: 0,
            win: 64240,
            opts: &opts,
            payload: &[],
            payload_sum: Some(0),
        };
        out.sink.tick(rng.range(1, 4));
        let hlen = build(&mut out.hdr, &mut c, &server, &p); // 74
        out.record(hlen, false)?;
        written += 1;
    }
    Ok(())
}

// ---------------------------------------------------------------------------

fn usage() -> ExitCode {
    eprintln!(
        "usage: gencap <mixed|small|spoofed> [--packets N] [--seed S] OUT.pcap\n\
         \n  mixed    realistic TCP/IPv6/VLAN/DNS mix, ~1.5% RSTs (default 5000000 packets)\
         \n  small    64-byte TCP frames, ~1.5% RSTs (default 5000000 packets)\
         \n  spoofed  SYNs from N distinct sources to 10.0.0.1:80 (default 1000000 packets)"
    );
    ExitCode::from(2)
}

fn parse_num(s: &str) -> Option<u64> {
    let t: String = s.chars().filter(|&c| c != '_' && c != ',').collect();
    t.parse().ok()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut mode: Option<String> = None;
    let mut out_path: Option<String> = None;
    let mut packets: Option<u64> = None;
    let mut seed: u64 = 0x5EED_2026;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (key, inline) = match a.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        match key {
            "--packets" | "-n" | "--seed" | "-s" => {
                let Some(v) = inline.or_else(|| it.next().cloned()) else {
                    return usage();
                };
                let Some(v) = parse_num(&v) else {
                    eprintln!("gencap: bad number for {key}: {v}");
                    return usage();
                };
                if key == "--packets" || key == "-n" {
                    packets = Some(v);
                } else {
                    seed = v;
                }
            }
            "-h" | "--help" => {
                usage();
                return ExitCode::SUCCESS;
            }
            _ if a.starts_with('-') && a.len() > 1 => {
                eprintln!("gencap: unknown option {a}");
                return usage();
            }
            _ if mode.is_none() => mode = Some(a.clone()),
            _ if out_path.is_none() => out_path = Some(a.clone()),
            _ => return usage(),
        }
    }
    let (Some(mode), Some(path)) = (mode, out_path) else {
        return usage();
    };
    let default = match mode.as_str() {
        "mixed" | "small" => 5_000_000,
        "spoofed" => 1_000_000,
        _ => return usage(),
    };
    let n = packets.unwrap_or(default);
    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let mut run = || -> io::Result<()> {
        let mut out = Out::create(&path, &mut rng)?;
        match mode.as_str() {
            "mixed" => gen_mixed(&mut out, &mut rng, n)?,
            "small" => gen_small(&mut out, &mut rng, n)?,
            _ => gen_spoofed(&mut out, &mut rng, n)?,
        }
        out.finish(&mode, started)
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gencap: {path}: {e}");
            ExitCode::FAILURE
        }
    }
}
