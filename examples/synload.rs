//! Refused-connection generator for the `rsthound watch` load benchmark
//! (`bench/watch-load.sh`).
//!
//! ```text
//! cargo run --release --example synload -- [--port 7211] [--duration 10] [--rate 0]
//!                                          [--threads N] [--connect]
//! ```
//!
//! Default (raw) mode: sends TCP SYNs from 127.0.0.1 to 127.0.0.1:PORT through a raw
//! IPv4 socket (`IPPROTO_RAW`, so the socket never receives anything and we write the
//! IP header ourselves; the kernel fills in the IP total length, ID and header
//! checksum). Each SYN has a source port taken in turn from the whole ephemeral range
//! (`/proc/sys/net/ipv4/ip_local_port_range`) and a random ISN. Nothing listens on
//! PORT, so the kernel answers every SYN with RST/ACK: one refused connection, one
//! `OutRsts` in `/proc/net/snmp`. Needs CAP_NET_RAW (run it as root, in a network
//! namespace made for the purpose: `ip netns exec NS ...`).
//!
//! `--connect` mode: `std::net::TcpStream::connect` in a loop instead (the real
//! client side of the stack: socket, SYN, RST, ECONNREFUSED, close); slower.
//!
//! Both addresses are checked to lie in 127.0.0.0/8 before any socket is opened, and
//! the only way to build a packet or a destination is through that check: this
//! program cannot send anywhere but loopback.
//!
//! At the end it prints one line to stdout:
//! `synload: mode=raw threads=T sent=N seconds=S rate=R/s send_errors=E outrsts=K incsumerrors=C`
//! where `outrsts`/`incsumerrors` are the deltas of the current network namespace's
//! `Tcp: OutRsts` / `Tcp: InCsumErrors` counters over the run (`n/a` if unreadable).
//! Note that these are namespace-wide: anything else in the namespace counts too.

use std::fs;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::process::ExitCode;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

#[derive(Parser, Debug)]
#[command(
    name = "synload",
    about = "Provoke refused TCP connections on loopback (load generator for `rsthound watch`)"
)]
struct Args {
    /// Destination port (nothing may listen there).
    #[arg(long, default_value_t = 7211, value_parser = clap::value_parser!(u16).range(1..))]
    port: u16,
    /// How long to send, in seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Target SYNs (or connects) per second over all threads; 0 = as fast as possible.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Sending threads; 0 = one per available CPU.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Use `TcpStream::connect` in a loop instead of the raw-socket SYN generator.
    #[arg(long)]
    connect: bool,
    /// Destination address; must be in 127.0.0.0/8.
    #[arg(long, default_value = "127.0.0.1")]
    dst: Ipv4Addr,
    /// Source address of the raw SYNs; must be in 127.0.0.0/8 (the RSTs go back to it).
    #[arg(long, default_value = "127.0.0.1")]
    src: Ipv4Addr,
    /// Source port range LO-HI for raw SYNs (default: the namespace's ip_local_port_range).
    #[arg(long, value_parser = parse_range)]
    ports: Option<(u16, u16)>,
    /// Diagnostic: send a wrong TCP checksum (the kernel should drop every SYN, count
    /// InCsumErrors, and send no RST). Shows whether loopback checks TCP checksums.
    #[arg(long)]
    bad_checksum: bool,
}

fn parse_range(s: &str) -> Result<(u16, u16), String> {
    let (lo, hi) = s
        .split_once('-')
        .ok_or_else(|| format!("expected LO-HI, got {s:?}"))?;
    let lo: u16 = lo.trim().parse().map_err(|e| format!("{lo:?}: {e}"))?;
    let hi: u16 = hi.trim().parse().map_err(|e| format!("{hi:?}: {e}"))?;
    if lo == 0 || lo > hi {
        return Err(format!("need 1 <= LO <= HI, got {lo}-{hi}"));
    }
    Ok((lo, hi))
}

// ---------------------------------------------------------------------------
// The loopback guard

/// An IPv4 address in 127.0.0.0/8. The only constructor checks that; every address
/// this program sends to or from is one of these.
#[derive(Clone, Copy, Debug)]
struct Loopback(Ipv4Addr);

impl Loopback {
    fn new(addr: Ipv4Addr, what: &str) -> Result<Self> {
        if addr.octets()[0] != 127 {
            bail!(
                "refusing {what} address {addr}: synload only sends within 127.0.0.0/8 \
                 (house rule: traffic only to loopback)"
            );
        }
        Ok(Loopback(addr))
    }
    fn addr(self) -> Ipv4Addr {
        self.0
    }
}

// ---------------------------------------------------------------------------
// PRNG for ISNs

// Seeded per thread from the clock.
#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

// ---------------------------------------------------------------------------
// Packet

const IP_LEN: usize = 20;
const TCP_LEN: usize = 20;
const PKT_LEN: usize = IP_LEN + TCP_LEN;
const SYN: u8 = 0x02;
const WINDOW: u16 = 64240;

/// A SYN template: IPv4 header (ID, total length and header checksum left for the
/// kernel to fill in, as it does on IPPROTO_RAW sockets) + 20-byte TCP header.
struct SynTemplate {
    pkt: [u8; PKT_LEN],
    /// One's-complement sum of the pseudo-header and the constant TCP words.
    base_sum: u32,
    bad_checksum: bool,
}

impl SynTemplate {
    fn new(src: Loopback, dst: Loopback, dport: u16, bad_checksum: bool) -> Self {
        let mut pkt = [0u8; PKT_LEN];
        pkt[0] = 0x45; // v4, IHL 5
        pkt[2..4].copy_from_slice(&(PKT_LEN as u16).to_be_bytes());
        pkt[6] = 0x40; // DF
        pkt[8] = 64; // TTL
        pkt[9] = 6; // TCP
        pkt[12..16].copy_from_slice(&src.addr().octets());
        pkt[16..20].copy_from_slice(&dst.addr().octets());
        let t = IP_LEN;
        pkt[t + 2..t + 4].copy_from_slice(&dport.to_be_bytes());
        pkt[t + 12] = ((TCP_LEN / 4) as u8) << 4;
        pkt[t + 13] = SYN;
        pkt[t + 14..t + 16].copy_from_slice(&WINDOW.to_be_bytes());

        // pseudo-header: src, dst, zero+proto, TCP length; plus the constant TCP words
        // (dport, doff/flags, window). Source port, sequence number and checksum vary.
        let mut s: u32 = 0;
        for w in pkt[12..20].chunks_exact(2) {
            s += u16::from_be_bytes([w[0], w[1]]) as u32;
        }
        s += 6 + TCP_LEN as u32;
        s += dport as u32;
        s += u16::from_be_bytes([pkt[t + 12], pkt[t + 13]]) as u32;
        s += WINDOW as u32;
        SynTemplate {
            pkt,
            base_sum: s,
            bad_checksum,
        }
    }

    /// Fill in source port, ISN and TCP checksum.
    #[inline]
    fn set(&mut self, sport: u16, isn: u32) {
        let t = IP_LEN;
        self.pkt[t..t + 2].copy_from_slice(&sport.to_be_bytes());
        self.pkt[t + 4..t + 8].copy_from_slice(&isn.to_be_bytes());
        let mut s = self.base_sum + sport as u32 + (isn >> 16) + (isn & 0xffff);
        s = (s & 0xffff) + (s >> 16);
        s = (s & 0xffff) + (s >> 16);
        let mut csum = !(s as u16);
        if self.bad_checksum {
            csum ^= 0x5a5a;
        }
        self.pkt[t + 16..t + 18].copy_from_slice(&csum.to_be_bytes());
    }
}

/// Straightforward RFC 1071 checksum over pseudo-header + segment, to test `set`.
#[cfg(test)]
fn reference_tcp_checksum(pkt: &[u8]) -> u16 {
    let mut buf = Vec::new();
    buf.extend_from_slice(&pkt[12..20]);
    buf.extend_from_slice(&[0, 6]);
    buf.extend_from_slice(&((pkt.len() - IP_LEN) as u16).to_be_bytes());
    buf.extend_from_slice(&pkt[IP_LEN..]);
    // the checksum field counts as zero
    buf[12 + 16..12 + 18].copy_from_slice(&[0, 0]);
    let mut s: u32 = 0;
    for w in buf.chunks(2) {
        s += u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]) as u32;
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

// ---------------------------------------------------------------------------
// Pacing

/// One sender's schedule: `rate` items per second (or flat out when `None`) for the plan's
/// duration, counted from when all senders are released together.
struct Schedule {
    rate: Option<f64>,
    start: Instant,
    deadline: Instant,
    done: u64,
}

impl Schedule {
    /// Waits at `gate` for the other senders, then starts the clock.
    fn start(rate: Option<f64>, duration: Duration, gate: &Barrier) -> Self {
        gate.wait();
        let start = Instant::now();
        Schedule {
            rate,
            start,
            deadline: start + duration,
            done: 0,
        }
    }

    /// Sleeps until the next item is due (never past the deadline); false once the run is over
    /// or `stop` is set. Paced, the clock is read for every item; flat out, every
    /// `check_every` items (reading it costs more than sending a raw packet).
    fn next(&mut self, stop: &AtomicBool, check_every: u64) -> bool {
        if let Some(rate) = self.rate {
            let due =
                (self.start + Duration::from_secs_f64(self.done as f64 / rate)).min(self.deadline);
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
        }
        if (self.rate.is_some() || self.done.is_multiple_of(check_every))
            && (Instant::now() >= self.deadline || stop.load(Ordering::Relaxed))
        {
            return false;
        }
        self.done += 1;
        true
    }
}

// ---------------------------------------------------------------------------
// Senders

#[derive(Default, Clone, Copy)]
struct Tally {
    sent: u64,
    errors: u64,
}

struct Plan {
    src: Loopback,
    dst: Loopback,
    port: u16,
    ports: (u16, u16),
    duration: Duration,
    /// per-thread rate, None = flat out
    rates: Vec<Option<f64>>,
    bad_checksum: bool,
}

/// IPPROTO_RAW: send-only, IP_HDRINCL implied; the kernel never queues received
/// packets on it, so the RST flood costs the generator nothing on a receive side.
fn raw_socket() -> Result<Socket> {
    Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(255)))
        .context("raw socket (IPPROTO_RAW) — needs CAP_NET_RAW: run as root")
}

fn raw_sender(
    plan: &Plan,
    idx: usize,
    sock: Socket,
    start_gate: &Barrier,
    stop: &AtomicBool,
) -> Result<Tally> {
    let to = SockAddr::from(SocketAddrV4::new(plan.dst.addr(), 0));
    let mut tpl = SynTemplate::new(plan.src, plan.dst, plan.port, plan.bad_checksum);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ (u64::from(std::process::id()) << 20)
        ^ ((idx as u64) << 48);
    let mut rng = Rng::new(seed);

    let (lo, hi) = plan.ports;
    let span = (hi - lo) as u32 + 1;
    let nthreads = plan.rates.len() as u32;
    let mut off = (idx as u32 * span) / nthreads.max(1);
    let mut t = Tally::default();
    let mut schedule = Schedule::start(plan.rates[idx], plan.duration, start_gate);
    while schedule.next(stop, 64) {
        let sport = lo + off as u16;
        off += 1;
        if off == span {
            off = 0;
        }
        tpl.set(sport, rng.u32());
        match sock.send_to(&tpl.pkt, &to) {
            Ok(_) => t.sent += 1,
            Err(e) if e.raw_os_error() == Some(105) /* ENOBUFS */ => {
                t.errors += 1;
                thread::yield_now();
            }
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                return Err(e).context("sendto on the raw socket");
            }
        }
    }
    Ok(t)
}

fn connect_sender(
    plan: &Plan,
    idx: usize,
    start_gate: &Barrier,
    stop: &AtomicBool,
) -> Result<Tally> {
    let to = SocketAddr::V4(SocketAddrV4::new(plan.dst.addr(), plan.port));
    let mut t = Tally::default();
    let mut schedule = Schedule::start(plan.rates[idx], plan.duration, start_gate);
    while schedule.next(stop, 1) {
        match TcpStream::connect(to) {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => t.sent += 1,
            Ok(_) => {
                stop.store(true, Ordering::Relaxed);
                bail!("connected to {to}: something listens there; pick a port nobody uses");
            }
            Err(e) => {
                // e.g. EADDRNOTAVAIL when ephemeral ports run out; count and go on
                t.errors += 1;
                if t.errors == 1 {
                    eprintln!("synload: connect {to}: {e} (further errors only counted)");
                }
                thread::yield_now();
            }
        }
    }
    Ok(t)
}

// ---------------------------------------------------------------------------
// Kernel counters

/// `Tcp:` counter `name` from this network namespace's /proc/net/snmp.
fn tcp_counter(name: &str) -> Option<u64> {
    let text = fs::read_to_string("/proc/net/snmp").ok()?;
    let mut tcp = text.lines().filter(|l| l.starts_with("Tcp:"));
    let header = tcp.next()?;
    let values = tcp.next()?;
    let i = header.split_whitespace().position(|h| h == name)?;
    values.split_whitespace().nth(i)?.parse().ok()
}

fn delta(before: Option<u64>, after: Option<u64>) -> String {
    match (before, after) {
        (Some(b), Some(a)) => a.saturating_sub(b).to_string(),
        _ => "n/a".into(),
    }
}

fn local_port_range() -> (u16, u16) {
    fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|x| x.parse::<u16>());
            match (it.next(), it.next()) {
                (Some(Ok(lo)), Some(Ok(hi))) if lo > 0 && lo <= hi => Some((lo, hi)),
                _ => None,
            }
        })
        .unwrap_or((32768, 60999))
}

// ---------------------------------------------------------------------------

fn run(args: Args) -> Result<()> {
    // The guard comes first, before any socket exists.
    let dst = Loopback::new(args.dst, "destination")?;
    let src = Loopback::new(args.src, "source")?;
    if !(args.duration.is_finite() && args.duration > 0.0 && args.duration <= 86_400.0) {
        bail!("--duration must be in (0, 86400] seconds");
    }
    let mut threads = if args.threads == 0 {
        thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        args.threads
    };
    if threads > 256 {
        bail!("--threads at most 256");
    }
    if args.rate > 0 {
        // every thread sends at least 1/s
        threads = threads.min(usize::try_from(args.rate).unwrap_or(usize::MAX));
    }
    // split the total rate; the first `rem` threads take one more
    let (q, rem) = (args.rate / threads as u64, args.rate % threads as u64);
    let rates = (0..threads)
        .map(|i| (args.rate > 0).then(|| (q + u64::from((i as u64) < rem)) as f64))
        .collect();
    let plan = Plan {
        src,
        dst,
        port: args.port,
        ports: args.ports.unwrap_or_else(local_port_range),
        duration: Duration::from_secs_f64(args.duration),
        rates,
        bad_checksum: args.bad_checksum,
    };
    let mode = if args.connect { "connect" } else { "raw" };

    let rsts0 = tcp_counter("OutRsts");
    let csum0 = tcp_counter("InCsumErrors");
    // Open the sockets here so that a missing capability fails before any thread
    // waits at the start barrier.
    let mut sockets = Vec::new();
    if !args.connect {
        for _ in 0..threads {
            sockets.push(Some(raw_socket()?));
        }
    }
    let gate = Barrier::new(threads + 1);
    let stop = AtomicBool::new(false);
    let (results, seconds) = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let (plan, gate, stop) = (&plan, &gate, &stop);
                let sock = sockets.get_mut(i).and_then(Option::take);
                s.spawn(move || match sock {
                    Some(sock) => raw_sender(plan, i, sock, gate, stop),
                    None => connect_sender(plan, i, gate, stop),
                })
            })
            .collect();
        gate.wait();
        let t0 = Instant::now();
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("sender thread panicked"))
            .collect();
        (results, t0.elapsed().as_secs_f64())
    });
    let rsts1 = tcp_counter("OutRsts");
    let csum1 = tcp_counter("InCsumErrors");

    let mut total = Tally::default();
    for r in results {
        let t = r?;
        total.sent += t.sent;
        total.errors += t.errors;
    }
    println!(
        "synload: mode={mode} threads={threads} sent={} seconds={seconds:.3} rate={:.0}/s \
         send_errors={} outrsts={} incsumerrors={}",
        total.sent,
        total.sent as f64 / seconds,
        total.errors,
        delta(rsts0, rsts1),
        delta(csum0, csum1),
    );
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synload: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback() {
        assert!(Loopback::new(Ipv4Addr::new(127, 0, 0, 1), "d").is_ok());
        assert!(Loopback::new(Ipv4Addr::new(127, 255, 1, 2), "d").is_ok());
        for a in [
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(192, 168, 1, 1),
            Ipv4Addr::new(0, 0, 0, 0),
            Ipv4Addr::new(8, 8, 8, 8),
            Ipv4Addr::new(128, 0, 0, 1),
            Ipv4Addr::new(126, 255, 255, 255),
        ] {
            assert!(Loopback::new(a, "d").is_err(), "{a}");
        }
    }

    #[test]
    fn checksum_matches_reference() {
        let src = Loopback::new(Ipv4Addr::new(127, 0, 0, 1), "s").unwrap();
        let dst = Loopback::new(Ipv4Addr::new(127, 3, 2, 1), "d").unwrap();
        let mut rng = Rng::new(7);
        let mut tpl = SynTemplate::new(src, dst, 7211, false);
        for sport in [1, 1024, 32768, 60999, 65535] {
            for _ in 0..1000 {
                tpl.set(sport, rng.u32());
                assert_eq!(
                    u16::from_be_bytes([tpl.pkt[36], tpl.pkt[37]]),
                    reference_tcp_checksum(&tpl.pkt)
                );
            }
        }
        tpl.set(0xffff, 0xffff_ffff);
        assert_eq!(
            u16::from_be_bytes([tpl.pkt[36], tpl.pkt[37]]),
            reference_tcp_checksum(&tpl.pkt)
        );
    }

    #[test]
    fn range_parsing() {
        assert_eq!(parse_range("1024-65535"), Ok((1024, 65535)));
        assert!(parse_range("0-10").is_err());
        assert!(parse_range("10-9").is_err());
        assert!(parse_range("10").is_err());
    }
}
