//! The sock_diag reply parser on arbitrary bytes: it must never panic, and a socket comes only
//! from a whole message. `cargo fuzz run -s none sock_diag`
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsthound::source::sockets::diag::{ends_dump, parse_reply};

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let _ = parse_reply(data, &mut out);
    let _ = ends_dump(data);
    // A socket needs a 16-byte netlink header and a 72-byte inet_diag_msg.
    assert!(out.len() <= data.len() / 88);
});
