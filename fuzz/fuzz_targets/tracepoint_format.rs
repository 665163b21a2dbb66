//! A tracefs `format` file of any content: parsed without panic; when it parses, a decoder built
//! from it (as each of the five events) decodes records of any content without panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsthound::engine::kevent::TaskContext;
use rsthound::source::kernel::format::parse;
use rsthound::source::kernel::record::{Decoder, Tracepoint};

fuzz_target!(|data: &[u8]| {
    let (text, raw) = data.split_at(data.len() * 3 / 4);
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let Ok(f) = parse(text) else { return };
    for t in &f.tables {
        for (v, _) in t.entries() {
            let _ = t.name(v);
        }
    }
    for tp in Tracepoint::ALL {
        let mut d = Decoder::new();
        if d.add(tp, &f).is_ok() {
            let mut rec = raw.to_vec();
            if rec.len() >= 2 {
                rec[..2].copy_from_slice(&(f.id as u16).to_ne_bytes());
            }
            let _ = d.decode(TaskContext::default(), &rec);
        }
    }
});
