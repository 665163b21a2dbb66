//! Kernel records decoded: the framing of a perf ring record (sample, COMM, FORK, EXIT, LOST)
//! and the raw bytes of a tracepoint sample turned into a typed [`KernelEvent`], using only the
//! offsets and sizes of the event's parsed `format` file. Records are kernel memory, but every
//! length is still checked: a short or odd record is an error value, never a panic. Pure.

use super::format::{Field, Format, SymbolTable};
use crate::engine::kevent::{
    ConnectExit, EventKind, KernelEvent, KfreeSkb, ReceiveReset, RetransmitSynack, SendReset,
    SetState, TaskContext, TcpState,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use thiserror::Error;

/// `perf_event_header.type` values (include/uapi/linux/perf_event.h).
pub mod rec {
    pub const LOST: u32 = 2;
    pub const COMM: u32 = 3;
    pub const EXIT: u32 = 4;
    pub const FORK: u32 = 7;
    pub const SAMPLE: u32 = 9;
    /// `header.misc` bit of a COMM record caused by exec.
    pub const MISC_COMM_EXEC: u16 = 1 << 13;
    pub const HEADER_LEN: usize = 8;
}

/// `common_flags` bits (kernel/trace/trace.h `enum trace_flag_type`, unchanged since 2.6).
const FLAG_HARDIRQ: u8 = 0x08;
const FLAG_SOFTIRQ: u8 = 0x10;
const FLAG_NMI: u8 = 0x40;

/// The length of the `sample_id` block that sample_id_all appends to non-sample records with
/// our sample_type TID|TIME|CPU: pid, tid (u32 each), time (u64), cpu, reserved (u32 each).
pub const SAMPLE_ID_LEN: usize = 24;

/// One ring record, framed. Borrowed from the copy of the ring the caller made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PerfRecord<'a> {
    /// A tracepoint sample (sample_type TID|TIME|CPU|RAW).
    Sample {
        pid: u32,
        tid: u32,
        time_ns: u64,
        cpu: u32,
        raw: &'a [u8],
    },
    /// A task got a name: exec (`exec`) or prctl(PR_SET_NAME).
    Comm {
        pid: u32,
        tid: u32,
        comm: &'a [u8],
        exec: bool,
        time_ns: u64,
    },
    Fork {
        pid: u32,
        ppid: u32,
        tid: u32,
        time_ns: u64,
    },
    Exit {
        pid: u32,
        tid: u32,
        time_ns: u64,
    },
    /// The kernel dropped `lost` records: the ring was full.
    Lost {
        lost: u64,
    },
    /// A record type this reader does not ask for.
    Other {
        kind: u32,
    },
}

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum RecordError {
    #[error("record of {have} bytes, {need} needed")]
    Short { have: usize, need: usize },
    #[error("record header says {size} bytes, {have} available")]
    BadSize { size: usize, have: usize },
    #[error("sample of tracepoint id {0}, which is not decoded")]
    UnknownEvent(u16),
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn short(have: usize, need: usize) -> RecordError {
    RecordError::Short { have, need }
}

/// Frames one record (header included). `bytes` must be exactly the record (`header.size`).
pub fn parse_perf_record(bytes: &[u8]) -> Result<PerfRecord<'_>, RecordError> {
    let have = bytes.len();
    let kind = u32_at(bytes, 0).ok_or(short(have, rec::HEADER_LEN))?;
    let misc = u16_at(bytes, 4).ok_or(short(have, rec::HEADER_LEN))?;
    let size = usize::from(u16_at(bytes, 6).ok_or(short(have, rec::HEADER_LEN))?);
    if size != have || size < rec::HEADER_LEN {
        return Err(RecordError::BadSize { size, have });
    }
    let body = &bytes[rec::HEADER_LEN..];
    let n = body.len();
    // The sample_id block at the end of non-sample records: its time.
    let id_time = || {
        n.checked_sub(SAMPLE_ID_LEN)
            .and_then(|at| u64_at(body, at + 8))
            .ok_or(short(have, rec::HEADER_LEN + SAMPLE_ID_LEN))
    };
    Ok(match kind {
        rec::SAMPLE => {
            // pid, tid, time, cpu, res, raw size, raw bytes.
            const RAW_AT: usize = 28;
            let raw_len = u32_at(body, 24).ok_or(short(have, rec::HEADER_LEN + RAW_AT))? as usize;
            let raw = body
                .get(RAW_AT..RAW_AT.saturating_add(raw_len))
                .ok_or(short(have, rec::HEADER_LEN + RAW_AT + raw_len))?;
            PerfRecord::Sample {
                pid: u32_at(body, 0).unwrap_or(0),
                tid: u32_at(body, 4).unwrap_or(0),
                time_ns: u64_at(body, 8).unwrap_or(0),
                cpu: u32_at(body, 16).unwrap_or(0),
                raw,
            }
        }
        rec::COMM => {
            let end = n
                .checked_sub(SAMPLE_ID_LEN)
                .filter(|e| *e >= 8)
                .ok_or(short(have, rec::HEADER_LEN + 8 + SAMPLE_ID_LEN))?;
            let comm = &body[8..end];
            let comm = &comm[..comm.iter().position(|&b| b == 0).unwrap_or(comm.len())];
            PerfRecord::Comm {
                pid: u32_at(body, 0).unwrap_or(0),
                tid: u32_at(body, 4).unwrap_or(0),
                comm,
                exec: misc & rec::MISC_COMM_EXEC != 0,
                time_ns: id_time()?,
            }
        }
        rec::FORK | rec::EXIT => {
            // pid, ppid, tid, ptid, time.
            let time_ns = u64_at(body, 16).ok_or(short(have, rec::HEADER_LEN + 24))?;
            let (pid, ppid, tid) = (
                u32_at(body, 0).unwrap_or(0),
                u32_at(body, 4).unwrap_or(0),
                u32_at(body, 8).unwrap_or(0),
            );
            if kind == rec::FORK {
                PerfRecord::Fork {
                    pid,
                    ppid,
                    tid,
                    time_ns,
                }
            } else {
                PerfRecord::Exit { pid, tid, time_ns }
            }
        }
        rec::LOST => PerfRecord::Lost {
            lost: u64_at(body, 8).ok_or(short(have, rec::HEADER_LEN + 16))?,
        },
        other => PerfRecord::Other { kind: other },
    })
}

/// A field's place in the record, checked once against the format.
#[derive(Debug, Clone, Copy)]
struct Slot {
    at: usize,
    size: usize,
}

impl Slot {
    fn of(f: &Field) -> Slot {
        Slot {
            at: f.offset,
            size: f.size,
        }
    }

    fn bytes<'a>(&self, raw: &'a [u8]) -> Option<&'a [u8]> {
        raw.get(self.at..self.at.checked_add(self.size)?)
    }

    /// An unsigned integer field of 1, 2, 4 or 8 bytes.
    fn uint(&self, raw: &[u8]) -> Option<u64> {
        let b = self.bytes(raw)?;
        Some(match self.size {
            1 => u64::from(b[0]),
            2 => u64::from(u16::from_ne_bytes(b.try_into().ok()?)),
            4 => u64::from(u32::from_ne_bytes(b.try_into().ok()?)),
            8 => u64::from_ne_bytes(b.try_into().ok()?),
            _ => return None,
        })
    }

    /// A signed integer field (sign-extended).
    fn int(&self, raw: &[u8]) -> Option<i64> {
        let b = self.bytes(raw)?;
        Some(match self.size {
            1 => i64::from(b[0] as i8),
            2 => i64::from(i16::from_ne_bytes(b.try_into().ok()?)),
            4 => i64::from(i32::from_ne_bytes(b.try_into().ok()?)),
            8 => i64::from_ne_bytes(b.try_into().ok()?),
            _ => return None,
        })
    }
}

fn slot(f: &Format, name: &str) -> Option<Slot> {
    f.field(name).map(Slot::of)
}

/// A named field with its symbol table.
#[derive(Debug, Clone)]
struct Named {
    slot: Slot,
    signed: bool,
    names: Arc<SymbolTable>,
}

impl Named {
    fn of(f: &Format, name: &str) -> Option<Named> {
        let field = f.field(name)?;
        Some(Named {
            slot: Slot::of(field),
            signed: field.signed,
            names: Arc::new(f.table(name)?.clone()),
        })
    }

    fn name(&self, raw: &[u8]) -> Option<Arc<str>> {
        let v = if self.signed {
            self.slot.int(raw)?
        } else {
            self.slot.uint(raw)? as i64
        };
        self.names.name(v).cloned()
    }
}

/// Where the addresses are: `saddr[28]`/`daddr[28]` sockaddr_in/in6 bytes (tcp_send_reset
/// since 6.10), or ports, family and v4 plus v6 arrays (the other events, and tcp_send_reset
/// before 6.10).
#[derive(Debug, Clone, Copy)]
enum Addrs {
    Sockaddr {
        src: Slot,
        dst: Slot,
    },
    Split {
        sport: Slot,
        dport: Slot,
        family: Slot,
        saddr: Slot,
        daddr: Slot,
        saddr_v6: Slot,
        daddr_v6: Slot,
    },
}

const AF_INET: u64 = 2;
const AF_INET6: u64 = 10;

impl Addrs {
    fn of(f: &Format) -> Option<Addrs> {
        let (src, dst) = (f.field("saddr")?, f.field("daddr")?);
        // sockaddr_in6 is 28 bytes; sockaddr_in 16: a 4-byte array is a bare IPv4 address.
        if src.size >= 16 && dst.size >= 16 && f.field("saddr_v6").is_none() {
            return Some(Addrs::Sockaddr {
                src: Slot::of(src),
                dst: Slot::of(dst),
            });
        }
        let s = |n| slot(f, n).filter(|s| s.size == if n.ends_with("v6") { 16 } else { 4 });
        Some(Addrs::Split {
            sport: slot(f, "sport")?,
            dport: slot(f, "dport")?,
            family: slot(f, "family")?,
            saddr: s("saddr")?,
            daddr: s("daddr")?,
            saddr_v6: s("saddr_v6")?,
            daddr_v6: s("daddr_v6")?,
        })
    }

    /// (source, destination); `None` for an end the record does not carry (zeroed sockaddr).
    fn read(&self, raw: &[u8]) -> (Option<SocketAddr>, Option<SocketAddr>) {
        match *self {
            Addrs::Sockaddr { src, dst } => (
                src.bytes(raw).and_then(sockaddr),
                dst.bytes(raw).and_then(sockaddr),
            ),
            Addrs::Split {
                sport,
                dport,
                family,
                saddr,
                daddr,
                saddr_v6,
                daddr_v6,
            } => {
                // Ports are stored in host order (the kernel ntohs()es them).
                let (Some(fam), Some(sp), Some(dp)) =
                    (family.uint(raw), sport.uint(raw), dport.uint(raw))
                else {
                    return (None, None);
                };
                let ip = |v4: Slot, v6: Slot| -> Option<IpAddr> {
                    match fam {
                        AF_INET => {
                            let b: [u8; 4] = v4.bytes(raw)?.try_into().ok()?;
                            Some(IpAddr::V4(Ipv4Addr::from(b)))
                        }
                        AF_INET6 => {
                            let b: [u8; 16] = v6.bytes(raw)?.try_into().ok()?;
                            Some(IpAddr::V6(Ipv6Addr::from(b)))
                        }
                        _ => None,
                    }
                };
                (
                    ip(saddr, saddr_v6).map(|a| SocketAddr::new(a, sp as u16)),
                    ip(daddr, daddr_v6).map(|a| SocketAddr::new(a, dp as u16)),
                )
            }
        }
    }
}

/// `struct sockaddr_in` / `sockaddr_in6` bytes: family in host order, port and address in
/// network order. A zeroed one (family 0) is no address.
pub fn sockaddr(b: &[u8]) -> Option<SocketAddr> {
    let family = u64::from(u16_at(b, 0)?);
    let port = u16::from_be_bytes(b.get(2..4)?.try_into().ok()?);
    match family {
        AF_INET => {
            let a: [u8; 4] = b.get(4..8)?.try_into().ok()?;
            Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), port))
        }
        AF_INET6 => {
            let a: [u8; 16] = b.get(8..24)?.try_into().ok()?;
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(a)), port))
        }
        _ => None,
    }
}

#[derive(Debug, Clone)]
struct SendResetLayout {
    skaddr: Slot,
    state: Option<Slot>,
    reason: Option<Named>,
    addrs: Option<Addrs>,
}

#[derive(Debug, Clone)]
struct SockLayout {
    skaddr: Slot,
    addrs: Option<Addrs>,
    cookie: Option<Slot>,
}

#[derive(Debug, Clone)]
struct SetStateLayout {
    skaddr: Slot,
    old: Slot,
    new: Slot,
    protocol: Option<Slot>,
    addrs: Option<Addrs>,
}

#[derive(Debug, Clone)]
struct KfreeLayout {
    reason: Option<Named>,
    protocol: Option<Slot>,
    rx_sk: Option<Slot>,
}

#[derive(Debug, Clone)]
enum Layout {
    ConnectExit { ret: Slot },
    SendReset(SendResetLayout),
    ReceiveReset(SockLayout),
    SetState(SetStateLayout),
    RetransmitSynack(SockLayout),
    KfreeSkb(KfreeLayout),
}

/// Which event a format file describes, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tracepoint {
    SendReset,
    ReceiveReset,
    SetState,
    RetransmitSynack,
    KfreeSkb,
    /// `syscalls:sys_exit_connect` (needs CONFIG_FTRACE_SYSCALLS).
    ExitConnect,
}

impl Tracepoint {
    pub const ALL: [Tracepoint; 6] = [
        Tracepoint::SendReset,
        Tracepoint::ReceiveReset,
        Tracepoint::SetState,
        Tracepoint::RetransmitSynack,
        Tracepoint::KfreeSkb,
        Tracepoint::ExitConnect,
    ];

    /// `system/name` under tracefs' `events/`.
    pub fn path(self) -> &'static str {
        match self {
            Tracepoint::SendReset => "tcp/tcp_send_reset",
            Tracepoint::ReceiveReset => "tcp/tcp_receive_reset",
            Tracepoint::SetState => "sock/inet_sock_set_state",
            Tracepoint::RetransmitSynack => "tcp/tcp_retransmit_synack",
            Tracepoint::KfreeSkb => "skb/kfree_skb",
            Tracepoint::ExitConnect => "syscalls/sys_exit_connect",
        }
    }
}

/// A field the decoder wanted and the format lacks: the event still decodes, without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingField {
    pub tracepoint: Tracepoint,
    pub field: &'static str,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{}: the format lacks the `{field}` field this decoder needs", .tracepoint.path())]
pub struct LayoutError {
    pub tracepoint: Tracepoint,
    pub field: &'static str,
}

/// Decodes tracepoint samples of the events it was given formats for.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    /// (common_type id, layout).
    layouts: Vec<(u16, Layout)>,
    common_flags: Option<Slot>,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Learns one event's layout. Returns the optional fields the format lacks (for example
    /// `reason` before 6.10), or the required one that makes the event undecodable.
    pub fn add(&mut self, tp: Tracepoint, f: &Format) -> Result<Vec<MissingField>, LayoutError> {
        let need = |name: &'static str| {
            slot(f, name).ok_or(LayoutError {
                tracepoint: tp,
                field: name,
            })
        };
        let mut missing = Vec::new();
        let mut want = |present: bool, field: &'static str| {
            if !present {
                missing.push(MissingField {
                    tracepoint: tp,
                    field,
                });
            }
        };
        let id = u16::try_from(f.id).map_err(|_| LayoutError {
            tracepoint: tp,
            field: "ID",
        })?;
        let addrs = Addrs::of(f);
        let layout = match tp {
            Tracepoint::ExitConnect => Layout::ConnectExit { ret: need("ret")? },
            Tracepoint::SendReset => {
                let reason = Named::of(f, "reason");
                want(reason.is_some(), "reason");
                want(addrs.is_some(), "saddr");
                Layout::SendReset(SendResetLayout {
                    skaddr: need("skaddr")?,
                    state: slot(f, "state"),
                    reason,
                    addrs,
                })
            }
            Tracepoint::ReceiveReset | Tracepoint::RetransmitSynack => {
                want(addrs.is_some(), "saddr");
                let l = SockLayout {
                    skaddr: need("skaddr")?,
                    addrs,
                    cookie: slot(f, "sock_cookie"),
                };
                if tp == Tracepoint::ReceiveReset {
                    Layout::ReceiveReset(l)
                } else {
                    Layout::RetransmitSynack(l)
                }
            }
            Tracepoint::SetState => {
                want(addrs.is_some(), "saddr");
                Layout::SetState(SetStateLayout {
                    skaddr: need("skaddr")?,
                    old: need("oldstate")?,
                    new: need("newstate")?,
                    protocol: slot(f, "protocol"),
                    addrs,
                })
            }
            Tracepoint::KfreeSkb => {
                let reason = Named::of(f, "reason");
                want(reason.is_some(), "reason");
                Layout::KfreeSkb(KfreeLayout {
                    reason,
                    protocol: slot(f, "protocol"),
                    rx_sk: slot(f, "rx_sk"),
                })
            }
        };
        if self.common_flags.is_none() {
            self.common_flags = slot(f, "common_flags");
        }
        self.layouts.retain(|(i, _)| *i != id);
        self.layouts.push((id, layout));
        Ok(missing)
    }

    /// Decodes a sample's raw bytes. `ctx` carries pid/tid/time/cpu from the sample; `in_irq`
    /// is filled from the record's `common_flags`.
    pub fn decode(&self, mut ctx: TaskContext, raw: &[u8]) -> Result<KernelEvent, RecordError> {
        let id = u16_at(raw, 0).ok_or(short(raw.len(), 2))?;
        let layout = self
            .layouts
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, l)| l)
            .ok_or(RecordError::UnknownEvent(id))?;
        if let Some(flags) = self.common_flags.and_then(|s| s.uint(raw)) {
            ctx.in_irq = (flags as u8) & (FLAG_HARDIRQ | FLAG_SOFTIRQ | FLAG_NMI) != 0;
        }
        let need = |s: Slot| s.uint(raw).ok_or(short(raw.len(), s.at + s.size));
        let state = |s: Slot| -> Result<TcpState, RecordError> {
            let v = s.int(raw).ok_or(short(raw.len(), s.at + s.size))?;
            Ok(TcpState(u8::try_from(v).unwrap_or(0)))
        };
        let kind = match layout {
            Layout::ConnectExit { ret } => EventKind::ConnectExit(ConnectExit {
                ret: ret.int(raw).ok_or(short(raw.len(), ret.at + ret.size))?,
            }),
            Layout::SendReset(l) => {
                let (src, dst) = l.addrs.map_or((None, None), |a| a.read(raw));
                EventKind::SendReset(SendReset {
                    skaddr: need(l.skaddr)?,
                    state: l
                        .state
                        .and_then(|s| s.int(raw))
                        .and_then(|v| u8::try_from(v).ok())
                        .map(TcpState),
                    reason: l.reason.as_ref().and_then(|r| r.name(raw)),
                    src,
                    dst,
                })
            }
            Layout::ReceiveReset(l) => {
                let (local, remote) = l.addrs.map_or((None, None), |a| a.read(raw));
                EventKind::ReceiveReset(ReceiveReset {
                    skaddr: need(l.skaddr)?,
                    local,
                    remote,
                    sock_cookie: l.cookie.and_then(|s| s.uint(raw)),
                })
            }
            Layout::RetransmitSynack(l) => {
                let (local, remote) = l.addrs.map_or((None, None), |a| a.read(raw));
                EventKind::RetransmitSynack(RetransmitSynack {
                    skaddr: need(l.skaddr)?,
                    local,
                    remote,
                })
            }
            Layout::SetState(l) => {
                let (local, remote) = l.addrs.map_or((None, None), |a| a.read(raw));
                EventKind::SetState(SetState {
                    skaddr: need(l.skaddr)?,
                    old: state(l.old)?,
                    new: state(l.new)?,
                    protocol: l.protocol.and_then(|s| s.uint(raw)).unwrap_or(0) as u16,
                    local,
                    remote,
                })
            }
            Layout::KfreeSkb(l) => EventKind::KfreeSkb(KfreeSkb {
                reason: l.reason.as_ref().and_then(|r| r.name(raw)),
                protocol: l.protocol.and_then(|s| s.uint(raw)).unwrap_or(0) as u16,
                rx_sk: l.rx_sk.and_then(|s| s.uint(raw)),
            }),
        };
        Ok(KernelEvent { ctx, kind })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::kernel::format::parse;

    const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tracepoints");

    fn format(rel: &str) -> Format {
        parse(&std::fs::read_to_string(format!("{FIX}/{rel}")).unwrap()).unwrap()
    }

    fn put(buf: &mut [u8], f: &Format, name: &str, bytes: &[u8]) {
        let field = f.field(name).unwrap();
        buf[field.offset..field.offset + bytes.len()].copy_from_slice(bytes);
    }

    fn sockaddr_in(ip: [u8; 4], port: u16) -> Vec<u8> {
        let mut b = vec![0u8; 28];
        b[0..2].copy_from_slice(&2u16.to_ne_bytes());
        b[2..4].copy_from_slice(&port.to_be_bytes());
        b[4..8].copy_from_slice(&ip);
        b
    }

    /// A 6.x send_reset record for NO_SOCKET: the RST goes 127.0.0.1:7211 → 127.0.0.1:41838.
    fn send_reset_record(f: &Format, reason: u32) -> Vec<u8> {
        let mut r = vec![0u8; f.min_record_len()];
        put(&mut r, f, "common_type", &(f.id as u16).to_ne_bytes());
        put(&mut r, f, "common_flags", &[0x10]);
        put(&mut r, f, "reason", &reason.to_ne_bytes());
        put(&mut r, f, "saddr", &sockaddr_in([127, 0, 0, 1], 7211));
        put(&mut r, f, "daddr", &sockaddr_in([127, 0, 0, 1], 41838));
        r
    }

    #[test]
    fn a_failed_connect_return_is_decoded_signed_and_a_short_one_is_an_error() {
        let f = format("6.18/sys_exit_connect.format");
        let mut d = Decoder::new();
        assert_eq!(d.add(Tracepoint::ExitConnect, &f), Ok(vec![]));
        let mut r = vec![0u8; f.min_record_len()];
        put(&mut r, &f, "common_type", &(f.id as u16).to_ne_bytes());
        put(&mut r, &f, "ret", &(-99i64).to_ne_bytes());
        let ctx = TaskContext {
            pid: 7,
            tid: 7,
            ..TaskContext::default()
        };
        let ev = d.decode(ctx, &r).unwrap();
        assert_eq!(
            ev.kind,
            EventKind::ConnectExit(ConnectExit { ret: -99 }),
            "EADDRNOTAVAIL"
        );
        assert!(matches!(
            d.decode(ctx, &r[..r.len() - 1]),
            Err(RecordError::Short { .. })
        ));
    }

    #[test]
    fn send_reset_reason_names_follow_each_kernels_table() {
        let ctx = TaskContext {
            pid: 4711,
            ..Default::default()
        };
        for (dir, value, want) in [
            ("6.18", 1, "NO_SOCKET"),
            ("6.18", 23, "MPTCP_RST_EMIDDLEBOX"),
            ("6.18", 16, "TCP_DISCONNECT_WITH_DATA"),
            ("6.11-reasons", 23, "ERROR"),
            ("6.11-reasons", 16, "MPTCP_RST_EUNSPEC"),
        ] {
            let f = format(&format!("{dir}/tcp_send_reset.format"));
            let mut d = Decoder::new();
            assert!(d.add(Tracepoint::SendReset, &f).unwrap().is_empty());
            let ev = d.decode(ctx, &send_reset_record(&f, value)).unwrap();
            let EventKind::SendReset(s) = ev.kind else {
                panic!()
            };
            assert_eq!(s.reason.as_deref(), Some(want), "{dir} {value}");
            assert_eq!(s.skaddr, 0);
            assert_eq!(s.src, Some("127.0.0.1:7211".parse().unwrap()));
            assert_eq!(s.dst, Some("127.0.0.1:41838".parse().unwrap()));
            assert!(ev.ctx.in_irq);
            assert_eq!(ev.ctx.pid, 4711);
        }
    }

    #[test]
    fn old_send_reset_has_no_reason_and_split_addresses() {
        let f = format("pre-6.10/tcp_send_reset.format");
        let mut d = Decoder::new();
        let missing = d.add(Tracepoint::SendReset, &f).unwrap();
        assert_eq!(
            missing,
            vec![MissingField {
                tracepoint: Tracepoint::SendReset,
                field: "reason"
            }]
        );
        let mut r = vec![0u8; f.min_record_len()];
        put(&mut r, &f, "common_type", &(f.id as u16).to_ne_bytes());
        put(
            &mut r,
            &f,
            "skaddr",
            &0xffff_8880_1234_5678u64.to_ne_bytes(),
        );
        put(&mut r, &f, "state", &1i32.to_ne_bytes());
        put(&mut r, &f, "sport", &8080u16.to_ne_bytes());
        put(&mut r, &f, "dport", &50000u16.to_ne_bytes());
        put(&mut r, &f, "family", &10u16.to_ne_bytes());
        put(
            &mut r,
            &f,
            "saddr_v6",
            &std::net::Ipv6Addr::LOCALHOST.octets(),
        );
        put(
            &mut r,
            &f,
            "daddr_v6",
            &std::net::Ipv6Addr::LOCALHOST.octets(),
        );
        let ev = d.decode(TaskContext::default(), &r).unwrap();
        let EventKind::SendReset(s) = ev.kind else {
            panic!()
        };
        assert_eq!(s.reason, None);
        assert_eq!(s.state, Some(TcpState::ESTABLISHED));
        assert_eq!(s.skaddr, 0xffff_8880_1234_5678);
        assert_eq!(s.src, Some("[::1]:8080".parse().unwrap()));
        assert_eq!(s.dst, Some("[::1]:50000".parse().unwrap()));
        assert!(!ev.ctx.in_irq);
    }

    #[test]
    fn set_state_receive_reset_kfree_on_618() {
        let mut d = Decoder::new();
        let s = format("6.18/inet_sock_set_state.format");
        let r = format("6.18/tcp_receive_reset.format");
        let k = format("6.18/kfree_skb.format");
        let y = format("6.18/tcp_retransmit_synack.format");
        assert!(d.add(Tracepoint::SetState, &s).unwrap().is_empty());
        assert!(d.add(Tracepoint::ReceiveReset, &r).unwrap().is_empty());
        assert!(d.add(Tracepoint::KfreeSkb, &k).unwrap().is_empty());
        assert!(d.add(Tracepoint::RetransmitSynack, &y).unwrap().is_empty());

        let mut b = vec![0u8; s.min_record_len()];
        put(&mut b, &s, "common_type", &(s.id as u16).to_ne_bytes());
        put(&mut b, &s, "skaddr", &7u64.to_ne_bytes());
        put(&mut b, &s, "oldstate", &7i32.to_ne_bytes());
        put(&mut b, &s, "newstate", &2i32.to_ne_bytes());
        put(&mut b, &s, "dport", &7211u16.to_ne_bytes());
        put(&mut b, &s, "family", &2u16.to_ne_bytes());
        put(&mut b, &s, "protocol", &6u16.to_ne_bytes());
        put(&mut b, &s, "saddr", &[127, 0, 0, 1]);
        put(&mut b, &s, "daddr", &[127, 0, 0, 1]);
        let EventKind::SetState(st) = d.decode(TaskContext::default(), &b).unwrap().kind else {
            panic!()
        };
        assert_eq!(
            (st.old, st.new, st.protocol),
            (TcpState::CLOSE, TcpState::SYN_SENT, 6)
        );
        assert_eq!(st.local, Some("127.0.0.1:0".parse().unwrap()));
        assert_eq!(st.remote, Some("127.0.0.1:7211".parse().unwrap()));

        let mut b = vec![0u8; r.min_record_len()];
        put(&mut b, &r, "common_type", &(r.id as u16).to_ne_bytes());
        put(&mut b, &r, "skaddr", &7u64.to_ne_bytes());
        put(&mut b, &r, "sport", &41838u16.to_ne_bytes());
        put(&mut b, &r, "dport", &7211u16.to_ne_bytes());
        put(&mut b, &r, "family", &2u16.to_ne_bytes());
        put(&mut b, &r, "saddr", &[127, 0, 0, 1]);
        put(&mut b, &r, "daddr", &[127, 0, 0, 2]);
        put(&mut b, &r, "sock_cookie", &99u64.to_ne_bytes());
        let EventKind::ReceiveReset(rr) = d.decode(TaskContext::default(), &b).unwrap().kind else {
            panic!()
        };
        assert_eq!(rr.local, Some("127.0.0.1:41838".parse().unwrap()));
        assert_eq!(rr.remote, Some("127.0.0.2:7211".parse().unwrap()));
        assert_eq!(rr.sock_cookie, Some(99));

        let mut b = vec![0u8; k.min_record_len()];
        put(&mut b, &k, "common_type", &(k.id as u16).to_ne_bytes());
        put(&mut b, &k, "protocol", &0x0800u16.to_ne_bytes());
        put(&mut b, &k, "reason", &40u32.to_ne_bytes());
        let EventKind::KfreeSkb(kf) = d.decode(TaskContext::default(), &b).unwrap().kind else {
            panic!()
        };
        assert_eq!(kf.reason.as_deref(), Some("TCP_LISTEN_OVERFLOW"));
        assert_eq!((kf.protocol, kf.rx_sk), (0x0800, Some(0)));
    }

    #[test]
    fn short_or_unknown_records_are_errors() {
        let f = format("6.18/tcp_send_reset.format");
        let mut d = Decoder::new();
        d.add(Tracepoint::SendReset, &f).unwrap();
        let r = send_reset_record(&f, 1);
        for cut in 0..20 {
            assert!(
                d.decode(TaskContext::default(), &r[..cut]).is_err(),
                "{cut}"
            );
        }
        // Cut inside the addresses: the event decodes, without them.
        let ev = d.decode(TaskContext::default(), &r[..40]).unwrap();
        let EventKind::SendReset(s) = ev.kind else {
            panic!()
        };
        assert_eq!((s.src, s.dst), (None, None));
        assert_eq!(s.reason.as_deref(), Some("NO_SOCKET"));
        let mut other = r.clone();
        other[0..2].copy_from_slice(&9u16.to_ne_bytes());
        assert_eq!(
            d.decode(TaskContext::default(), &other),
            Err(RecordError::UnknownEvent(9))
        );
    }

    #[test]
    fn perf_record_framing() {
        // A COMM record from exec: header, pid, tid, "collectord\0" padded, sample_id.
        let mut c = Vec::new();
        c.extend_from_slice(&rec::COMM.to_ne_bytes());
        c.extend_from_slice(&rec::MISC_COMM_EXEC.to_ne_bytes());
        c.extend_from_slice(&0u16.to_ne_bytes());
        c.extend_from_slice(&4711u32.to_ne_bytes());
        c.extend_from_slice(&4711u32.to_ne_bytes());
        c.extend_from_slice(b"collectord\0\0\0\0\0\0");
        c.extend_from_slice(&4711u32.to_ne_bytes());
        c.extend_from_slice(&4711u32.to_ne_bytes());
        c.extend_from_slice(&123u64.to_ne_bytes());
        c.extend_from_slice(&[0u8; 8]);
        let len = c.len() as u16;
        c[6..8].copy_from_slice(&len.to_ne_bytes());
        assert_eq!(
            parse_perf_record(&c).unwrap(),
            PerfRecord::Comm {
                pid: 4711,
                tid: 4711,
                comm: b"collectord",
                exec: true,
                time_ns: 123
            }
        );
        assert!(parse_perf_record(&c[..c.len() - 8]).is_err());
        assert!(parse_perf_record(&c[..4]).is_err());
        // A sample whose raw size points past the record.
        let mut s = vec![0u8; 8 + 28 + 4];
        s[0..4].copy_from_slice(&rec::SAMPLE.to_ne_bytes());
        let n = s.len() as u16;
        s[6..8].copy_from_slice(&n.to_ne_bytes());
        s[8 + 24..8 + 28].copy_from_slice(&100u32.to_ne_bytes());
        assert!(parse_perf_record(&s).is_err());
        s[8 + 24..8 + 28].copy_from_slice(&4u32.to_ne_bytes());
        assert!(matches!(
            parse_perf_record(&s).unwrap(),
            PerfRecord::Sample { raw, .. } if raw.len() == 4
        ));
    }
}
