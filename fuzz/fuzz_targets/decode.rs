//! The packet decoder (every link type, VLAN stacks, tunnels, IPv6 extension headers, TCP
//! headers cut anywhere) on arbitrary frames: never a panic, every slice inside the frame, and
//! the fast path agreeing with the general decoder. Run on stable:
//! `cargo fuzz run -s none decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsthound::engine::decode::{Outcome, decode, ethernet_ipv4_tcp};
use rsthound::model::LinkType;

/// The first input byte picks one of these; the rest is the frame.
const LINKS: [LinkType; 20] = [
    LinkType::ETHERNET,
    LinkType::NULL,
    LinkType::PPP,
    LinkType::FDDI,
    LinkType::RAW_BSD12,
    LinkType::RAW_BSD14,
    LinkType::PPP_HDLC,
    LinkType::PPP_ETHER,
    LinkType::RAW,
    LinkType::C_HDLC,
    LinkType::IEEE802_11,
    LinkType::FRELAY,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::IEEE802_11_RADIOTAP,
    LinkType::PPI,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::NFLOG,
    LinkType(276), // LINUX_SLL2
];

fn within(inner: &[u8], outer: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len())
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let link = LINKS[usize::from(pick) % LINKS.len()];
    let outcome = decode(link, frame);
    if let Outcome::Tcp(seg) = &outcome {
        assert!(within(seg.raw, frame) && within(seg.payload, frame) && within(seg.options, frame));
        assert!(seg.payload.len() as u64 <= u64::from(seg.payload_len));
        assert!(seg.header_cut.is_none_or(|n| (14..20).contains(&n)));
        let _ = seg.flags.to_string();
    }
    if link == LinkType::ETHERNET
        && let Some(fast) = ethernet_ipv4_tcp(frame)
    {
        let Outcome::Tcp(g) = outcome else {
            panic!("the fast path found a segment the general decoder did not");
        };
        let f = fast.segment();
        assert_eq!((g.src, g.dst, g.sport, g.dport), (f.src, f.dst, f.sport, f.dport));
        assert_eq!((g.seq, g.ack, g.flags, g.window), (f.seq, f.ack, f.flags, f.window));
        assert_eq!((g.payload_len, g.header_cut), (f.payload_len, f.header_cut));
    }
});
