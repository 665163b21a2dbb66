//! `rsthound listeners` as a table: the sysctls that bound listeners, one row per listening
//! socket (queue against backlog, drops, state, owners), the advice for full queues, and what
//! could not be seen.

use super::verdicts;
use crate::engine::listeners::{Listener, QueueState, Snapshot};
use crate::sink::text::advice_text;
use std::io::{self, Write};

/// Owners named in one table cell.
const OWNERS_SHOWN: usize = 3;

fn opt(v: Option<u32>) -> String {
    v.map_or_else(|| "?".to_string(), |v| v.to_string())
}

/// `127.0.0.1:80`, `[::1]:80`.
fn endpoint(l: &Listener) -> String {
    std::net::SocketAddr::new(l.key.addr, l.key.port).to_string()
}

fn owners_cell(l: &Listener) -> String {
    if l.owners.is_empty() {
        return "-".to_string();
    }
    let mut cell = l
        .owners
        .iter()
        .take(OWNERS_SHOWN)
        .map(|o| format!("{} (pid {})", o.comm, o.pid))
        .collect::<Vec<_>>()
        .join(", ");
    if l.owners.len() > OWNERS_SHOWN {
        cell.push_str(&format!(" +{} more", l.owners.len() - OWNERS_SHOWN));
    }
    cell
}

fn state_word(s: QueueState) -> &'static str {
    match s {
        QueueState::Ok => "ok",
        QueueState::Full => "FULL",
        QueueState::Overflowing => "OVERFLOWING",
        QueueState::DroppedBefore => "dropped",
    }
}

/// The table and the advice, for a terminal.
pub fn write_text(out: &mut dyn Write, snap: &Snapshot, netns: Option<&str>) -> io::Result<()> {
    let s = &snap.sysctls;
    match netns {
        Some(n) => writeln!(out, "network namespace {n}")?,
        None => writeln!(out, "this network namespace")?,
    }
    writeln!(
        out,
        "net.core.somaxconn = {}   net.ipv4.tcp_max_syn_backlog = {}   net.ipv4.tcp_abort_on_overflow = {}   net.ipv4.tcp_syncookies = {}",
        opt(s.somaxconn),
        opt(s.tcp_max_syn_backlog),
        opt(s.tcp_abort_on_overflow),
        opt(s.tcp_syncookies)
    )?;
    writeln!(out)?;
    let verdicts = verdicts(snap);
    if snap.listeners.is_empty() {
        writeln!(out, "no TCP listeners")?;
    } else {
        let rows: Vec<[String; 5]> = snap
            .listeners
            .iter()
            .zip(&verdicts)
            .map(|(l, v)| {
                [
                    endpoint(l),
                    format!("{}/{}", l.queue, l.backlog),
                    l.drops.map_or_else(|| "?".into(), |d| d.to_string()),
                    state_word(v.state).to_string(),
                    owners_cell(l),
                ]
            })
            .collect();
        let head = ["ADDRESS", "QUEUE/BACKLOG", "DROPS", "STATE", "PROCESS"];
        let mut width = head.map(str::len);
        for r in &rows {
            for (w, c) in width.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |out: &mut dyn Write, cells: [&str; 5]| -> io::Result<()> {
            writeln!(
                out,
                "{:<w0$}  {:>w1$}  {:>w2$}  {:<w3$}  {}",
                cells[0],
                cells[1],
                cells[2],
                cells[3],
                cells[4],
                w0 = width[0],
                w1 = width[1],
                w2 = width[2],
                w3 = width[3],
            )
        };
        line(out, head)?;
        for r in &rows {
            line(out, [&r[0], &r[1], &r[2], &r[3], &r[4]])?;
        }
    }
    for (l, v) in snap.listeners.iter().zip(&verdicts) {
        if v.advice.is_empty() {
            continue;
        }
        writeln!(out)?;
        let what = match v.state {
            QueueState::Full => format!(
                "accept queue full ({} waiting, backlog {}; the kernel drops new connections at backlog + 1)",
                l.queue, l.backlog
            ),
            _ => format!(
                "accept queue overflowing ({} waiting, backlog {})",
                l.queue, l.backlog
            ),
        };
        let drops = l
            .drops
            .map(|d| format!(", {d} packets dropped on the socket"))
            .unwrap_or_default();
        let who = if l.owners.is_empty() {
            "process not seen".to_string()
        } else {
            owners_cell(l)
        };
        writeln!(out, "{} ({who}): {what}{drops}", endpoint(l))?;
        for a in &v.advice {
            writeln!(out, "  - {}", advice_text(a, l, s, v))?;
        }
    }
    if !snap.notes.is_empty() {
        writeln!(out)?;
        writeln!(out, "not seen:")?;
        for n in &snap.notes {
            writeln!(out, "  {n}")?;
        }
    }
    Ok(())
}
