//! The classic-BPF program the kernel runs on every packet before it reaches rsthound: only TCP
//! segments with SYN, FIN or RST pass, cut to their headers. Data segments never leave the
//! kernel, which is what lets `watch` sit on a busy host at a small cost.
//!
//! The program reads the network header through the kernel's `SKF_NET_OFF` base, and the
//! EtherType from `skb->protocol`, so it works on every link type at once (Ethernet, loopback,
//! tun devices without a link header) and with VLAN tags the NIC or the kernel stripped into
//! metadata. Frames that still carry one 802.1Q/802.1ad tag in-band are matched at the fixed
//! Ethernet offsets. Loopback's outgoing copy of each packet is dropped here too (each packet on
//! `lo` is seen once leaving and once arriving; libpcap drops the outgoing one in user space).
//!
//! Not matched: IPv6 with extension headers before TCP (rare for TCP; such segments are not
//! seen live) and non-first IPv4 fragments (they carry no TCP header).

use crate::sys::packet::BpfInsn;

// Instruction classes and modes (linux/filter.h, linux/bpf_common.h).
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const W: u16 = 0x00;
const H: u16 = 0x08;
const B: u16 = 0x10;
const ABS: u16 = 0x20;
const IND: u16 = 0x40;
const MSH: u16 = 0xa0;
const JEQ: u16 = 0x10;
const JSET: u16 = 0x40;
const K: u16 = 0x00;

/// Base of the kernel's ancillary data loads, and the fields used.
const SKF_AD_OFF: u32 = (-0x1000i32) as u32;
const SKF_AD_PROTOCOL: u32 = 0;
const SKF_AD_PKTTYPE: u32 = 4;
const SKF_AD_HATYPE: u32 = 28;
/// Loads at `SKF_NET_OFF + n` read byte `n` of the network header.
const SKF_NET_OFF: u32 = (-0x100000i32) as u32;

const PACKET_OUTGOING: u32 = 4;
const ARPHRD_LOOPBACK: u32 = 772;
const ETH_P_IP: u32 = 0x0800;
const ETH_P_IPV6: u32 = 0x86dd;
const ETH_P_8021Q: u32 = 0x8100;
const ETH_P_8021AD: u32 = 0x88a8;
/// TCP's FIN, SYN and RST bits.
const FLAGS_WANTED: u32 = 0x07;

/// Bytes kept of each matching frame: link, VLAN, IP and TCP headers with options, and room for
/// a RST's diagnostic text.
pub const SNAPLEN: u32 = 320;

/// A program being assembled, with symbolic jump targets resolved at the end.
struct Asm {
    code: Vec<(BpfInsn, Option<&'static str>, Option<&'static str>)>,
    labels: Vec<(&'static str, usize)>,
}

impl Asm {
    fn op(&mut self, code: u16, k: u32) {
        self.code.push((insn(code, k), None, None));
    }
    /// A conditional jump: to `t` when true, `f` when false (`None` = the next instruction).
    fn jump(&mut self, code: u16, k: u32, t: Option<&'static str>, f: Option<&'static str>) {
        self.code.push((insn(JMP | code | K, k), t, f));
    }
    fn label(&mut self, name: &'static str) {
        self.labels.push((name, self.code.len()));
    }
    fn finish(self) -> Vec<BpfInsn> {
        let at = |name: &str| {
            self.labels
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, i)| *i)
                .unwrap_or_else(|| panic!("BPF label {name} is not defined"))
        };
        self.code
            .iter()
            .enumerate()
            .map(|(i, (ins, t, f))| {
                let rel = |target: &Option<&'static str>| {
                    target.map_or(0, |name| {
                        let d = at(name) - i - 1;
                        u8::try_from(d).expect("BPF jump fits in 8 bits")
                    })
                };
                BpfInsn {
                    jt: rel(t),
                    jf: rel(f),
                    ..*ins
                }
            })
            .collect()
    }
}

fn insn(code: u16, k: u32) -> BpfInsn {
    BpfInsn {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

/// TCP header checks once X or a fixed offset locates the IPv4 header: protocol TCP, first
/// fragment, any of FIN/SYN/RST.
fn ipv4_tcp(a: &mut Asm, base: u32) {
    a.op(LD | B | ABS, base.wrapping_add(9));
    a.jump(JEQ, 6, None, Some("drop"));
    a.op(LD | H | ABS, base.wrapping_add(6));
    a.jump(JSET, 0x1fff, Some("drop"), None);
    // X = IPv4 header length.
    a.op(LDX | B | MSH, base);
    a.op(LD | B | IND, base.wrapping_add(13));
    a.jump(JSET, FLAGS_WANTED, Some("accept"), Some("drop"));
}

fn ipv6_tcp(a: &mut Asm, base: u32) {
    a.op(LD | B | ABS, base.wrapping_add(6));
    a.jump(JEQ, 6, None, Some("drop"));
    a.op(LD | B | ABS, base.wrapping_add(40 + 13));
    a.jump(JSET, FLAGS_WANTED, Some("accept"), Some("drop"));
}

/// The filter: see the module documentation.
pub fn syn_fin_rst() -> Vec<BpfInsn> {
    let mut a = Asm {
        code: Vec::new(),
        labels: Vec::new(),
    };
    a.op(LD | W | ABS, SKF_AD_OFF + SKF_AD_PKTTYPE);
    a.jump(JEQ, PACKET_OUTGOING, None, Some("proto"));
    a.op(LD | W | ABS, SKF_AD_OFF + SKF_AD_HATYPE);
    a.jump(JEQ, ARPHRD_LOOPBACK, Some("drop"), None);
    a.label("proto");
    a.op(LD | W | ABS, SKF_AD_OFF + SKF_AD_PROTOCOL);
    a.jump(JEQ, ETH_P_IP, Some("v4"), None);
    a.jump(JEQ, ETH_P_IPV6, Some("v6"), None);
    a.jump(JEQ, ETH_P_8021Q, Some("tagged"), None);
    a.jump(JEQ, ETH_P_8021AD, Some("tagged"), Some("drop"));
    a.label("v4");
    ipv4_tcp(&mut a, SKF_NET_OFF);
    a.label("v6");
    ipv6_tcp(&mut a, SKF_NET_OFF);
    // One in-band tag on an Ethernet frame: the EtherType after it, then IP at offset 18.
    a.label("tagged");
    a.op(LD | H | ABS, 16);
    a.jump(JEQ, ETH_P_IP, Some("tagged_v4"), None);
    a.jump(JEQ, ETH_P_IPV6, Some("tagged_v6"), Some("drop"));
    a.label("tagged_v4");
    ipv4_tcp(&mut a, 18);
    a.label("tagged_v6");
    ipv6_tcp(&mut a, 18);
    a.label("accept");
    a.op(RET | K, SNAPLEN);
    a.label("drop");
    a.op(RET | K, 0);
    a.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the kernel knows about a packet besides its bytes.
    struct Skb<'a> {
        data: &'a [u8],
        net: usize,
        protocol: u16,
        pkttype: u32,
        hatype: u32,
    }

    /// A classic-BPF interpreter for the instructions the filter uses, with the kernel's
    /// semantics for ancillary and network-relative loads (out of bounds = drop).
    fn run(prog: &[BpfInsn], skb: &Skb<'_>) -> u32 {
        let load = |k: u32, size: usize| -> Option<u32> {
            let off = if (SKF_NET_OFF..SKF_AD_OFF).contains(&k) {
                skb.net + (k - SKF_NET_OFF) as usize
            } else if k >= SKF_AD_OFF {
                return Some(match k - SKF_AD_OFF {
                    SKF_AD_PROTOCOL => u32::from(skb.protocol),
                    SKF_AD_PKTTYPE => skb.pkttype,
                    SKF_AD_HATYPE => skb.hatype,
                    other => panic!("ancillary field {other} not emulated"),
                });
            } else {
                k as usize
            };
            let b = skb.data.get(off..off + size)?;
            Some(b.iter().fold(0u32, |v, x| (v << 8) | u32::from(*x)))
        };
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        loop {
            let i = prog[pc];
            pc += 1;
            match i.code {
                c if c == LD | W | ABS => a = load(i.k, 4).map_or(0, |v| v),
                c if c == LD | H | ABS => match load(i.k, 2) {
                    Some(v) => a = v,
                    None => return 0,
                },
                c if c == LD | B | ABS => match load(i.k, 1) {
                    Some(v) => a = v,
                    None => return 0,
                },
                c if c == LD | B | IND => match load(x.wrapping_add(i.k), 1) {
                    Some(v) => a = v,
                    None => return 0,
                },
                c if c == LDX | B | MSH => match load(i.k, 1) {
                    Some(v) => x = (v & 0xf) * 4,
                    None => return 0,
                },
                c if c == JMP | JEQ | K => {
                    pc += usize::from(if a == i.k { i.jt } else { i.jf });
                }
                c if c == JMP | JSET | K => {
                    pc += usize::from(if a & i.k != 0 { i.jt } else { i.jf });
                }
                c if c == RET | K => return i.k,
                other => panic!("opcode {other:#x} not emulated"),
            }
        }
    }

    fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn ipv4_tcp_packet(flags: u8, frag: u16, ihl: u8) -> Vec<u8> {
        let mut p = vec![0u8; usize::from(ihl) * 4 + 20];
        p[0] = 0x40 | ihl;
        p[6..8].copy_from_slice(&frag.to_be_bytes());
        p[9] = 6;
        p[usize::from(ihl) * 4 + 13] = flags;
        p
    }

    fn ipv6_tcp_packet(next: u8, flags: u8) -> Vec<u8> {
        let mut p = vec![0u8; 60];
        p[0] = 0x60;
        p[6] = next;
        p[40 + 13] = flags;
        p
    }

    fn verdict(data: &[u8], net: usize, protocol: u16, pkttype: u32, hatype: u32) -> u32 {
        run(
            &syn_fin_rst(),
            &Skb {
                data,
                net,
                protocol,
                pkttype,
                hatype,
            },
        )
    }

    const HOST: u32 = 0;
    const ETHER: u32 = 1;

    #[test]
    fn passes_syn_fin_rst_and_drops_data() {
        for (flags, pass) in [
            (0x02, true),  // SYN
            (0x12, true),  // SYN-ACK
            (0x04, true),  // RST
            (0x14, true),  // RST-ACK
            (0x11, true),  // FIN-ACK
            (0x10, false), // ACK
            (0x18, false), // PSH-ACK with data
        ] {
            let v4 = eth(0x0800, &ipv4_tcp_packet(flags, 0, 5));
            assert_eq!(
                verdict(&v4, 14, 0x0800, HOST, ETHER) > 0,
                pass,
                "v4 {flags:#x}"
            );
            let v6 = eth(0x86dd, &ipv6_tcp_packet(6, flags));
            assert_eq!(
                verdict(&v6, 14, 0x86dd, HOST, ETHER) > 0,
                pass,
                "v6 {flags:#x}"
            );
        }
        assert_eq!(
            verdict(
                &eth(0x0800, &ipv4_tcp_packet(0x04, 0, 5)),
                14,
                0x0800,
                HOST,
                ETHER
            ),
            SNAPLEN
        );
    }

    #[test]
    fn ipv4_options_move_the_tcp_header() {
        let v4 = eth(0x0800, &ipv4_tcp_packet(0x04, 0, 15));
        assert!(verdict(&v4, 14, 0x0800, HOST, ETHER) > 0);
        let data = eth(0x0800, &ipv4_tcp_packet(0x10, 0, 15));
        assert_eq!(verdict(&data, 14, 0x0800, HOST, ETHER), 0);
    }

    #[test]
    fn drops_later_fragments_udp_and_other_protocols() {
        let frag = eth(0x0800, &ipv4_tcp_packet(0x04, 0x0010, 5));
        assert_eq!(verdict(&frag, 14, 0x0800, HOST, ETHER), 0);
        let mut udp = ipv4_tcp_packet(0x04, 0, 5);
        udp[9] = 17;
        assert_eq!(verdict(&eth(0x0800, &udp), 14, 0x0800, HOST, ETHER), 0);
        let arp = eth(0x0806, &[0u8; 28]);
        assert_eq!(verdict(&arp, 14, 0x0806, HOST, ETHER), 0);
        let v6_hbh = eth(0x86dd, &ipv6_tcp_packet(0, 0x04));
        assert_eq!(verdict(&v6_hbh, 14, 0x86dd, HOST, ETHER), 0);
        // Too short to hold the flags: out-of-bounds loads drop.
        let short = eth(0x0800, &ipv4_tcp_packet(0x04, 0, 5)[..30]);
        assert_eq!(verdict(&short, 14, 0x0800, HOST, ETHER), 0);
    }

    #[test]
    fn headerless_links_use_the_network_offset() {
        // A tun device: no link header, the network header is at 0.
        let raw = ipv4_tcp_packet(0x04, 0, 5);
        assert!(verdict(&raw, 0, 0x0800, HOST, 0xfffe) > 0);
    }

    #[test]
    fn loopback_outgoing_copy_is_dropped_other_outgoing_kept() {
        let rst = eth(0x0800, &ipv4_tcp_packet(0x14, 0, 5));
        assert_eq!(
            verdict(&rst, 14, 0x0800, PACKET_OUTGOING, ARPHRD_LOOPBACK),
            0
        );
        assert!(verdict(&rst, 14, 0x0800, HOST, ARPHRD_LOOPBACK) > 0);
        assert!(verdict(&rst, 14, 0x0800, PACKET_OUTGOING, ETHER) > 0);
    }

    #[test]
    fn in_band_vlan_tags() {
        let mut tagged = vec![0u8; 12];
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x05, 0x08, 0x00]);
        tagged.extend_from_slice(&ipv4_tcp_packet(0x04, 0, 5));
        assert!(verdict(&tagged, 14, 0x8100, HOST, ETHER) > 0);
        let mut data = vec![0u8; 12];
        data.extend_from_slice(&[0x88, 0xa8, 0x00, 0x05, 0x86, 0xdd]);
        data.extend_from_slice(&ipv6_tcp_packet(6, 0x10));
        assert_eq!(verdict(&data, 14, 0x88a8, HOST, ETHER), 0);
        data[18 + 40 + 13] = 0x02;
        assert!(verdict(&data, 14, 0x88a8, HOST, ETHER) > 0);
    }
}
