//! Writes a capture cut to a snap length to standard output, in its own container
//! (`rsthound::testkit::snap::cut_to_snap`): the same bytes the truncation matrix test reads,
//! for `bench/truncation-tshark.sh` to give tshark.
//!
//! `cargo run --example snap_cut -- SNAP CAPTURE > CUT` (exit 3 when CAPTURE is not a pcap or
//! pcapng, compressed or not).

use std::io::Write;

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let (Some(snap), Some(path)) = (
        args.first().and_then(|s| s.to_str()?.parse::<u32>().ok()),
        args.get(1),
    ) else {
        eprintln!("usage: snap_cut SNAP CAPTURE > CUT");
        std::process::exit(2);
    };
    let bytes = std::fs::read(path).unwrap_or_else(|e| {
        eprintln!("snap_cut: {}: {e}", path.to_string_lossy());
        std::process::exit(1);
    });
    match rsthound::testkit::snap::cut_to_snap(&bytes, snap) {
        Ok(cut) => {
            if let Err(e) = std::io::stdout().lock().write_all(&cut) {
                eprintln!("snap_cut: {e}");
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("snap_cut: {}: {e}", path.to_string_lossy());
            std::process::exit(3);
        }
    }
}
