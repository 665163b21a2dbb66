//! A zstd frame may not make rsthound allocate a window beyond
//! [`rsthound::source::capture::MAX_ZSTD_WINDOW`]: `zstd --long=27` asks for 128 MiB
//! outside the memory budget. Frames are made here byte by byte (RFC 8878): a frame header
//! with a window descriptor, then the capture as one raw block.

mod common;

use common::*;

fn sample() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/founding-story.pcapng"
    ))
    .unwrap()
}

/// One zstd frame of `data` (at most 128 KiB) in a raw block, announcing a window of
/// 2^`window_log` bytes as `zstd --long=WINDOW_LOG` writes it when the size is not known.
fn zstd_frame(window_log: u8, data: &[u8]) -> Vec<u8> {
    const MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
    // Frame header descriptor: no content size, not single-segment (so a window descriptor
    // follows), no checksum, no dictionary.
    const DESCRIPTOR: u8 = 0;
    // Window descriptor: exponent (window log - 10) in the top five bits, mantissa 0.
    let window = (window_log - 10) << 3;
    // Block header: last block, raw, its size in the upper 21 bits (little-endian, 3 bytes).
    let block = 1u32 | ((data.len() as u32) << 3);
    let mut f = MAGIC.to_vec();
    f.extend([DESCRIPTOR, window]);
    f.extend(&block.to_le_bytes()[..3]);
    f.extend(data);
    f
}

#[test]
fn frames_asking_for_a_window_beyond_the_limit_are_refused() {
    let d = TempDir::new("zstd-window");
    let data = sample();
    let plain = d.write("plain.pcapng", &data);
    let want = stdout(&rsthound(&["read", &plain], None));
    assert!(want.contains("[R.]"));
    // The documented limit: 32 MiB, window log 25.
    let limit_log = 25;
    // At the limit and below: read as the plain file is.
    for log in [17, 20, limit_log] {
        let f = d.write(&format!("w{log}.pcapng.zst"), &zstd_frame(log, &data));
        let o = rsthound(&["read", &f], None);
        assert_eq!(o.status.code(), Some(0), "window log {log}: {}", stderr(&o));
        assert_eq!(stdout(&o), want, "window log {log}");
    }
    // Beyond it: one line naming the file, the offset and the window asked for.
    for (log, mib) in [(limit_log + 1, 64), (27, 128), (31, 2048)] {
        let f = d.write(&format!("w{log}.pcapng.zst"), &zstd_frame(log, &data));
        let o = rsthound(&["read", &f], None);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "window log {log}: {err}");
        assert_eq!(stdout(&o), "", "nothing decoded");
        let first = err.lines().next().unwrap();
        assert!(
            first.starts_with(&format!(
                "rsthound: {f}: offset 0: the zstd frame needs a {mib} MiB window, over rsthound's limit of 32 MiB"
            )),
            "{first}"
        );
        assert_eq!(
            err.lines().filter(|l| l.starts_with("rsthound: /")).count(),
            1,
            "{err}"
        );
    }
}
