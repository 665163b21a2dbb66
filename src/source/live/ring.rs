//! Parsing a TPACKET_V3 ring block into frames, in safe code and with every offset checked: the
//! kernel wrote it, but a bug here must not turn into an out-of-bounds read.
//!
//! Layout (linux/if_packet.h), offsets from the block's start:
//! `tpacket_block_desc`: version u32 @0, offset_to_priv u32 @4, block_status u32 @8,
//! num_pkts u32 @12, offset_to_first_pkt u32 @16, ...; each frame starts with a `tpacket3_hdr`:
//! tp_next_offset u32 @0, tp_sec @4, tp_nsec @8, tp_snaplen @12, tp_len @16, tp_status @20,
//! tp_mac u16 @24, tp_net u16 @26, tp_rxhash @28, tp_vlan_tci u32 @32, tp_vlan_tpid u16 @36;
//! then a `sockaddr_ll` at 48: sll_protocol u16 (big-endian) @50, sll_ifindex i32 @52,
//! sll_hatype u16 @56, sll_pkttype u8 @58.

use crate::model::timestamp::Timestamp;

/// TP_STATUS_VLAN_VALID: `tp_vlan_tci` holds a tag the kernel stripped from the frame.
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const SLL_OFFSET: usize = 48;

/// `sll_pkttype` values (linux/if_packet.h).
pub const PACKET_HOST: u8 = 0;
pub const PACKET_OUTGOING: u8 = 4;

/// One captured frame, borrowed from the ring block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub ts: Timestamp,
    pub ifindex: u32,
    /// `sll_pkttype`: PACKET_HOST, BROADCAST, MULTICAST, OTHERHOST or OUTGOING.
    pub pkttype: u8,
    /// `sll_hatype` (ARPHRD_*): says whether `data` starts with an Ethernet header.
    pub hatype: u16,
    /// EtherType of the network layer (`skb->protocol`).
    pub protocol: u16,
    /// A VLAN tag the kernel stripped from the frame.
    pub vlan: Option<u16>,
    /// Length on the wire.
    pub orig_len: u32,
    /// The captured bytes from the link-layer header on (cut to the filter's snap length).
    pub data: &'a [u8],
    /// Where the network header starts in `data`.
    pub net_offset: usize,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The frames of one block. `block` is the whole block from its first byte (the caller
/// prepends nothing: it passes `data` with `base` = where that slice starts in the block).
/// Frames that do not fit are counted in `malformed` and stop the walk: the rest of the block
/// cannot be trusted.
pub struct Frames<'a> {
    block: &'a [u8],
    base: usize,
    left: u32,
    next: usize,
    pub malformed: bool,
}

impl<'a> Frames<'a> {
    /// `block` holds the block from byte `base` on (see `sys::packet::BLOCK_DATA_OFFSET`).
    pub fn new(block: &'a [u8], base: usize) -> Self {
        let at = |off: usize| off.checked_sub(base).and_then(|o| u32_at(block, o));
        let (left, first) = match (at(12), at(16)) {
            (Some(n), Some(first)) => (n, first as usize),
            _ => (0, 0),
        };
        Frames {
            block,
            base,
            left,
            next: first,
            malformed: false,
        }
    }

    fn parse(&self, start: usize) -> Option<(Frame<'a>, u32)> {
        let rel = start.checked_sub(self.base)?;
        let h = self.block.get(rel..)?;
        let next_offset = u32_at(h, 0)?;
        let sec = u32_at(h, 4)?;
        let nsec = u32_at(h, 8)?;
        let snaplen = u32_at(h, 12)? as usize;
        let len = u32_at(h, 16)?;
        let status = u32_at(h, 20)?;
        let mac = usize::from(u16_at(h, 24)?);
        let net = usize::from(u16_at(h, 26)?);
        let tci = u32_at(h, 32)?;
        let protocol = u16::from_be(u16_at(h, SLL_OFFSET + 2)?);
        let ifindex = u32_at(h, SLL_OFFSET + 4)?;
        let hatype = u16_at(h, SLL_OFFSET + 8)?;
        let pkttype = *h.get(SLL_OFFSET + 10)?;
        let data = h.get(mac..mac.checked_add(snaplen)?)?;
        Some((
            Frame {
                ts: Timestamp::from_parts(i64::from(sec), u64::from(nsec), 9),
                ifindex,
                pkttype,
                hatype,
                protocol,
                vlan: (status & TP_STATUS_VLAN_VALID != 0).then_some((tci & 0x0fff) as u16),
                orig_len: len,
                data,
                net_offset: net.saturating_sub(mac).min(data.len()),
            },
            next_offset,
        ))
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Frame<'a>;

    fn next(&mut self) -> Option<Frame<'a>> {
        if self.left == 0 || self.malformed {
            return None;
        }
        let Some((frame, next_offset)) = self.parse(self.next) else {
            self.malformed = true;
            return None;
        };
        self.left -= 1;
        if self.left > 0 {
            if next_offset == 0 {
                self.malformed = true;
            }
            self.next += next_offset as usize;
        }
        Some(frame)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a block the way the kernel lays it out, for tests here and in `watch`.
    pub(crate) struct BlockBuilder {
        pub bytes: Vec<u8>,
        count: u32,
        last: Option<usize>,
    }

    impl BlockBuilder {
        pub(crate) fn new() -> Self {
            let mut bytes = vec![0u8; 48];
            bytes[16..20].copy_from_slice(&48u32.to_ne_bytes());
            BlockBuilder {
                bytes,
                count: 0,
                last: None,
            }
        }

        #[allow(clippy::too_many_arguments)]
        pub(crate) fn frame(
            &mut self,
            ns: i64,
            ifindex: u32,
            pkttype: u8,
            hatype: u16,
            protocol: u16,
            net_offset: u16,
            data: &[u8],
        ) -> &mut Self {
            let start = self.bytes.len();
            if let Some(prev) = self.last {
                let d = (start - prev) as u32;
                self.bytes[prev..prev + 4].copy_from_slice(&d.to_ne_bytes());
            }
            let mac: u16 = 80;
            let mut h = vec![0u8; usize::from(mac)];
            h[4..8].copy_from_slice(&((ns / 1_000_000_000) as u32).to_ne_bytes());
            h[8..12].copy_from_slice(&((ns % 1_000_000_000) as u32).to_ne_bytes());
            h[12..16].copy_from_slice(&(data.len() as u32).to_ne_bytes());
            h[16..20].copy_from_slice(&(data.len() as u32 + 100).to_ne_bytes());
            h[24..26].copy_from_slice(&mac.to_ne_bytes());
            h[26..28].copy_from_slice(&(mac + net_offset).to_ne_bytes());
            h[48 + 2..48 + 4].copy_from_slice(&protocol.to_be_bytes());
            h[48 + 4..48 + 8].copy_from_slice(&ifindex.to_ne_bytes());
            h[48 + 8..48 + 10].copy_from_slice(&hatype.to_ne_bytes());
            h[48 + 10] = pkttype;
            self.bytes.extend_from_slice(&h);
            self.bytes.extend_from_slice(data);
            while !self.bytes.len().is_multiple_of(16) {
                self.bytes.push(0);
            }
            self.count += 1;
            self.bytes[12..16].copy_from_slice(&self.count.to_ne_bytes());
            self.last = Some(start);
            self
        }
    }

    #[test]
    fn walks_frames() {
        let mut b = BlockBuilder::new();
        b.frame(
            1_500_000_000_123,
            1,
            PACKET_HOST,
            772,
            0x0800,
            14,
            b"frame-one",
        )
        .frame(1_500_000_001_000, 7, PACKET_OUTGOING, 1, 0x86dd, 14, b"two");
        let frames: Vec<Frame<'_>> = Frames::new(&b.bytes[12..], 12).collect();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].data, b"frame-one");
        assert_eq!(frames[0].ifindex, 1);
        assert_eq!(frames[0].hatype, 772);
        assert_eq!(frames[0].protocol, 0x0800);
        // The network offset is clamped to the captured bytes.
        assert_eq!(frames[0].net_offset, 9);
        assert_eq!(frames[0].ts.nanos(), 1_500_000_000_123);
        assert_eq!(frames[0].orig_len, 109);
        assert_eq!(frames[1].pkttype, PACKET_OUTGOING);
        assert_eq!(frames[1].ifindex, 7);
    }

    #[test]
    fn hostile_offsets_stop_the_walk_without_panicking() {
        let mut b = BlockBuilder::new();
        b.frame(1, 1, 0, 1, 0x0800, 14, &[0u8; 40])
            .frame(2, 1, 0, 1, 0x0800, 14, &[0u8; 40]);
        // Claim more frames than there are, and corrupt lengths and offsets one at a time.
        for (at, value) in [
            (12usize, 50u32),
            (16, 1 << 30),
            (48 + 12, 1 << 20),
            (48, 0),
            (48, u32::MAX),
        ] {
            let mut bad = b.bytes.clone();
            bad[at..at + 4].copy_from_slice(&value.to_ne_bytes());
            let frames = Frames::new(&bad[12..], 12);
            assert!(frames.count() <= 50);
        }
        let mut mac = b.bytes.clone();
        mac[48 + 24..48 + 26].copy_from_slice(&u16::MAX.to_ne_bytes());
        let mut f = Frames::new(&mac[12..], 12);
        assert!(f.next().is_none());
        assert!(f.malformed);
        assert_eq!(Frames::new(&[], 12).count(), 0);
    }
}
