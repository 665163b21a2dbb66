//! The tracker fed arbitrary segment sequences (beside the `tracker` fuzz target, through the
//! same code: `rsthound::testkit::fuzz`): never a panic, the table within its bound, every RST
//! segment one RST event, every connection opened ended exactly once.

use proptest::prelude::*;
use rsthound::testkit::fuzz::{
    FuzzSegment, SEGMENT_BYTES, check_tracker_run, fuzz_segment, track_segments, tracker,
};

/// Segments as the fuzz target reads them from its bytes: every field reachable.
fn segment() -> impl Strategy<Value = FuzzSegment> {
    prop::array::uniform16(any::<u8>()).prop_map(|rec| fuzz_segment(&rec))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_segment_sequences_keep_the_counts(
        segments in prop::collection::vec(segment(), 0..300),
        bound in 1usize..64,
    ) {
        let run = track_segments(&segments, bound);
        check_tracker_run(&run);
        prop_assert_eq!(run.segments, segments.len() as u64);
        prop_assert_eq!(
            run.rst_segments,
            segments.iter().filter(|s| s.flags.rst()).count() as u64
        );
    }

    #[test]
    fn arbitrary_bytes_through_the_fuzz_target(data in prop::collection::vec(any::<u8>(), 0..40 * SEGMENT_BYTES)) {
        tracker(&data);
    }
}

/// A refused attempt, an RST flood on one 5-tuple and evictions: the counts by hand.
#[test]
fn counts_of_a_known_sequence() {
    // Host and port numbers index the fuzz target's tables: (source, destination).
    let rec = |hosts: (u8, u8), ports: (u8, u8), flags: u16, seq: u32| {
        let mut r = [0u8; SEGMENT_BYTES];
        r[0] = hosts.0 | hosts.1 << 3;
        r[1] = ports.0 | ports.1 << 3;
        r[2..4].copy_from_slice(&flags.to_le_bytes());
        r[4..8].copy_from_slice(&seq.to_le_bytes());
        r[14] = 1 << 6 | 1; // 1 ms later
        fuzz_segment(&r)
    };
    // 10.0.0.2:40000 -> 10.0.0.1:80 SYN, answered by RST/ACK: one connection, one RST.
    let syn = rec((1, 0), (2, 0), 0x002, 1000);
    let rst = rec((0, 1), (0, 2), 0x014, 0);
    // Five RSTs more from other ports into a table of two: evictions.
    let mut segments = vec![syn, rst];
    for port in 3..8 {
        segments.push(rec((2, 3), (port, 1), 0x004, 7));
    }
    let run = track_segments(&segments, 2);
    check_tracker_run(&run);
    assert_eq!(run.rst_segments, 6);
    assert_eq!(run.rst_events, 6);
    assert!(run.conns >= 2 && run.peak_conns <= 2, "{run:?}");
}
