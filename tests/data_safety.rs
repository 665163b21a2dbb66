//! `--write` never destroys what the user had: an output that is one of the inputs under any
//! name (the same path, a hard link, a symlink, `/proc/self/fd/N`, standard input redirected from
//! it) is refused before anything is opened for writing, and an existing file that rsthound did
//! not write is replaced only with `--force`.

mod common;

use common::*;
use std::process::{Command, Stdio};

fn sample() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/founding-story.pcapng"
    ))
    .unwrap()
}

/// Runs `rsthound ARGS`, expects the refusal (exit 2, one line naming the output) and the file
/// at `keep` unchanged.
fn refused(args: &[&str], keep: &str, want: &str) {
    let before = std::fs::read(keep).unwrap();
    let o = rsthound(args, None);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(want), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert_eq!(std::fs::read(keep).unwrap(), before, "{keep} was changed");
}

#[test]
fn an_input_is_never_overwritten_whatever_its_name() {
    let d = TempDir::new("safety-input");
    let x = d.write("x.pcapng", &sample());
    let same = "is the same file as the input";
    refused(&["read", "--write", &x, &x], &x, same);
    let hard = d.0.join("hard.pcapng");
    std::fs::hard_link(&x, &hard).unwrap();
    refused(&["read", "--write", hard.to_str().unwrap(), &x], &x, same);
    let sym = d.0.join("sym.pcapng");
    std::os::unix::fs::symlink(&x, &sym).unwrap();
    refused(&["read", "--write", sym.to_str().unwrap(), &x], &x, same);
    // Even with --force.
    refused(&["read", "--force", "--write", &x, &x], &x, same);

    // Standard input redirected from the output, named as `-` or as /proc/self/fd/0.
    for out in [x.as_str(), "/proc/self/fd/0"] {
        let before = std::fs::read(&x).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_rsthound"))
            .args(["read", "--write", out, "-"])
            .stdin(Stdio::from(std::fs::File::open(&x).unwrap()))
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{out}: {err}");
        assert!(
            err.contains(same) && err.contains("<stdin>"),
            "{out}: {err}"
        );
        assert_eq!(std::fs::read(&x).unwrap(), before);
    }
}

#[test]
fn a_file_rsthound_did_not_write_is_replaced_only_with_force() {
    let d = TempDir::new("safety-force");
    let input = d.write("in.pcapng", &sample());
    let notes = d.write("notes.txt", b"my notes, not a capture\n");
    refused(
        &["read", "--write", &notes, &input],
        &notes,
        "exists and is not a capture rsthound wrote",
    );
    // A pcapng that another program wrote (its section header names another application) is
    // not ours either.
    let mut other = sample();
    other[28..36].copy_from_slice(b"dumpcap ");
    let theirs = d.write("theirs.pcapng", &other);
    refused(
        &["read", "--write", &theirs, &input],
        &theirs,
        "give --force",
    );
    let o = rsthound(&["read", "-q", "--force", "--write", &notes, &input], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let written = std::fs::read(&notes).unwrap();
    assert_eq!(&written[..4], &[0x0a, 0x0d, 0x0d, 0x0a], "now a pcapng");
    // A capture rsthound wrote may be written again without --force; an empty file too.
    let o = rsthound(&["read", "-q", "--write", &notes, &input], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let empty = d.write("empty.pcapng", b"");
    let o = rsthound(&["read", "-q", "--write", &empty, &input], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(std::fs::metadata(&empty).unwrap().len() > 0);
    // The input read back from the capture rsthound wrote still reports its RSTs.
    let o = rsthound(&["read", &notes], None);
    assert!(stdout(&o).contains("refused"), "{}", stdout(&o));
}
