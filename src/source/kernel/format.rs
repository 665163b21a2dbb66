//! The tracefs `format` file of one tracepoint, parsed: its ID, every field (name, offset, size,
//! signedness, array length) and the `__print_symbolic` value → name tables of its `print fmt`.
//!
//! The kernel lays out a tracepoint record as its `format` file says, and that layout changes
//! between kernels (`tcp_send_reset` carried `sport`/`family`/`saddr[4]` before 6.10 and
//! `reason` plus `saddr[28]` sockaddrs since). Enum values change too: `enum sk_rst_reason` got
//! new members in the middle (TCP_DISCONNECT_WITH_DATA, 6.13), which renumbered the rest. So
//! nothing here knows a number: every offset and every name comes from the file. Pure: text in,
//! [`Format`] out; the file is read by the caller.

use std::sync::Arc;
use thiserror::Error;

/// The longest `format` file accepted (6.18's `kfree_skb` is about 4 KiB).
pub const MAX_FORMAT_LEN: usize = 256 << 10;
/// Fields accepted per event.
pub const MAX_FIELDS: usize = 256;
/// Entries accepted per symbolic table, and tables per event.
pub const MAX_SYMBOLS: usize = 4096;
pub const MAX_TABLES: usize = 64;

/// Why a `format` file was not understood.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FormatError {
    #[error("format file too long ({0} bytes)")]
    TooLong(usize),
    #[error("format file has no `ID:` line")]
    NoId,
    #[error("format file line {line}: {what}")]
    BadField { line: usize, what: &'static str },
    #[error("format file has more than {MAX_FIELDS} fields")]
    TooManyFields,
}

/// One field of the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    /// The C type as written (`const void *`, `__u8`, `enum sk_rst_reason`).
    pub ctype: String,
    pub offset: usize,
    pub size: usize,
    pub signed: bool,
    /// `saddr[28]` → `Some(28)`.
    pub array_len: Option<usize>,
}

impl Field {
    /// The byte range of the field in a record.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset.saturating_add(self.size)
    }
}

/// A `__print_symbolic(REC->field, { value, "NAME" }, …)` table: value → name. Entries whose
/// value the kernel left as an unresolved enum name (6.18 `tcp_send_reset`'s
/// `{ TCP_ESTABLISHED, "TCP_ESTABLISHED" }`) are skipped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SymbolTable {
    pub field: String,
    entries: Vec<(i64, Arc<str>)>,
}

impl SymbolTable {
    pub fn name(&self, value: i64) -> Option<&Arc<str>> {
        self.entries
            .iter()
            .find(|(v, _)| *v == value)
            .map(|(_, n)| n)
    }

    /// The value named `name` (used to build kernel filters from names, never numbers).
    pub fn value(&self, name: &str) -> Option<i64> {
        self.entries
            .iter()
            .find(|(_, n)| &**n == name)
            .map(|(v, _)| *v)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> impl Iterator<Item = (i64, &str)> {
        self.entries.iter().map(|(v, n)| (*v, &**n))
    }
}

/// A parsed `format` file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Format {
    pub name: String,
    pub id: u32,
    pub fields: Vec<Field>,
    pub tables: Vec<SymbolTable>,
}

impl Format {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The symbolic table of `field`, if `print fmt` has one with at least one numeric entry.
    pub fn table(&self, field: &str) -> Option<&SymbolTable> {
        self.tables
            .iter()
            .find(|t| t.field == field && !t.is_empty())
    }

    /// The smallest record that holds every field.
    pub fn min_record_len(&self) -> usize {
        self.fields.iter().map(|f| f.range().end).max().unwrap_or(0)
    }
}

/// Parses a `format` file. Lines other than `name:`, `ID:`, `field:` and `print fmt:` are
/// ignored, so that a future kernel's additions do not break the parse.
pub fn parse(text: &str) -> Result<Format, FormatError> {
    if text.len() > MAX_FORMAT_LEN {
        return Err(FormatError::TooLong(text.len()));
    }
    let mut fmt = Format::default();
    let mut id = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(v) = line.strip_prefix("name:") {
            fmt.name = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("ID:") {
            id = v.trim().parse::<u32>().ok();
        } else if let Some(v) = line.strip_prefix("field:") {
            if fmt.fields.len() >= MAX_FIELDS {
                return Err(FormatError::TooManyFields);
            }
            fmt.fields
                .push(parse_field(v).map_err(|what| FormatError::BadField { line: i + 1, what })?);
        } else if let Some(v) = line.strip_prefix("print fmt:") {
            fmt.tables = parse_symbolic_tables(v);
        }
    }
    fmt.id = id.ok_or(FormatError::NoId)?;
    Ok(fmt)
}

/// `const void * skaddr;\toffset:16;\tsize:8;\tsigned:0;` (after `field:`).
fn parse_field(v: &str) -> Result<Field, &'static str> {
    let mut parts = v.split(';').map(str::trim);
    let decl = parts.next().ok_or("empty field")?;
    let (mut offset, mut size, mut signed) = (None, None, false);
    for p in parts {
        if let Some(x) = p.strip_prefix("offset:") {
            offset = Some(x.trim().parse::<usize>().map_err(|_| "bad offset")?);
        } else if let Some(x) = p.strip_prefix("size:") {
            size = Some(x.trim().parse::<usize>().map_err(|_| "bad size")?);
        } else if let Some(x) = p.strip_prefix("signed:") {
            signed = x.trim() == "1";
        }
    }
    // The name is the last identifier of the declaration, before an optional `[N]`.
    let (decl, array_len) = match decl.strip_suffix(']').and_then(|d| d.rsplit_once('[')) {
        Some((d, n)) => (d.trim_end(), Some(n.trim().parse::<usize>().ok())),
        None => (decl, None),
    };
    // After the last character that is not part of an identifier (which may be multi-byte).
    let split = decl
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let name = &decl[split..];
    if name.is_empty() {
        return Err("field without a name");
    }
    Ok(Field {
        name: name.to_string(),
        ctype: decl[..split].trim().to_string(),
        offset: offset.ok_or("field without offset")?,
        size: size.ok_or("field without size")?,
        signed,
        // `__data_loc char[] name` (dynamic arrays) have no length: None.
        array_len: array_len.flatten(),
    })
}

/// Every `__print_symbolic(REC->FIELD, { V, "NAME" }, …)` in the `print fmt` text.
fn parse_symbolic_tables(text: &str) -> Vec<SymbolTable> {
    const OPEN: &str = "__print_symbolic(REC->";
    let mut tables = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(OPEN) {
        if tables.len() >= MAX_TABLES {
            break;
        }
        rest = &rest[at + OPEN.len()..];
        let name_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let field = rest[..name_end].to_string();
        rest = &rest[name_end..];
        let mut table = SymbolTable {
            field,
            entries: Vec::new(),
        };
        // Entries follow as `, { value, "NAME" }` until the call's closing parenthesis.
        loop {
            let t = rest.trim_start();
            let Some(t) = t.strip_prefix(',') else { break };
            let t = t.trim_start();
            let Some(t) = t.strip_prefix('{') else { break };
            let Some(close) = t.find('}') else { break };
            let entry = &t[..close];
            rest = &t[close + 1..];
            if table.entries.len() < MAX_SYMBOLS
                && let Some((value, name)) = parse_entry(entry)
            {
                table.entries.push((value, Arc::from(name)));
            }
        }
        tables.push(table);
    }
    tables
}

/// ` 1, "NO_SOCKET" ` → (1, NO_SOCKET); an unresolved enum name as the value → None.
fn parse_entry(entry: &str) -> Option<(i64, &str)> {
    let (value, name) = entry.split_once(',')?;
    let name = name.trim().strip_prefix('"')?.strip_suffix('"')?;
    Some((parse_int(value.trim())?, name))
}

fn parse_int(s: &str) -> Option<i64> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => i64::from_str_radix(h, 16).ok()?,
        None => s.parse::<i64>().ok()?,
    };
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tracepoints");

    fn fixture(rel: &str) -> Format {
        parse(&std::fs::read_to_string(format!("{FIX}/{rel}")).unwrap()).unwrap()
    }

    #[test]
    fn send_reset_618_fields_and_reasons() {
        let f = fixture("6.18/tcp_send_reset.format");
        assert_eq!(f.name, "tcp_send_reset");
        assert_eq!(f.id, 2280);
        let saddr = f.field("saddr").unwrap();
        assert_eq!(
            (saddr.offset, saddr.size, saddr.array_len),
            (32, 28, Some(28))
        );
        assert_eq!(saddr.ctype, "__u8");
        let reason = f.field("reason").unwrap();
        assert_eq!((reason.offset, reason.size), (28, 4));
        assert_eq!(reason.ctype, "enum sk_rst_reason");
        let reasons = f.table("reason").unwrap();
        assert_eq!(reasons.name(1).map(|n| &**n), Some("NO_SOCKET"));
        assert_eq!(reasons.value("TCP_ABORT_ON_CLOSE"), Some(11));
        assert_eq!(reasons.value("ERROR"), Some(24));
        // The state table kept unresolved enum names: nothing numeric to use.
        assert!(f.table("state").is_none());
        assert!(f.field("common_pid").unwrap().signed);
        assert_eq!(f.min_record_len(), 88);
    }

    #[test]
    fn three_kernels_number_reasons_differently() {
        let new = fixture("6.18/tcp_send_reset.format");
        let mid = fixture("6.11-reasons/tcp_send_reset.format");
        let old = fixture("pre-6.10/tcp_send_reset.format");
        assert_eq!(
            new.table("reason").unwrap().name(23).unwrap().as_ref(),
            "MPTCP_RST_EMIDDLEBOX"
        );
        assert_eq!(
            mid.table("reason").unwrap().name(23).unwrap().as_ref(),
            "ERROR"
        );
        assert!(
            mid.table("reason")
                .unwrap()
                .value("TCP_DISCONNECT_WITH_DATA")
                .is_none()
        );
        assert!(old.field("reason").is_none());
        assert!(old.table("reason").is_none());
        assert_eq!(old.field("sport").unwrap().offset, 28);
        assert_eq!(old.field("saddr_v6").unwrap().range(), 42..58);
        assert_eq!(
            old.table("state").unwrap().name(2).unwrap().as_ref(),
            "TCP_SYN_SENT"
        );
    }

    #[test]
    fn set_state_and_kfree_skb_tables() {
        let s = fixture("6.18/inet_sock_set_state.format");
        assert_eq!(s.table("oldstate").unwrap().value("TCP_CLOSE"), Some(7));
        assert_eq!(s.table("newstate").unwrap().value("TCP_SYN_SENT"), Some(2));
        assert_eq!(s.table("protocol").unwrap().value("IPPROTO_TCP"), Some(6));
        let k = fixture("6.18/kfree_skb.format");
        assert_eq!(k.table("reason").unwrap().value("NO_SOCKET"), Some(3));
        assert_eq!(
            k.table("reason").unwrap().value("TCP_LISTEN_OVERFLOW"),
            Some(40)
        );
        assert_eq!(k.field("rx_sk").unwrap().offset, 24);
        let r = fixture("6.18/tcp_receive_reset.format");
        assert_eq!(r.field("sock_cookie").unwrap().offset, 64);
        let y = fixture("6.18/tcp_retransmit_synack.format");
        assert_eq!(y.field("req").unwrap().size, 8);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert_eq!(parse(""), Err(FormatError::NoId));
        assert!(matches!(
            parse("ID: 1\nformat:\n\tfield:int x;\toffset:zz;\tsize:4;\n"),
            Err(FormatError::BadField { line: 3, .. })
        ));
        assert!(parse("ID: 1\n\tfield:;offset:1;size:1;\n").is_err());
        let f = parse("ID: 7\nprint fmt: \"%s\", __print_symbolic(REC->x, { 1, \"A\" }, { 0x10, \"B\" }, { -2, \"C\" }, { Y, \"D\" }, { 3").unwrap();
        let t = f.table("x").unwrap();
        assert_eq!(
            (
                t.name(16).unwrap().as_ref(),
                t.name(-2).unwrap().as_ref(),
                t.len()
            ),
            ("B", "C", 3)
        );
        assert!(parse(&"x".repeat(MAX_FORMAT_LEN + 1)).is_err());
    }

    #[test]
    fn a_multibyte_character_before_the_name_is_not_a_panic() {
        // Found by the tracepoint_format fuzz target.
        assert!(parse("ID: 1\n\tfield:int é;\toffset:8;\tsize:4;\n").is_err());
        let f = parse("ID: 1\n\tfield:intéx;\toffset:8;\tsize:4;\n").unwrap();
        assert_eq!(
            (f.fields[0].name.as_str(), f.fields[0].ctype.as_str()),
            ("x", "inté")
        );
    }

    #[test]
    fn dynamic_arrays_have_no_length() {
        let f = parse("ID: 3\n\tfield:__data_loc char[] name;\toffset:8;\tsize:4;\tsigned:0;\n")
            .unwrap();
        let name = f.field("name").unwrap();
        assert_eq!((name.array_len, name.size), (None, 4));
    }
}
