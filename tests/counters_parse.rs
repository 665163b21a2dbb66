//! The counters parser on fixture files (this kernel's layout, an older one with fewer fields,
//! another field order, truncated files, garbage) and property tests: arbitrary text never
//! panics, and a generated file gives back every value it was made from.

use proptest::prelude::*;
use rsthound::engine::counters::{CATALOGUE, Change, Section, rates};
use rsthound::source::counters::{
    CounterSource, ParseError, ProcCounters, parse_netstat, parse_snmp, sample_from,
};
use std::path::PathBuf;

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/counters")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every catalogued counter of one section that `text` has.
fn names(text: &[u8], prefix: &str) -> Vec<String> {
    let t = String::from_utf8_lossy(text);
    let header = t
        .lines()
        .find(|l| l.starts_with(&format!("{prefix}: ")))
        .unwrap();
    header
        .split_whitespace()
        .skip(1)
        .map(String::from)
        .collect()
}

#[test]
fn this_kernels_files_have_every_catalogued_counter() {
    let snmp = parse_snmp(&fixture("snmp-6.18")).unwrap();
    let ext = parse_netstat(&fixture("netstat-6.18")).unwrap();
    for c in CATALOGUE {
        let have = match c.section {
            Section::Tcp => snmp.values.contains_key(c.name),
            Section::TcpExt => ext.values.contains_key(c.name),
        };
        assert!(have, "{} missing from the 6.18 fixture", c.name);
    }
    // Every name of the header is either a value or (MaxConn = -1) unparsable.
    assert_eq!(
        snmp.values.len() + snmp.unparsable.len(),
        names(&fixture("snmp-6.18"), "Tcp").len()
    );
    assert_eq!(snmp.unparsable, vec!["MaxConn"]);
    assert_eq!(
        ext.values.len(),
        names(&fixture("netstat-6.18"), "TcpExt").len()
    );
    assert!(ext.values.len() > 100);
}

#[test]
fn an_older_layout_gives_not_available_never_zero() {
    let new = sample_from(&fixture("snmp-6.18"), Ok(&fixture("netstat-6.18"))).unwrap();
    let old = sample_from(&fixture("snmp-old"), Ok(&fixture("netstat-old"))).unwrap();
    for missing in [
        "TCPAbortFailed",
        "TCPReqQFullDrop",
        "TCPReqQFullDoCookies",
        "TCPSYNChallenge",
    ] {
        assert_eq!(old.get(Section::TcpExt, missing), None, "{missing}");
        assert!(new.get(Section::TcpExt, missing).is_some(), "{missing}");
    }
    assert_eq!(old.get(Section::Tcp, "InCsumErrors"), None);
    // What the old kernel has keeps its value.
    assert_eq!(
        old.get(Section::Tcp, "AttemptFails"),
        new.get(Section::Tcp, "AttemptFails")
    );
    assert_eq!(
        old.get(Section::TcpExt, "ListenOverflows"),
        new.get(Section::TcpExt, "ListenOverflows")
    );
    // Rates against an old kernel: n/a rows, not zeros, not errors.
    let r = rates(&old, &old, 1.0).unwrap();
    assert_eq!(
        r.get("TCPAbortFailed").unwrap().change,
        Change::NotAvailable
    );
    assert!(matches!(
        r.get("ListenOverflows").unwrap().change,
        Change::Moved { delta: 0, .. }
    ));
}

#[test]
fn another_order_gives_the_same_values() {
    assert_eq!(
        parse_snmp(&fixture("snmp-reordered")),
        parse_snmp(&fixture("snmp-6.18"))
    );
    assert_eq!(
        parse_netstat(&fixture("netstat-reordered")),
        parse_netstat(&fixture("netstat-6.18"))
    );
    assert_ne!(
        names(&fixture("netstat-reordered"), "TcpExt"),
        names(&fixture("netstat-6.18"), "TcpExt")
    );
}

#[test]
fn truncated_files_are_typed_errors() {
    assert!(matches!(
        parse_snmp(&fixture("snmp-truncated")),
        Err(ParseError::Truncated { .. })
    ));
    assert!(matches!(
        parse_netstat(&fixture("netstat-truncated")),
        Err(ParseError::Truncated { .. })
    ));
    // A cut netstat only takes the TcpExt counters away.
    let s = sample_from(&fixture("snmp-6.18"), Ok(&fixture("netstat-truncated"))).unwrap();
    assert!(s.get(Section::Tcp, "AttemptFails").is_some());
    assert!(s.tcp_ext.is_empty());
    assert!(
        s.unreadable[0].1.contains("cut short"),
        "{:?}",
        s.unreadable
    );
}

#[test]
fn garbage_is_one_clean_line() {
    let g = fixture("garbage");
    let e = parse_snmp(&g).unwrap_err();
    assert!(matches!(e, ParseError::BadName { .. }), "{e:?}");
    let line = e.to_string();
    assert!(
        !line.contains('\n') && !line.contains('\x1b') && !line.contains('\x07'),
        "{line}"
    );
    assert!(matches!(
        parse_netstat(&g),
        Err(ParseError::SectionMissing { .. })
    ));
}

#[test]
fn the_proc_reader_reads_fixture_directories() {
    let dir = tempdir();
    std::fs::write(dir.join("snmp"), fixture("snmp-old")).unwrap();
    std::fs::write(dir.join("netstat"), fixture("netstat-old")).unwrap();
    let s = ProcCounters::in_dir(&dir).sample().unwrap();
    assert_eq!(s.get(Section::TcpExt, "TCPAbortFailed"), None);
    assert!(s.get(Section::TcpExt, "ListenDrops").is_some());
    // netstat unreadable: TcpExt n/a, with the reason; snmp unreadable: an error.
    std::fs::remove_file(dir.join("netstat")).unwrap();
    let s = ProcCounters::in_dir(&dir).sample().unwrap();
    assert!(s.unreadable[0].1.contains("netstat"), "{:?}", s.unreadable);
    std::fs::remove_file(dir.join("snmp")).unwrap();
    assert!(ProcCounters::in_dir(&dir).sample().is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tempdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("rsthound-counters-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9_]{0,30}"
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_snmp(&bytes);
        let _ = parse_netstat(&bytes);
        let _ = sample_from(&bytes, Ok(&bytes));
    }

    #[test]
    fn arbitrary_text_with_prefixes_never_panics(body in "(Tcp|TcpExt|Udp|[ \\t0-9A-Za-z:-]){0,200}(\n(Tcp|TcpExt): [ 0-9A-Za-z_-]{0,80}){0,4}\n?") {
        let _ = parse_snmp(body.as_bytes());
        let _ = parse_netstat(body.as_bytes());
    }

    #[test]
    fn a_generated_file_round_trips(
        fields in proptest::collection::btree_map(name(), any::<u64>(), 1..60),
        before in "(Ip: a b\nIp: 1 2\n)?",
        ext_first in any::<bool>(),
    ) {
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        let values: Vec<String> = fields.values().map(u64::to_string).collect();
        let tcp = format!("Tcp: {}\nTcp: {}\n", names.join(" "), values.join(" "));
        let ext = format!("TcpExt: {}\nTcpExt: {}\n", names.join(" "), values.join(" "));
        let text = if ext_first { format!("{before}{ext}{tcp}") } else { format!("{before}{tcp}{ext}") };
        let snmp = parse_snmp(text.as_bytes()).unwrap();
        let netstat = parse_netstat(text.as_bytes()).unwrap();
        prop_assert_eq!(&snmp.values, &fields);
        prop_assert_eq!(&netstat.values, &fields);
        prop_assert!(snmp.unparsable.is_empty());
        // Cut anywhere inside the Tcp pair: an error or fewer values, never wrong ones.
        for cut in [text.len() / 3, text.len() / 2, text.len() - 1] {
            if let Ok(p) = parse_snmp(&text.as_bytes()[..cut]) {
                for (k, v) in &p.values {
                    prop_assert_eq!(fields.get(k), Some(v));
                }
            }
        }
    }
}
