# Generates the tables of docs/encapsulations.md from tshark's own lists:
#   tshark -G decodes > decodes.txt; tshark -G protocols > protocols.txt
# The status column is rsthound's, written by hand from src/engine/decode/.
import sys
dec = [l.rstrip('\n').split('\t') for l in open(sys.argv[1])]
names = {}
for l in open(sys.argv[2]):
    p = l.rstrip('\n').split('\t')
    if len(p) >= 3: names.setdefault(p[2], p[0])

D, N, C = 'decoded', 'counted as non-IP (link control)', 'not decoded: counted by name'
eth_dec = {0x0800:'', 0x86dd:'', 0x6558:'', 0x8100:'', 0x88a8:'', 0x9100:'', 0x8847:'', 0x8848:'',
  0x8864:'PPP inside', 0x8926:'', 0x893f:'', 0x88e7:'', 0x8909:'TrustSec SGT tag', 0x892f:'',
  0xf1c1:'', 0x88e5:'integrity-only; encrypted ones counted as "encrypted"', 0x22f3:'', 0x894f:'',
  0x8870:'LLC inside'}
eth_ctl = {0x0806,0x0842,0x2000,0x22ea,0x8035,0x80e1,0x8808,0x8809,0x8863,0x888e,0x88c7,0x88cc,
  0x88e3,0x88ee,0x88f5,0x88f6,0x88f7,0x88fb,0x8902,0x893a,0x8940,0x9000}
why = {}
for v in (0x0600,0x0bad,0x0baf,0x6003,0x6004,0x8137,0x809b,0x80f3,0x80d5,0x88ca,0x8911,0x8947,0xc0de,0xc0df,0x8204,0x8038):
    why[v] = 'another network layer, no IPv4/IPv6 inside'
for v in (0x88a2,0x8906,0x8914,0x889a,0x8915,0xfcfc):
    why[v] = 'storage / RDMA, no TCP'
for v in (0x8892,0x88a4,0x88ab,0x3e3f,0x88cd,0x88b8,0x88ba,0x891d,0x22f0,0x9021,0x9022,0xaefe,0xd00d,0x88d8,0x2323):
    why[v] = 'industrial / real-time / TDM, no TCP'
for v in (0x0059,0x0061,0x0065,0x0067,0x00fd,0x2065,0x2067,0x8021,0x8023,0x8057,0x8059,0x80fd,0x8207,0x8281,0xc021,0xc023,0xc029,0xc02b,0xc02d,0xc223):
    why[v] = 'a PPP protocol number tshark also registers as an Ethertype; inside PPP the control protocols (0x8000 and up) count as non-IP, the rest by name'
for v,w in {0x22f1:'compressed IP (ROHC): needs the compressor\'s context', 0x4305:'B.A.T.M.A.N. mesh: carries Ethernet frames, not decoded',
  0x88bb:'LWAPP (Cisco, before CAPWAP): carries 802.11, not decoded', 0xbbbb:'LWAPP (Cisco, before CAPWAP): carries 802.11, not decoded',
  0x22e5:'Gigamon header: not decoded', 0x8874:'Broadcom switch tag: not decoded', 0xe555:'Extreme extra header: not decoded',
  0x8783:'Extreme/Motorola MINT mesh: carries frames, not decoded', 0x99fe:'automotive capture module: carries captured frames (copies)',
  0xa0ed:'6LoWPAN: compressed IPv6, not decoded', 0x88a9:'Extreme Mesh: not decoded', 0x2452:'Centrino 802.11: not decoded',
  0x890d:'802.11 data encapsulation (802.11r remote requests): no IP'}.items():
    why[v] = w

def rows(table):
    out = []; seen = set()
    for t, v, d in dec:
        if t != table: continue
        x = int(v)
        if x in seen: continue
        seen.add(x); out.append((x, d, names.get(d, d)))
    return sorted(out)

def emit_eth():
    print('| Ethertype | tshark dissector | name | rsthound | note |')
    print('|---|---|---|---|---|')
    for x, d, n in rows('ethertype'):
        if x in eth_dec: st, note = D, eth_dec[x]
        elif x in eth_ctl: st, note = N, ''
        else: st, note = C, why.get(x, '')
        print(f'| 0x{x:04x} | {d} | {n} | {st} | {note} |')

gre_dec = {0x0800:'',0x86dd:'',0x6558:'',0x6400:'MikroTik EoIP',0x6559:'',0x880b:'PPTP',0x88be:'ERSPAN I/II',
  0x22eb:'ERSPAN III',0x8847:'',0x8848:'',0x883e:'WCCP, with or without the v2 redirect header',0x8909:'',0x894f:''}
gre_ctl = {0x0101:'bonding control',0xb7ea:'bonding control',0x0806:'',0x2000:'',0x2001:'NHRP control'}
gre_why = {0x00fe:'OSI network layer, no IP', 0x8137:'another network layer, no IP',
  0x8881:'CDMA2000 A10: PPP in HDLC-like framing, byte-stuffed (would need an unescaping copy)',
  0x88d2:'3GPP2 A11: PPP in HDLC-like framing, byte-stuffed (would need an unescaping copy)'}
def emit_gre():
    print('| GRE protocol | tshark dissector | name | rsthound | note |')
    print('|---|---|---|---|---|')
    for x, d, n in rows('gre.proto'):
        if 0x8200 <= x <= 0x8370:
            st, note = D, 'Aruba: 802.11 frames from access points to the controller'
        elif x in gre_dec: st, note = D, gre_dec[x]
        elif x in gre_ctl: st, note = N, gre_ctl[x]
        else: st, note = C, gre_why.get(x, '')
        print(f'| 0x{x:04x} | {d} | {n} | {st} | {note} |')

udp = {1701:(D,'L2TPv2 data messages (PPP inside); control messages and L2TPv3 stay UDP'),
  2152:(D,'GTP-U T-PDUs, extension headers'), 3544:(D,'Teredo; also by shape on other ports'), 4341:(D,'LISP data'),
  4754:(D,'GRE-in-UDP'), 4789:(D,'VXLAN (also 8472, Linux\'s old default, which tshark does not register)'),
  4790:(D,'VXLAN-GPE: IPv4, IPv6, Ethernet, NSH, MPLS next'), 5072:(D,'AYIYA'),
  5247:(D,'CAPWAP data: 802.3, or native 802.11 with the frame control byte-swapped as Cisco sends it (tshark\'s default `capwap.swap_fc`); fragments counted as fragments'),
  6081:(D,'Geneve'), 6635:(D,'MPLS-in-UDP'),
  1194:('UDP','OpenVPN: encrypted'), 4500:('UDP','ESP in UDP (NAT traversal): encrypted'),
  5246:('UDP','CAPWAP control: no user traffic'), 2123:('UDP','GTP-C: control'), 3386:('UDP','GTP\': charging records'),
  12222:('UDP','LWAPP: 802.11 inside, not decoded'), 12223:('UDP','LWAPP: 802.11 inside, not decoded'),
  12220:('UDP','LWAPP layer 3: not decoded'), 37008:('UDP','TZSP: forwarded copies of captured frames; not relevant (would count copies)'),
  6343:('UDP','sFlow: sampled header copies; not relevant (would count RSTs twice)'),
  2055:('UDP','NetFlow/IPFIX: flow records, no packets'), 4739:('UDP','IPFIX: flow records, no packets'),
  9996:('UDP','NetFlow: flow records, no packets'), 434:('UDP','Mobile IP: control'), 5436:('UDP','Mobile IPv6: control'),
  10500:('UDP','HIP: control'), 3503:('UDP','MPLS echo: OAM'), 3784:('UDP','BFD: OAM'), 4784:('UDP','BFD: OAM')}
def emit_udp():
    print('| UDP port | tshark dissector | name | rsthound | note |')
    print('|---|---|---|---|---|')
    byport = {}
    for t, v, d in dec:
        if t == 'udp.port' and int(v) in udp: byport.setdefault(int(v), d)
    for p in sorted(byport):
        st, note = udp[p]
        if st == 'UDP': st = 'counted as UDP'
        print(f'| {p} | {byport[p]} | {names.get(byport[p], byport[p])} | {st} | {note} |')

ipp = {4:(D,'IP-in-IP'),41:(D,'6in4 / IPv6-in-IP'),47:(D,'GRE'),50:('encrypted','ESP'),51:(D,'AH skipped'),
  97:(D,'EtherIP'),115:('other IP protocols','L2TPv3 over IP: the cookie length is configured per session, not in the packet'),
  137:(D,'MPLS-in-IP'),143:(D,'Ethernet (SRv6 L2 services)'),108:('other IP protocols','IPComp: compressed'),
  53:('other IP protocols','SwIPe: encrypted, obsolete')}
def emit_ip():
    print('| IP protocol | tshark dissector | name | rsthound | note |')
    print('|---|---|---|---|---|')
    for t, v, d in sorted(dec, key=lambda r: (r[0], int(r[1]) if r[1].isdigit() else 0)):
        if t == 'ip.proto' and int(v) in ipp:
            st, note = ipp[int(v)]
            if st not in (D,): st = 'counted as ' + st
            print(f'| {v} | {d} | {names.get(d, d)} | {st} | {note} |')

{'eth': emit_eth, 'gre': emit_gre, 'udp': emit_udp, 'ip': emit_ip}[sys.argv[3]]()
