//! One sanitizer for every untrusted string: exactly the control, format and separator
//! characters (Unicode general categories Cc, Cf, Zl, Zp) are escaped, over every code point,
//! and none of them reaches the terminal or JSON from a hostile capture.

mod common;

use rsthound::sanitize::sanitize_text;
use std::process::Command;
use unicode_general_category::{GeneralCategory as G, get_general_category};

/// The categories that must never reach a terminal or a JSON string raw.
fn must_escape(c: char) -> bool {
    matches!(
        get_general_category(c),
        G::Control | G::Format | G::LineSeparator | G::ParagraphSeparator
    )
}

#[test]
fn exactly_cc_cf_zl_zp_are_escaped_over_all_code_points() {
    let mut checked = 0u32;
    let mut wrong = Vec::new();
    for c in (0..=0x10_FFFFu32).filter_map(char::from_u32) {
        let mut buf = [0u8; 4];
        let raw = c.encode_utf8(&mut buf);
        let shown = sanitize_text(raw.as_bytes(), 8);
        let escaped = shown.starts_with("\\x");
        let expected = must_escape(c);
        if escaped != expected {
            wrong.push(format!(
                "U+{:04X} {} shown as {shown:?}",
                u32::from(c),
                get_general_category(c).abbreviation()
            ));
        }
        if !expected && c != '\\' {
            assert_eq!(shown, *raw, "U+{:04X} must be shown as it is", u32::from(c));
        }
        checked += 1;
    }
    assert_eq!(checked, 0x11_0000 - 0x800, "every scalar value");
    assert!(
        wrong.is_empty(),
        "{} code points wrong, first ones: {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(20)]
    );
}

/// Characters in `text` that must not be there (a newline ends a line and is allowed).
fn raw_controls(text: &str) -> Vec<String> {
    text.chars()
        .filter(|&c| c != '\n' && must_escape(c))
        .map(|c| format!("U+{:04X}", u32::from(c)))
        .collect()
}

#[test]
fn terminal_evil_capture_reaches_no_terminal_or_json_raw() {
    let Some(evil) = common::repro_file("terminal-evil.pcapng") else {
        return;
    };
    for args in [
        &["read"][..],
        &["read", "--json"],
        &["read", "--connections"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_rsthound"))
            .args(args)
            .arg(&evil)
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).expect("output is UTF-8");
        let stderr = String::from_utf8(out.stderr).expect("errors are UTF-8");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stdout.lines().count() >= 3, "{args:?}: {stdout}");
        assert_eq!(
            raw_controls(&stdout),
            Vec::<String>::new(),
            "{args:?} stdout"
        );
        assert_eq!(
            raw_controls(&stderr),
            Vec::<String>::new(),
            "{args:?} stderr"
        );
        if args.len() == 1 {
            // The RST payload's invisible characters are there, as escapes a reader can see.
            for shown in [
                "\\xd8\\x9c",
                "\\xe2\\x80\\xa8",
                "\\xe2\\x80\\x8b",
                "\\xef\\xbb\\xbf",
            ] {
                assert!(stdout.contains(shown), "{shown} missing in {stdout}");
            }
        }
        if args.contains(&"--json") {
            for line in stdout.lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                // Decoded JSON strings hold no control or invisible characters either.
                for field in ["interface", "payload_text", "file"] {
                    if let Some(s) = v.get(field).and_then(|s| s.as_str()) {
                        assert_eq!(raw_controls(s), Vec::<String>::new(), "{field}: {s:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn process_names_command_lines_and_cgroups_are_escaped() {
    use rsthound::source::sockets::owners::scan;
    use std::collections::HashSet;
    // A /proc of one process holding socket 777, every text field hostile (any local user can
    // set their process's comm and command line).
    let proc = std::env::temp_dir().join(format!("rsthound-escaping-proc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&proc);
    let pid = proc.join("4242");
    std::fs::create_dir_all(pid.join("fd")).unwrap();
    std::fs::write(pid.join("comm"), "a\u{202e}b\u{2028}\u{61c}\n").unwrap();
    std::fs::write(pid.join("cmdline"), "srv\0--x=\u{200b}\u{feff}\x1b[2J\0").unwrap();
    std::fs::write(pid.join("status"), "Uid:\t1000\t1000\t1000\t1000\n").unwrap();
    std::fs::write(pid.join("cgroup"), "0::/evil\u{2029}\u{2066}\n").unwrap();
    std::os::unix::fs::symlink("socket:[777]", pid.join("fd/3")).unwrap();
    let found = scan(&proc, &HashSet::from([777])).unwrap();
    let _ = std::fs::remove_dir_all(&proc);
    let owner = &found.owners[&777][0];
    assert_eq!(owner.comm, "a\\xe2\\x80\\xaeb\\xe2\\x80\\xa8\\xd8\\x9c");
    assert_eq!(
        owner.cmdline,
        "srv --x=\\xe2\\x80\\x8b\\xef\\xbb\\xbf\\x1b[2J"
    );
    assert_eq!(
        owner.cgroup.as_deref(),
        Some("/evil\\xe2\\x80\\xa9\\xe2\\x81\\xa6")
    );
}
