//! Property tests of the kernel-events parsers: the tracefs `format` parser, the perf record
//! framing, the tracepoint decoder and the procfs parsers never panic on any input, and what
//! they read back is what was written.

use proptest::prelude::*;
use rsthound::engine::kevent::{EventKind, TaskContext};
use rsthound::source::kernel::format::parse;
use rsthound::source::kernel::procs::{parse_cgroup, parse_cmdline, parse_stat, parse_status_uid};
use rsthound::source::kernel::record::{
    Decoder, PerfRecord, Tracepoint, parse_perf_record, rec, sockaddr,
};
use std::net::{IpAddr, SocketAddr};

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tracepoints");

fn fixture(rel: &str) -> String {
    std::fs::read_to_string(format!("{FIX}/{rel}")).unwrap()
}

fn decoder_618() -> (Decoder, Vec<u16>) {
    let mut d = Decoder::new();
    let mut ids = Vec::new();
    for (tp, name) in [
        (Tracepoint::SendReset, "tcp_send_reset"),
        (Tracepoint::ReceiveReset, "tcp_receive_reset"),
        (Tracepoint::SetState, "inet_sock_set_state"),
        (Tracepoint::RetransmitSynack, "tcp_retransmit_synack"),
        (Tracepoint::KfreeSkb, "kfree_skb"),
        (Tracepoint::ExitConnect, "sys_exit_connect"),
    ] {
        let f = parse(&fixture(&format!("6.18/{name}.format"))).unwrap();
        ids.push(f.id as u16);
        d.add(tp, &f).unwrap();
    }
    (d, ids)
}

/// A sockaddr_in/in6 as the kernel stores it in tcp_send_reset.
fn encode_sockaddr(a: SocketAddr) -> [u8; 28] {
    let mut b = [0u8; 28];
    b[2..4].copy_from_slice(&a.port().to_be_bytes());
    match a.ip() {
        IpAddr::V4(ip) => {
            b[0..2].copy_from_slice(&2u16.to_ne_bytes());
            b[4..8].copy_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            b[0..2].copy_from_slice(&10u16.to_ne_bytes());
            b[8..24].copy_from_slice(&ip.octets());
        }
    }
    b
}

proptest! {
    #[test]
    fn format_parser_never_panics(text in ".{0,2000}") {
        let _ = parse(&text);
    }

    #[test]
    fn mutated_fixtures_never_panic(edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..16),
                                    which in 0usize..3) {
        let name = ["6.18/tcp_send_reset.format", "pre-6.10/tcp_send_reset.format", "6.18/kfree_skb.format"][which];
        let mut bytes = fixture(name).into_bytes();
        for (at, b) in edits {
            let n = bytes.len();
            bytes[at % n] = b;
        }
        if let Ok(f) = parse(&String::from_utf8_lossy(&bytes)) {
            let mut d = Decoder::new();
            if d.add(Tracepoint::SendReset, &f).is_ok() {
                let _ = d.decode(TaskContext::default(), &bytes[..bytes.len().min(96)]);
            }
        }
    }

    #[test]
    fn fields_written_are_fields_read(fields in prop::collection::vec(
        ("[a-z_][a-z0-9_]{0,12}", 0usize..4096, prop::sample::select(vec![1usize, 2, 4, 8, 16, 28]),
         any::<bool>(), any::<bool>()), 0..20), id in any::<u32>()) {
        let mut text = format!("name: x\nID: {id}\nformat:\n");
        for (name, offset, size, signed, array) in &fields {
            let decl = if *array { format!("__u8 {name}[{size}]") } else { format!("int {name}") };
            text.push_str(&format!("\tfield:{decl};\toffset:{offset};\tsize:{size};\tsigned:{};\n", u8::from(*signed)));
        }
        let f = parse(&text).unwrap();
        prop_assert_eq!(f.id, id);
        prop_assert_eq!(f.fields.len(), fields.len());
        for (got, (name, offset, size, signed, array)) in f.fields.iter().zip(&fields) {
            prop_assert_eq!(&got.name, name);
            prop_assert_eq!((got.offset, got.size, got.signed), (*offset, *size, *signed));
            prop_assert_eq!(got.array_len, if *array { Some(*size) } else { None });
        }
    }

    #[test]
    fn perf_records_of_any_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_perf_record(&bytes);
        let (d, _) = decoder_618();
        let _ = d.decode(TaskContext::default(), &bytes);
    }

    #[test]
    fn samples_of_any_tracepoint_never_panic(which in 0usize..5, body in prop::collection::vec(any::<u8>(), 0..128),
                                             pid in any::<u32>(), time in any::<u64>()) {
        let (d, ids) = decoder_618();
        let mut raw = ids[which].to_ne_bytes().to_vec();
        raw.extend_from_slice(&body);
        // Framed as a ring sample: header, pid, tid, time, cpu, res, size, raw, padding.
        let mut s = Vec::new();
        s.extend_from_slice(&rec::SAMPLE.to_ne_bytes());
        s.extend_from_slice(&0u16.to_ne_bytes());
        s.extend_from_slice(&0u16.to_ne_bytes());
        s.extend_from_slice(&pid.to_ne_bytes());
        s.extend_from_slice(&pid.to_ne_bytes());
        s.extend_from_slice(&time.to_ne_bytes());
        s.extend_from_slice(&[0u8; 8]);
        s.extend_from_slice(&(raw.len() as u32).to_ne_bytes());
        s.extend_from_slice(&raw);
        while s.len() % 8 != 0 { s.push(0); }
        let n = s.len() as u16;
        s[6..8].copy_from_slice(&n.to_ne_bytes());
        let framed = parse_perf_record(&s).unwrap();
        let PerfRecord::Sample { raw: got, time_ns, pid: p, .. } = framed else { panic!("a sample") };
        prop_assert_eq!(got, &raw[..]);
        prop_assert_eq!((time_ns, p), (time, pid));
        if let Ok(ev) = d.decode(TaskContext { pid, time_ns: time, ..Default::default() }, got) {
            prop_assert_eq!(ev.ctx.pid, pid);
        }
    }

    #[test]
    fn send_reset_addresses_round_trip(src in any::<SocketAddr>(), dst in any::<SocketAddr>(), reason in 0u32..26) {
        let f = parse(&fixture("6.18/tcp_send_reset.format")).unwrap();
        let mut d = Decoder::new();
        d.add(Tracepoint::SendReset, &f).unwrap();
        let mut raw = vec![0u8; f.min_record_len()];
        raw[0..2].copy_from_slice(&(f.id as u16).to_ne_bytes());
        let put = |raw: &mut Vec<u8>, name: &str, b: &[u8]| {
            let at = f.field(name).unwrap().offset;
            raw[at..at + b.len()].copy_from_slice(b);
        };
        put(&mut raw, "saddr", &encode_sockaddr(src));
        put(&mut raw, "daddr", &encode_sockaddr(dst));
        put(&mut raw, "reason", &reason.to_ne_bytes());
        let EventKind::SendReset(r) = d.decode(TaskContext::default(), &raw).unwrap().kind else { panic!() };
        let strip = |a: SocketAddr| SocketAddr::new(a.ip(), a.port());
        prop_assert_eq!(r.src, Some(strip(src)));
        prop_assert_eq!(r.dst, Some(strip(dst)));
        prop_assert_eq!(r.reason.as_deref(), f.table("reason").unwrap().name(i64::from(reason)).map(|n| &**n));
        prop_assert_eq!(sockaddr(&encode_sockaddr(src)), Some(strip(src)));
    }

    #[test]
    fn procfs_parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_stat(&bytes);
        let _ = parse_cgroup(&bytes);
        let c = parse_cmdline(&bytes);
        prop_assert!(!c.chars().any(|ch| ch.is_control()));
        let _ = parse_status_uid(&String::from_utf8_lossy(&bytes));
    }
}
