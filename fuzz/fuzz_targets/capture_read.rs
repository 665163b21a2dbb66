//! The capture reader (pcap and pcapng, both byte orders, every block type) on arbitrary
//! bytes, every packet it hands out decoded: never a panic, every packet inside the input's
//! limits, every kernel note in a packet comment parsed. Run on stable: `cargo fuzz run -s none capture_read`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsthound::engine::decode::{Outcome, decode};
use rsthound::source::capture::{CaptureReader, MAX_KERNEL_COMMENT, parse_kernel_note};
use std::io::Cursor;

/// Packets looked at per input: enough for every block type, bounded for speed.
const MAX_PACKETS: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::new(Box::new(Cursor::new(data.to_vec()))) else {
        return;
    };
    let _ = reader.interfaces();
    let mut seen = 0;
    while seen < MAX_PACKETS {
        // Alternate the batched path (classic pcap) with the one-by-one path.
        let run = reader.next_run(&mut |p| -> Result<(), ()> {
            assert!(p.data.len() <= data.len());
            let _ = decode(p.link_type, p.data);
            Ok(())
        });
        seen += run.unwrap_or(0);
        match reader.next_packet() {
            Ok(Some(p)) => {
                assert!(p.data.len() <= data.len());
                if let Some(note) = p.kernel_note {
                    assert!(note.len() <= MAX_KERNEL_COMMENT);
                    let _ = parse_kernel_note(note);
                }
                if let Outcome::Tcp(seg) = decode(p.link_type, p.data) {
                    assert!(seg.payload.len() <= seg.raw.len());
                }
                seen += 1;
            }
            Ok(None) | Err(_) => break,
        }
    }
});
