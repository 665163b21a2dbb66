//! Reading the kernel's TCP counters: a pure parser of `/proc/net/snmp` (`Tcp:`) and
//! `/proc/net/netstat` (`TcpExt:`) by header names, and the [`CounterSource`]s that sample them
//! (this thread's namespace, another namespace through a dedicated thread, a fake for tests),
//! plus the host's uptime (when the host's counters started).
//!
//! Each section is a header line of names followed by a value line with the same prefix:
//!
//! ```text
//! Tcp: RtoAlgorithm RtoMin … AttemptFails EstabResets …
//! Tcp: 1 200 … 7 2 …
//! ```
//!
//! Names are matched, never positions: kernels add counters over time (TCPAbortFailed 2.6.x,
//! TCPSYNChallenge 3.6, TCPReqQFull* 3.8 …) and a counter an older kernel lacks is simply absent
//! (shown "n/a"), never zero.

use crate::engine::counters::{CounterSample, CountersStart, Section};
use crate::sanitize::sanitize_text;
use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// A bound on what is read from one file: `/proc/net/netstat` is about 5 KiB on 6.18.
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// A bound on the names of one section (TcpExt has 136 fields on 6.18).
pub const MAX_FIELDS: usize = 4096;
/// A bound on one name's length (the longest on 6.18 is 26 bytes).
pub const MAX_NAME_LEN: usize = 64;

/// Why a section could not be parsed. A single bad value is not an error: that counter is
/// reported as unparsable and the others stay usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("{file} has no `{prefix}:` lines")]
    SectionMissing {
        file: &'static str,
        prefix: &'static str,
    },
    #[error("{file} is cut short: the `{prefix}:` header has no complete value line after it")]
    Truncated {
        file: &'static str,
        prefix: &'static str,
    },
    #[error("{file}: `{prefix}:` has {names} names but {values} values")]
    CountMismatch {
        file: &'static str,
        prefix: &'static str,
        names: usize,
        values: usize,
    },
    #[error("{file}: `{prefix}:` header holds {name:?}, which is not a counter name")]
    BadName {
        file: &'static str,
        prefix: &'static str,
        /// Sanitized and cut.
        name: String,
    },
    #[error("{file}: `{prefix}:` has more than {MAX_FIELDS} fields")]
    TooManyFields {
        file: &'static str,
        prefix: &'static str,
    },
}

/// One parsed section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub values: BTreeMap<String, u64>,
    /// Names whose value was not an unsigned decimal number (e.g. `MaxConn -1`).
    pub unparsable: Vec<String>,
}

/// The `Tcp:` section of `/proc/net/snmp`.
pub fn parse_snmp(text: &[u8]) -> Result<Parsed, ParseError> {
    parse_section(text, Section::Tcp)
}

/// The `TcpExt:` section of `/proc/net/netstat`.
pub fn parse_netstat(text: &[u8]) -> Result<Parsed, ParseError> {
    parse_section(text, Section::TcpExt)
}

/// Finds the first line whose first word is `PREFIX:`, takes the next line as its values (it
/// must carry the same prefix and end with a newline), and pairs names with values.
pub fn parse_section(text: &[u8], section: Section) -> Result<Parsed, ParseError> {
    let file = section.file();
    let prefix = section.prefix();
    let mut lines = text.split_inclusive(|&b| b == b'\n');
    let header = loop {
        match lines.next() {
            None => return Err(ParseError::SectionMissing { file, prefix }),
            Some(line) => {
                if let Some(rest) = strip_prefix_word(line, prefix) {
                    break rest;
                }
            }
        }
    };
    // The header itself must be complete: a name cut at the end of the file is not a name.
    let truncated = ParseError::Truncated { file, prefix };
    let header = header.strip_suffix(b"\n").ok_or(truncated.clone())?;
    let values = lines.next().ok_or(truncated.clone())?;
    let values = strip_prefix_word(values, prefix).ok_or(truncated.clone())?;
    let values = values.strip_suffix(b"\n").ok_or(truncated)?;

    let names: Vec<&[u8]> = words(header).collect();
    if names.len() > MAX_FIELDS {
        return Err(ParseError::TooManyFields { file, prefix });
    }
    let vals: Vec<&[u8]> = words(values).take(MAX_FIELDS + 1).collect();
    if names.len() != vals.len() {
        return Err(ParseError::CountMismatch {
            file,
            prefix,
            names: names.len(),
            values: words(values).count(),
        });
    }
    let mut parsed = Parsed::default();
    for (name, value) in names.into_iter().zip(vals) {
        if !is_counter_name(name) {
            return Err(ParseError::BadName {
                file,
                prefix,
                name: sanitize_text(name, MAX_NAME_LEN),
            });
        }
        // Checked ASCII above.
        let name = String::from_utf8_lossy(name).into_owned();
        if parsed.values.contains_key(&name) || parsed.unparsable.contains(&name) {
            // A repeated name: the first one stands.
            continue;
        }
        match parse_u64(value) {
            Some(v) => {
                parsed.values.insert(name, v);
            }
            None => parsed.unparsable.push(name),
        }
    }
    Ok(parsed)
}

/// `line` without its first word when that word is exactly `PREFIX:`.
fn strip_prefix_word<'a>(line: &'a [u8], prefix: &str) -> Option<&'a [u8]> {
    let rest = line.strip_prefix(prefix.as_bytes())?.strip_prefix(b":")?;
    match rest.first() {
        None | Some(b' ' | b'\t' | b'\n') => Some(rest),
        Some(_) => None,
    }
}

fn words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b' ' || b == b'\t')
        .filter(|w| !w.is_empty())
}

fn is_counter_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// An unsigned decimal that fits in u64 (digits only: no sign, no spaces).
fn parse_u64(word: &[u8]) -> Option<u64> {
    if word.is_empty() || word.len() > 20 || !word.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(word).ok()?.parse().ok()
}

/// Builds a sample from the two files' bytes. `snmp` must parse (it holds the headline);
/// `netstat` failing only makes the TcpExt counters unavailable, with the reason kept.
pub fn sample_from(
    snmp: &[u8],
    netstat: Result<&[u8], String>,
) -> Result<CounterSample, ParseError> {
    let tcp = parse_snmp(snmp)?;
    let mut sample = CounterSample {
        tcp: tcp.values,
        unparsable: tcp
            .unparsable
            .into_iter()
            .map(|n| (Section::Tcp, n))
            .collect(),
        ..CounterSample::default()
    };
    match netstat.and_then(|b| parse_netstat(b).map_err(|e| e.to_string())) {
        Ok(ext) => {
            sample.tcp_ext = ext.values;
            sample
                .unparsable
                .extend(ext.unparsable.into_iter().map(|n| (Section::TcpExt, n)));
        }
        Err(why) => sample.unreadable.push((Section::TcpExt, why)),
    }
    Ok(sample)
}

/// Why a sample could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum CounterError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("{path} is larger than {MAX_FILE_BYTES} bytes: not a counters file")]
    TooLarge { path: String },
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("cannot enter network namespace {shown}: {source}{hint}")]
    Netns {
        shown: String,
        source: io::Error,
        hint: String,
    },
    #[error("the thread reading the namespace's counters stopped")]
    ReaderGone,
}

/// Something that hands out counter samples.
pub trait CounterSource {
    fn sample(&mut self) -> Result<CounterSample, CounterError>;
}

/// Reads the whole file, at most [`MAX_FILE_BYTES`].
fn read_bounded(path: &Path) -> Result<Vec<u8>, CounterError> {
    let shown = || sanitize_text(path.to_string_lossy().as_bytes(), 256);
    let file = File::open(path).map_err(|source| CounterError::Read {
        path: shown(),
        source,
    })?;
    let mut buf = Vec::with_capacity(8192);
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|source| CounterError::Read {
            path: shown(),
            source,
        })?;
    if buf.len() > MAX_FILE_BYTES {
        return Err(CounterError::TooLarge { path: shown() });
    }
    Ok(buf)
}

/// The counters of the calling thread's network namespace, from `/proc/thread-self/net`
/// (`/proc/self/net` follows the thread-group leader's namespace, not this thread's).
pub struct ProcCounters {
    dir: PathBuf,
}

impl Default for ProcCounters {
    fn default() -> Self {
        ProcCounters {
            dir: PathBuf::from("/proc/thread-self/net"),
        }
    }
}

impl ProcCounters {
    /// Reads `snmp` and `netstat` from another directory (tests, fixtures).
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        ProcCounters { dir: dir.into() }
    }
}

impl CounterSource for ProcCounters {
    fn sample(&mut self) -> Result<CounterSample, CounterError> {
        let snmp = read_bounded(&self.dir.join("snmp"))?;
        let netstat = read_bounded(&self.dir.join("netstat")).map_err(|e| e.to_string());
        Ok(sample_from(
            &snmp,
            netstat.as_deref().map_err(Clone::clone),
        )?)
    }
}

/// The counters of another network namespace: a dedicated thread enters it once (setns is
/// per thread, and rsthound's other threads stay where they are) and samples on request.
pub struct NetnsCounters {
    ask: SyncSender<()>,
    answers: Receiver<Result<CounterSample, CounterError>>,
}

impl NetnsCounters {
    /// Starts the reader thread in the namespace at `path` (from
    /// [`crate::command::watch::netns_path`]) and returns once it is in. Needs CAP_SYS_ADMIN.
    pub fn start(path: &Path) -> Result<Self, CounterError> {
        let (ask, asked) = sync_channel::<()>(1);
        let (answer, answers) = sync_channel(1);
        let (ready, entered) = sync_channel::<Result<(), CounterError>>(1);
        let path = path.to_path_buf();
        std::thread::Builder::new()
            .name("counters-netns".into())
            .spawn(move || {
                if let Err(source) = crate::sys::netns::enter(&path) {
                    let _ = ready.send(Err(netns_error(&path, source)));
                    return;
                }
                if ready.send(Ok(())).is_err() {
                    return;
                }
                let mut here = ProcCounters::default();
                while asked.recv().is_ok() {
                    if answer.send(here.sample()).is_err() {
                        return;
                    }
                }
            })
            .map_err(|source| CounterError::Read {
                path: "(reader thread)".into(),
                source,
            })?;
        entered.recv().map_err(|_| CounterError::ReaderGone)??;
        Ok(NetnsCounters { ask, answers })
    }
}

impl CounterSource for NetnsCounters {
    fn sample(&mut self) -> Result<CounterSample, CounterError> {
        self.ask.send(()).map_err(|_| CounterError::ReaderGone)?;
        self.answers.recv().map_err(|_| CounterError::ReaderGone)?
    }
}

fn netns_error(path: &Path, source: io::Error) -> CounterError {
    let hint = match source.kind() {
        io::ErrorKind::NotFound => {
            " (`ip netns list` shows the names; a PID or a path like /proc/PID/ns/net also works)"
                .to_string()
        }
        io::ErrorKind::PermissionDenied => {
            ": entering another network namespace needs CAP_SYS_ADMIN: run as root, or sudo \
             setcap cap_sys_admin+ep $(command -v rsthound)"
                .to_string()
        }
        _ => String::new(),
    };
    CounterError::Netns {
        shown: sanitize_text(path.to_string_lossy().as_bytes(), 256),
        source,
        hint,
    }
}

/// A scripted source for tests: hands out its samples in order, then fails.
#[derive(Default)]
pub struct FakeCounters {
    pub samples: VecDeque<Result<CounterSample, CounterError>>,
}

impl FakeCounters {
    pub fn new(samples: impl IntoIterator<Item = CounterSample>) -> Self {
        FakeCounters {
            samples: samples.into_iter().map(Ok).collect(),
        }
    }
}

impl CounterSource for FakeCounters {
    fn sample(&mut self) -> Result<CounterSample, CounterError> {
        self.samples
            .pop_front()
            .unwrap_or(Err(CounterError::ReaderGone))
    }
}

/// Seconds since boot: the first number of `/proc/uptime`.
pub fn parse_uptime(text: &[u8]) -> Option<f64> {
    let first = text.split(|b| b.is_ascii_whitespace()).next()?;
    if first.is_empty() || !first.iter().all(|b| b.is_ascii_digit() || *b == b'.') {
        return None;
    }
    let v: f64 = std::str::from_utf8(first).ok()?.parse().ok()?;
    v.is_finite().then_some(v)
}

/// When the counters of the namespace to be read started. The host's namespace (that of PID 1)
/// counts since boot; any other namespace since it was created, which Linux does not record.
/// `netns` is the namespace given with `--netns` (None: this process's own).
pub fn counters_start(netns: Option<&Path>) -> (CountersStart, Option<String>) {
    let target = netns.unwrap_or(Path::new("/proc/thread-self/ns/net"));
    let initial = same_file(target, Path::new("/proc/1/ns/net")).or_else(|| {
        // Without ptrace rights on PID 1 (root in a sandbox, or not root), the fixed inode of
        // the initial namespace still tells (NET_NS_INIT_INO, uapi/linux/nsfs.h, 6.18); older
        // kernels give init_net a dynamic inode (>= 0xF0000000), so this never says "yes"
        // wrongly there, it just cannot say.
        use std::os::unix::fs::MetadataExt;
        let ino = |p: &str| std::fs::metadata(p).ok().map(|m| m.ino());
        let target_ino = std::fs::metadata(target).ok()?.ino();
        if target_ino == NET_NS_INIT_INO {
            Some(true)
        } else if ino("/proc/thread-self/ns/net") == Some(NET_NS_INIT_INO) {
            // This kernel fixes the initial inode (we are in it): any other inode is not it.
            Some(false)
        } else {
            None
        }
    });
    match initial {
        Some(true) => match std::fs::read("/proc/uptime")
            .ok()
            .and_then(|b| parse_uptime(&b))
        {
            Some(seconds) => (CountersStart::Known { seconds }, None),
            None => (
                CountersStart::Unknown,
                Some("/proc/uptime is unreadable: when the counters started is unknown".into()),
            ),
        },
        Some(false) => (CountersStart::Unknown, None),
        None => (
            CountersStart::Unknown,
            Some(
                "cannot tell whether this is the host's network namespace (/proc/1/ns/net is \
                 not readable: it needs ptrace rights on PID 1): when the counters started is \
                 unknown"
                    .into(),
            ),
        ),
    }
}

/// The inode of the initial network namespace on kernels that fix it (6.18).
const NET_NS_INIT_INO: u64 = 0xEFFF_FFF9;

fn same_file(a: &Path, b: &Path) -> Option<bool> {
    use std::os::unix::fs::MetadataExt;
    let (a, b) = (std::fs::metadata(a).ok()?, std::fs::metadata(b).ok()?);
    Some(a.dev() == b.dev() && a.ino() == b.ino())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNMP: &[u8] = b"Ip: Forwarding DefaultTTL\nIp: 1 64\n\
        Tcp: RtoAlgorithm MaxConn ActiveOpens AttemptFails EstabResets OutRsts\n\
        Tcp: 1 -1 14 7 2 4\n\
        Udp: InDatagrams\nUdp: 3\n";

    #[test]
    fn pairs_names_with_values_and_marks_signed_ones_unparsable() {
        let p = parse_snmp(SNMP).unwrap();
        assert_eq!(p.values["AttemptFails"], 7);
        assert_eq!(p.values["OutRsts"], 4);
        assert_eq!(p.values.get("MaxConn"), None);
        assert_eq!(p.unparsable, vec!["MaxConn".to_string()]);
        assert_eq!(p.values.get("InDatagrams"), None);
    }

    #[test]
    fn tcp_does_not_match_tcpext_and_vice_versa() {
        let text = b"TcpExt: ListenOverflows\nTcpExt: 9\nMPTcpExt: ListenOverflows\nMPTcpExt: 1\n";
        assert_eq!(
            parse_snmp(text),
            Err(ParseError::SectionMissing {
                file: "/proc/net/snmp",
                prefix: "Tcp"
            })
        );
        assert_eq!(parse_netstat(text).unwrap().values["ListenOverflows"], 9);
    }

    #[test]
    fn broken_files_are_typed_errors() {
        assert!(matches!(
            parse_snmp(b"Tcp: A B\n"),
            Err(ParseError::Truncated { .. })
        ));
        assert!(matches!(
            parse_snmp(b"Tcp: A B\nTcp: 1 2"),
            Err(ParseError::Truncated { .. })
        ));
        assert!(matches!(
            parse_snmp(b"Tcp: A B\nUdp: 1 2\n"),
            Err(ParseError::Truncated { .. })
        ));
        assert!(matches!(
            parse_snmp(b"Tcp: A B C\nTcp: 1 2\n"),
            Err(ParseError::CountMismatch {
                names: 3,
                values: 2,
                ..
            })
        ));
        assert!(matches!(
            parse_snmp(b"Tcp: A \x1b[31m\nTcp: 1 2\n"),
            Err(ParseError::BadName { .. })
        ));
        let e = parse_snmp(b"Tcp: A \x1b[31m\nTcp: 1 2\n")
            .unwrap_err()
            .to_string();
        assert!(!e.contains('\x1b'), "{e}");
        assert!(matches!(
            parse_snmp(b""),
            Err(ParseError::SectionMissing { .. })
        ));
    }

    #[test]
    fn bad_values_mark_only_that_counter() {
        let p = parse_snmp(b"Tcp: A B C D\nTcp: 1 x 99999999999999999999999 +4\n").unwrap();
        assert_eq!(p.values.len(), 1);
        assert_eq!(p.unparsable, vec!["B", "C", "D"]);
    }

    #[test]
    fn a_missing_netstat_leaves_tcp_usable() {
        let s = sample_from(SNMP, Err("cannot read /proc/net/netstat: gone".into())).unwrap();
        assert_eq!(s.get(Section::Tcp, "AttemptFails"), Some(7));
        assert_eq!(s.get(Section::TcpExt, "ListenOverflows"), None);
        assert_eq!(s.unreadable.len(), 1);
        let s = sample_from(SNMP, Ok(b"garbage")).unwrap();
        assert!(
            s.unreadable[0].1.contains("no `TcpExt:` lines"),
            "{:?}",
            s.unreadable
        );
    }

    #[test]
    fn uptime() {
        assert_eq!(parse_uptime(b"209.53 344.94\n"), Some(209.53));
        assert_eq!(parse_uptime(b"nan 1\n"), None);
        assert_eq!(parse_uptime(b""), None);
        assert_eq!(parse_uptime(b"-4 1"), None);
    }

    #[test]
    fn fake_hands_out_then_fails() {
        let mut f = FakeCounters::new([CounterSample::default()]);
        assert!(f.sample().is_ok());
        assert!(matches!(f.sample(), Err(CounterError::ReaderGone)));
    }

    #[test]
    fn this_namespace_reads() {
        // /proc/net/snmp is world-readable: no privilege needed.
        let s = ProcCounters::default().sample().unwrap();
        assert!(s.get(Section::Tcp, "AttemptFails").is_some());
    }
}
