//! The most common frame, an IPv4 TCP segment in an untagged Ethernet frame, decoded in one
//! go into a compact [`Tcp4`], for the readers that look at every segment. Anything else, and
//! anything unusual about such a frame (a bad length, a fragment), is left to [`super::decode`],
//! which then says what it is: this path only ever finds what that one would have found.
//!
//! Why: the general decoder walks layer by layer through an enum, and fills a [`TcpSegment`]
//! with room for any address family and encapsulation; for a 64-byte frame that took about 190
//! instructions, and reading the segment back for its flow key as many again.

use super::{Context, TcpFlags, TcpSegment, link::ETHERTYPE_IPV4};
use std::net::{IpAddr, Ipv4Addr};

const ETHERNET_HEADER: usize = 14;
const IPV4_MIN_HEADER: usize = 20;
const TCP_MIN_HEADER: usize = 20;
const PROTO_TCP: u8 = 6;

/// An IPv4 TCP segment with no encapsulation: what [`TcpSegment`] holds, with the addresses as
/// numbers.
#[derive(Debug, Clone, Copy)]
pub struct Tcp4<'a> {
    pub src: u32,
    pub dst: u32,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub ttl: u8,
    pub ip_id: u16,
    pub options: &'a [u8],
    pub raw: &'a [u8],
    pub payload: &'a [u8],
    pub payload_len: u32,
}

impl<'a> Tcp4<'a> {
    /// The segment as the general decoder makes it.
    pub fn segment(&self) -> TcpSegment<'a> {
        TcpSegment {
            src: IpAddr::V4(Ipv4Addr::from(self.src)),
            dst: IpAddr::V4(Ipv4Addr::from(self.dst)),
            sport: self.sport,
            dport: self.dport,
            seq: self.seq,
            ack: self.ack,
            flags: self.flags,
            window: self.window,
            ttl: self.ttl,
            ip_id: Some(self.ip_id),
            options: self.options,
            raw: self.raw,
            payload: self.payload,
            payload_len: self.payload_len,
            header_cut: None,
            ctx: Context::default(),
        }
    }
}

/// The IPv4 TCP segment in an untagged Ethernet frame, or `None` for any other frame and for
/// one the general decoder would reject or count as something else. Lengths follow
/// `ip::ipv4` and `ip::tcp` exactly: a total length of 0 (segmentation offload) trusts the
/// capture, a longer one is cut to it, and a TCP header cut by the snap length after its 20
/// fixed bytes still counts. One cut within them is left to the general decoder (rare, and
/// marked there as partly captured).
#[inline(always)]
pub fn ethernet_ipv4_tcp(frame: &[u8]) -> Option<Tcp4<'_>> {
    let (eth, d) = frame.split_first_chunk::<ETHERNET_HEADER>()?;
    let h: &[u8; IPV4_MIN_HEADER] = d.first_chunk()?;
    if u16::from_be_bytes([eth[12], eth[13]]) != ETHERTYPE_IPV4
        || h[0] >> 4 != 4
        || h[9] != PROTO_TCP
        // A fragment: the first one (offset 0) carries the TCP header, the others are counted.
        || u16::from_be_bytes([h[6], h[7]]) & 0x1fff != 0
    {
        return None;
    }
    let ihl = usize::from(h[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if ihl < IPV4_MIN_HEADER || d.len() < ihl || (total != 0 && total < ihl) {
        return None;
    }
    let (end, declared) = if total == 0 {
        (d.len(), d.len() - ihl)
    } else {
        (total.min(d.len()), total - ihl)
    };
    let t = d.get(ihl..end)?;
    let th: &[u8; TCP_MIN_HEADER] = t.first_chunk()?;
    let off_flags = u16::from_be_bytes([th[12], th[13]]);
    let hlen = usize::from(off_flags >> 12) * 4;
    if hlen < TCP_MIN_HEADER {
        return None;
    }
    Some(Tcp4 {
        src: u32::from_be_bytes([h[12], h[13], h[14], h[15]]),
        dst: u32::from_be_bytes([h[16], h[17], h[18], h[19]]),
        sport: u16::from_be_bytes([th[0], th[1]]),
        dport: u16::from_be_bytes([th[2], th[3]]),
        seq: u32::from_be_bytes([th[4], th[5], th[6], th[7]]),
        ack: u32::from_be_bytes([th[8], th[9], th[10], th[11]]),
        flags: TcpFlags(off_flags & 0x01ff),
        window: u16::from_be_bytes([th[14], th[15]]),
        ttl: h[8],
        ip_id: u16::from_be_bytes([h[4], h[5]]),
        options: t.get(TCP_MIN_HEADER..hlen.min(t.len())).unwrap_or(&[]),
        raw: t,
        payload: t.get(hlen..).unwrap_or(&[]),
        payload_len: declared.saturating_sub(hlen) as u32,
    })
}
