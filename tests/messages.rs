//! Errors a user meets are one clear sentence each: a cut zstd stream, an output that cannot be
//! written (counted apart from the inputs), a `--netns` that is no network namespace, and
//! `--duration` in the units people type.

mod common;
#[path = "live/mod.rs"]
mod live;

use common::*;
use std::time::{Duration, Instant};

fn sample() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/founding-story.pcapng"
    ))
    .unwrap()
}

/// No Rust debug formatting in what a user reads.
fn assert_no_debug_dump(err: &str) {
    for dump in [
        "Error {",
        "kind:",
        "Err(",
        "(Error",
        "ReadError",
        "message:",
    ] {
        assert!(!err.contains(dump), "debug dump ({dump}) in: {err}");
    }
}

#[test]
fn a_cut_zstd_stream_is_one_clear_sentence() {
    let d = TempDir::new("messages-zstd");
    let whole = ruzstd::encoding::compress_to_vec(
        &sample()[..],
        ruzstd::encoding::CompressionLevel::Fastest,
    );
    let mut files = vec![d.write("cut.pcapng.zst", &whole[..whole.len() * 2 / 3])];
    if let Some(repro) = repro_file("truncated.pcapng.zst") {
        files.push(repro.to_string_lossy().into_owned());
    }
    for f in &files {
        let o = rsthound(&["read", f], None);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        let first = err.lines().next().unwrap();
        assert!(
            first.starts_with(&format!("rsthound: {f}: offset ")),
            "{first}"
        );
        assert!(
            first
                .ends_with("the zstd stream ends in the middle of a frame: the file was cut short"),
            "{first}"
        );
        assert_no_debug_dump(&err);
        assert!(
            err.contains("1 input could not be read to the end"),
            "{err}"
        );
    }
}

#[test]
fn an_output_that_cannot_be_opened_is_not_an_unread_input() {
    let d = TempDir::new("messages-output");
    let input = d.write("in.pcapng", &sample());
    let out = d.0.join("no-such-dir/out.pcapng");
    let o = rsthound(&["read", "--write", out.to_str().unwrap(), &input], None);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("out.pcapng: cannot write"), "{err}");
    assert!(err.contains("1 output could not be written"), "{err}");
    assert!(!err.contains("input"), "the input was not at fault: {err}");
    let o = rsthound(
        &["read", "--json", "--write", out.to_str().unwrap(), &input],
        None,
    );
    let last = stdout(&o).lines().last().unwrap().to_string();
    let summary: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["errors"], serde_json::json!([]), "{last}");
    assert_eq!(
        summary["output_errors"].as_array().unwrap().len(),
        1,
        "{last}"
    );
}

#[test]
fn a_namespace_that_is_not_a_network_namespace_says_so() {
    if !live::privileged("a_namespace_that_is_not_a_network_namespace_says_so") {
        return;
    }
    // /proc/1/ns/mnt is the case; /etc/hostname opens fine and is no namespace at all.
    for ns in ["/proc/1/ns/mnt", "/proc/self/ns/uts", "/etc/hostname"] {
        for cmd in [
            &["watch", "--duration", "1"][..],
            &["listeners"],
            &["counters", "--count", "1"],
        ] {
            let mut args = cmd.to_vec();
            args.extend(["--netns", ns]);
            let o = rsthound(&args, None);
            let err = stderr(&o);
            assert_ne!(o.status.code(), Some(0), "{args:?}: {err}");
            assert!(err.contains("not a network namespace"), "{args:?}: {err}");
            assert!(
                !err.contains("CAP_SYS_ADMIN"),
                "root has it: {args:?}: {err}"
            );
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        }
    }
}

#[test]
fn duration_takes_units_and_rejects_nonsense() {
    for bad in ["nan", "inf", "7 parsecs", "", "1e3", "-5"] {
        let o = rsthound(&["watch", "-i", "lo", &format!("--duration={bad}")], None);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {err}");
        assert_eq!(
            err.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "{err}"
        );
        assert!(err.contains("duration"), "{bad:?}: {err}");
    }
    if !live::privileged("duration_takes_units_and_rejects_nonsense") {
        return;
    }
    for (arg, want) in [("500ms", 0.5), ("1s", 1.0), ("0.02m", 1.2)] {
        let start = Instant::now();
        let o = rsthound(&["watch", "-q", "-i", "lo", "--duration", arg], None);
        let took = start.elapsed();
        assert_eq!(o.status.code(), Some(0), "{arg}: {}", stderr(&o));
        assert!(
            took >= Duration::from_secs_f64(want) && took < Duration::from_secs_f64(want + 3.0),
            "--duration {arg} took {took:?}"
        );
    }
}

/// `check` is run by monitoring systems: a usage error is UNKNOWN (3), as the monitoring-plugins
/// conventions say, with one line saying what is wrong; other commands keep exit status 2.
#[test]
fn a_bad_check_threshold_is_unknown_for_the_monitoring_system() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_rsthound"))
        .args(["check", "--warn", "x"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("invalid range \"x\""), "{err}");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_rsthound"))
        .args(["read", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}
