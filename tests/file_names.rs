//! A path is bytes: `read` takes file names that are not UTF-8 and shows them escaped.

mod common;

use common::*;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;

#[test]
fn non_utf8_file_names_are_read_and_shown_escaped() {
    let d = TempDir::new("file-names");
    let sample = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/founding-story.pcapng"
    ))
    .unwrap();
    // Latin-1 "café", a lone continuation byte and a zero-width space.
    let name = OsStr::from_bytes(b"caf\xe9-\x80-\xe2\x80\x8b.pcapng");
    let path = d.0.join(name);
    std::fs::write(&path, &sample).unwrap();
    let shown = "caf\\xe9-\\x80-\\xe2\\x80\\x8b.pcapng";
    let run = |args: &[&OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_rsthound"))
            .args(args)
            .output()
            .unwrap()
    };
    let plain = d.write("plain.pcapng", &sample);

    let o = run(&["read".as_ref(), path.as_os_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("[R.]"), "RST lines: {text}");

    // Two files: each line is prefixed with its file's name, escaped.
    let o = run(&["read".as_ref(), path.as_os_str(), plain.as_ref()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(std::str::from_utf8(&o.stdout).is_ok(), "output is UTF-8");
    assert!(
        stdout(&o)
            .lines()
            .any(|l| l.starts_with(&format!("{}/{shown}", d.0.display())))
    );

    let o = run(&["read".as_ref(), "--json".as_ref(), path.as_os_str()]);
    let first: serde_json::Value =
        serde_json::from_slice(o.stdout.split(|&b| b == b'\n').next().unwrap()).unwrap();
    assert_eq!(first["file"], format!("{}/{shown}", d.0.display()));

    // `--write` takes a non-UTF-8 name too, and the summary shows it escaped.
    let out = d.0.join(OsStr::from_bytes(b"out\xff.pcapng"));
    let o = run(&[
        "read".as_ref(),
        "--write".as_ref(),
        out.as_os_str(),
        path.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(std::fs::metadata(&out).unwrap().len() > 0);
    assert!(stderr(&o).contains("out\\xff.pcapng"), "{}", stderr(&o));
    // Written by rsthound: replaced without --force; still never an input.
    let o = run(&[
        "read".as_ref(),
        "--write".as_ref(),
        out.as_os_str(),
        out.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is the same file as the input"),
        "{}",
        stderr(&o)
    );

    // A missing one is named in its error line, escaped.
    let missing = d.0.join(OsStr::from_bytes(b"gone\xff.pcap"));
    let o = run(&["read".as_ref(), missing.as_os_str()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8(o.stderr).expect("errors are UTF-8");
    assert!(
        err.starts_with(&format!(
            "rsthound: {}/gone\\xff.pcap: offset 0: cannot open",
            d.0.display()
        )),
        "{err}"
    );
}
