//! A pcapng packet block's option list and the kernel note in its comment, on arbitrary bytes:
//! never a panic, every option inside the list, every name sanitized. Run on stable:
//! `cargo fuzz run -s none kernel_note`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsthound::source::capture::{MAX_KERNEL_COMMENT, option_list, packet_options, parse_kernel_note};

fuzz_target!(|data: &[u8]| {
    let (big, opts) = match data.split_first() {
        Some((b, rest)) => (b & 1 == 1, rest),
        None => (false, data),
    };
    let mut used = 0usize;
    for (_, value) in option_list(opts, big).flatten() {
        used += 4 + value.len().div_ceil(4) * 4;
        assert!(used <= opts.len());
    }
    if let Some(json) = packet_options(opts, big).kernel {
        assert!(json.len() <= MAX_KERNEL_COMMENT);
    }
    // The JSON parser on its own, straight from the bytes.
    if let Ok(note) = parse_kernel_note(opts) {
        for p in [&note.client, &note.sender, &note.receiver].into_iter().flatten() {
            assert!(!p.comm.chars().any(char::is_control));
        }
    }
});
