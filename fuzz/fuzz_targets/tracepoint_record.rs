//! A perf ring record of any content: framed without panic; a sample's raw bytes decoded without
//! panic by the layouts of this machine's 6.18 events and of the older kernels' fixtures.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsthound::engine::kevent::TaskContext;
use rsthound::source::kernel::format::parse;
use rsthound::source::kernel::record::{Decoder, PerfRecord, Tracepoint, parse_perf_record};
use std::sync::OnceLock;

const FIXTURES: [(Tracepoint, &str); 7] = [
    (Tracepoint::SendReset, include_str!("../../tests/fixtures/tracepoints/6.18/tcp_send_reset.format")),
    (Tracepoint::ReceiveReset, include_str!("../../tests/fixtures/tracepoints/6.18/tcp_receive_reset.format")),
    (Tracepoint::SetState, include_str!("../../tests/fixtures/tracepoints/6.18/inet_sock_set_state.format")),
    (Tracepoint::RetransmitSynack, include_str!("../../tests/fixtures/tracepoints/6.18/tcp_retransmit_synack.format")),
    (Tracepoint::KfreeSkb, include_str!("../../tests/fixtures/tracepoints/6.18/kfree_skb.format")),
    (Tracepoint::SendReset, include_str!("../../tests/fixtures/tracepoints/pre-6.10/tcp_send_reset.format")),
    (Tracepoint::SendReset, include_str!("../../tests/fixtures/tracepoints/6.11-reasons/tcp_send_reset.format")),
];

fn decoders() -> &'static [Decoder; 3] {
    static D: OnceLock<[Decoder; 3]> = OnceLock::new();
    D.get_or_init(|| {
        let mut new = Decoder::new();
        for (tp, text) in &FIXTURES[..5] {
            new.add(*tp, &parse(text).unwrap()).unwrap();
        }
        let mut old = Decoder::new();
        old.add(FIXTURES[5].0, &parse(FIXTURES[5].1).unwrap()).unwrap();
        let mut mid = Decoder::new();
        mid.add(FIXTURES[6].0, &parse(FIXTURES[6].1).unwrap()).unwrap();
        [new, old, mid]
    })
}

fuzz_target!(|data: &[u8]| {
    let raw = match parse_perf_record(data) {
        Ok(PerfRecord::Sample { raw, .. }) => raw,
        Ok(_) | Err(_) => data,
    };
    for d in decoders() {
        let _ = d.decode(TaskContext::default(), raw);
    }
});
