//! `cargo bench --bench watch_path`: the user-space cost of one refused connection in `watch`,
//! without the kernel (no root, no namespace, little noise): a storm of refused attempts on
//! loopback, as the ring shows them (SYN and RST, each once outgoing — the loopback copy that
//! `watch` drops — and once incoming), fed to `watch` through a fake ring, with JSON output and
//! the default storm limit. The live load benchmark (`bench/watch-load.sh`) measures the same path
//! with the kernel's share included, against tcpdump; this one is for finding where the time goes.
//!
//! Prints ns per RST for the whole path and for decoding alone (the floor), and their ratio,
//! from the fastest of several rounds.

use rsthound::command::watch::{Clock, Sinks, Sources, WatchOptions, watch};
use rsthound::engine::decode::{TcpFlags, decode};
use rsthound::model::timestamp::Timestamp;
use rsthound::source::live::ring::{Frame, PACKET_HOST, PACKET_OUTGOING};
use rsthound::source::live::{FrameSource, InterfaceSource};
use rsthound::sys::packet::RingStats;
use rsthound::testkit::synth::TcpSpec;
use std::cell::Cell;
use std::io;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

const ARPHRD_LOOPBACK: u16 = 772;
/// Refused attempts per round.
const ATTEMPTS: usize = 2_000_000;
/// Frames per poll (a 1 MiB ring block holds about this many of these).
const PER_POLL: usize = 8192;
/// Refused attempts per second of capture time (what the live benchmark reaches).
const RATE: i64 = 250_000;
const ROUNDS: usize = 5;

/// Two refused attempts' worth of frames, rotated through the source ports at run time.
struct Storm {
    frames: Vec<(u8, Vec<u8>)>,
}

impl Storm {
    /// The four frames of the attempt from `sport`: SYN out, SYN in, RST out, RST in.
    fn attempt(sport: u16) -> Vec<(u8, Vec<u8>)> {
        let lo: IpAddr = "127.0.0.1".parse().expect("address");
        let syn = TcpSpec::new(lo, sport, lo, 7211, TcpFlags::SYN)
            .seq(u32::from(sport) * 7919)
            .ethernet();
        let rst = TcpSpec::new(lo, 7211, lo, sport, TcpFlags::RST | TcpFlags::ACK)
            .ack((u32::from(sport) * 7919).wrapping_add(1))
            .ethernet();
        vec![
            (PACKET_OUTGOING, syn.clone()),
            (PACKET_HOST, syn),
            (PACKET_OUTGOING, rst.clone()),
            (PACKET_HOST, rst),
        ]
    }

    fn new() -> Self {
        // Distinct source ports, as a SYN generator's random ones.
        let frames = (0..40_000u16)
            .flat_map(|i| Self::attempt(20_000 + i))
            .collect();
        Storm { frames }
    }

    fn frame(&self, i: usize) -> (u8, &[u8]) {
        let (t, d) = &self.frames[i % self.frames.len()];
        (*t, d)
    }
}

/// Hands out the storm's frames a poll at a time, in capture time; `now` follows them.
struct FakeRing<'s> {
    storm: &'s Storm,
    next: usize,
    total: usize,
    now: Rc<Cell<i64>>,
}

const T0: i64 = 1_763_730_942_000_000_000;

fn frame_ts(i: usize) -> i64 {
    // Four frames per attempt, RATE attempts per second.
    T0 + (i as i64 / 4) * (1_000_000_000 / RATE) + (i as i64 % 4) * 1000
}

impl FrameSource for FakeRing<'_> {
    fn poll(&mut self, _ms: i32, f: &mut dyn FnMut(&Frame<'_>)) -> io::Result<usize> {
        let end = (self.next + PER_POLL).min(self.total);
        for i in self.next..end {
            let (pkttype, data) = self.storm.frame(i);
            f(&Frame {
                ts: Timestamp::from_nanos(frame_ts(i), 9),
                ifindex: 1,
                pkttype,
                hatype: ARPHRD_LOOPBACK,
                protocol: 0x0800,
                vlan: None,
                orig_len: data.len() as u32,
                data,
                net_offset: 14,
            });
        }
        let n = end - self.next;
        self.next = end;
        // Once the storm is over, time runs on so that --duration ends the run.
        self.now.set(if n == 0 {
            self.now.get() + 1_000_000_000
        } else {
            frame_ts(end - 1)
        });
        Ok(n)
    }

    fn stats(&mut self) -> io::Result<RingStats> {
        Ok(RingStats {
            packets: 0,
            drops: 0,
        })
    }
}

struct Lo;

impl InterfaceSource for Lo {
    fn list(&mut self) -> io::Result<Vec<(u32, Vec<u8>)>> {
        Ok(vec![(1, b"lo".to_vec())])
    }
}

struct FollowRing(Rc<Cell<i64>>);

impl Clock for FollowRing {
    fn now_ns(&mut self) -> i64 {
        self.0.get()
    }
}

/// One run of `watch` over the storm: seconds, RSTs counted.
fn whole_path(storm: &Storm) -> (f64, u64) {
    let now = Rc::new(Cell::new(T0));
    let mut ring = FakeRing {
        storm,
        next: 0,
        total: ATTEMPTS * 4,
        now: now.clone(),
    };
    let opts = WatchOptions {
        json: true,
        quiet: true,
        duration: Some(ATTEMPTS as f64 / RATE as f64 + 2.0),
        buffer_mib: 1,
        storm_limit: 20,
        ..Default::default()
    };
    let stop = AtomicBool::new(false);
    let (mut out, mut err) = (io::sink(), io::sink());
    let t = Instant::now();
    let report = watch(
        &opts,
        Sources {
            frames: &mut ring,
            interfaces: &mut Lo,
            clock: &mut FollowRing(now),
            counters: None,
            kernel: None,
            sockets: None,
            listeners_at_start: None,
        },
        &stop,
        Sinks {
            out: &mut out,
            err: &mut err,
        },
    );
    (t.elapsed().as_secs_f64(), report.stats.rsts)
}

/// Decoding alone, over the same frames: seconds, RSTs found.
fn decode_only(storm: &Storm) -> (f64, u64) {
    let t = Instant::now();
    let mut rsts = 0u64;
    for i in 0..ATTEMPTS * 4 {
        let (pkttype, data) = storm.frame(i);
        if pkttype == PACKET_OUTGOING {
            continue;
        }
        if let rsthound::engine::decode::Outcome::Tcp(seg) = decode(
            rsthound::model::LinkType::ETHERNET,
            std::hint::black_box(data),
        ) {
            rsts += u64::from(seg.flags.rst());
        }
    }
    (t.elapsed().as_secs_f64(), rsts)
}

fn main() {
    let storm = Storm::new();
    let mut best = (f64::MAX, f64::MAX);
    for round in 1..=ROUNDS {
        let (w, n) = whole_path(&storm);
        let (d, m) = decode_only(&storm);
        assert_eq!(n, ATTEMPTS as u64, "watch counted every RST");
        assert_eq!(m, ATTEMPTS as u64);
        let (w, d) = (w * 1e9 / n as f64, d * 1e9 / n as f64);
        println!("round {round}: watch {w:.0} ns per RST, decode alone {d:.0} ns per RST");
        best = (best.0.min(w), best.1.min(d));
    }
    println!(
        "watch path (best of {ROUNDS}): {:.0} ns per refused attempt, {:.1}x decoding alone ({:.0} ns)",
        best.0,
        best.0 / best.1,
        best.1
    );
}
