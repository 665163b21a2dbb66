//! A flood of refused connections on loopback, as `watch` sees it when the packet ring
//! overflows: the kernel drops a whole ring block, so a SYN can be lost while its RST, in the
//! next block, is captured. Measured with `bench/watch-load.sh` (GEN_MODE=connect,
//! STORM_LIMIT=0, ~18,000 attempts/s): 3 such RSTs among about 77,000 dropped frames, and none
//! in runs without kernel drops. Each must still be called refused, on the same 5-tuple as the
//! refused attempts before and after it, in live (`watch`) and file (`read`) tracking alike.

mod common;

use common::{ip, ts};
use rsthound::engine::decode::{Outcome, TcpFlags, decode};
use rsthound::engine::track::{Event, SegMeta, Tracker, TrackerConfig};
use rsthound::model::LinkType;
use rsthound::testkit::synth::TcpSpec;

const PORT: u16 = 40_000;

fn syn(isn: u32) -> TcpSpec {
    TcpSpec::new(ip("127.0.0.1"), PORT, ip("127.0.0.1"), 7211, TcpFlags::SYN).seq(isn)
}

fn rst(isn: u32) -> TcpSpec {
    TcpSpec::new(
        ip("127.0.0.1"),
        7211,
        ip("127.0.0.1"),
        PORT,
        TcpFlags::RST | TcpFlags::ACK,
    )
    .ack(isn.wrapping_add(1))
}

/// The verdicts and evidence of the RSTs, fed in this order 10 µs apart.
fn verdicts(cfg: TrackerConfig, frames: &[TcpSpec]) -> Vec<(String, String)> {
    let mut t = Tracker::new(cfg);
    let mut out = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let bytes = f.ethernet();
        let Outcome::Tcp(seg) = decode(LinkType::ETHERNET, &bytes) else {
            panic!("not TCP");
        };
        let meta = SegMeta {
            ts: ts(1_765_000_000, i as u64 * 10),
            frame: i as u64 + 1,
            link_type: LinkType::ETHERNET,
            iface: 1,
            iface_name: None,
            direction: None,
            ifindex: Some(1),
        };
        t.observe(&meta, &seg);
        for e in t.drain() {
            if let Event::Rst(r) = e {
                out.push((r.verdict.as_str().to_string(), r.evidence.to_string()));
            }
        }
    }
    out
}

/// SYN 1000, RST; [SYN 5000 lost with its ring block]; RST 5000; SYN 9000, RST.
fn with_a_lost_syn() -> Vec<TcpSpec> {
    vec![syn(1000), rst(1000), rst(5000), syn(9000), rst(9000)]
}

#[test]
fn a_refusal_whose_syn_the_ring_dropped_is_refused_live() {
    let v = verdicts(
        TrackerConfig {
            headers_only: true,
            summarize_all_ended: false,
            refused_ends_at_rst: true,
            ..TrackerConfig::default()
        },
        &with_a_lost_syn(),
    );
    assert_eq!(v.len(), 3, "{v:?}");
    assert!(v.iter().all(|(verdict, _)| verdict == "refused"), "{v:?}");
    assert!(
        v[1].1.contains("answers a SYN (seq 5000) not in the table"),
        "{v:?}"
    );
}

#[test]
fn a_refusal_whose_syn_was_not_captured_is_refused_in_a_file() {
    let v = verdicts(TrackerConfig::default(), &with_a_lost_syn());
    assert_eq!(v.len(), 3, "{v:?}");
    assert!(v.iter().all(|(verdict, _)| verdict == "refused"), "{v:?}");
}
