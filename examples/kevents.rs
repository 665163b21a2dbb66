//! Debug view of the kernel-events source: prints every decoded, attributed event until Ctrl-C
//! (or for `SECONDS` given as the first argument), then the counters.
//!
//! `cargo run --example kevents -- 10` (as root, or with CAP_PERFMON).

use rsthound::engine::kevent::{EventKind, Process};
use rsthound::source::kernel::{KernelView, SourceConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn who(p: &Option<Arc<Process>>) -> String {
    p.as_ref().map_or("-".into(), |p| {
        format!(
            "{} (uid {}, cgroup {}, cmd {:?})",
            p.label(),
            p.uid.map_or("?".into(), |u| u.to_string()),
            p.cgroup.as_deref().unwrap_or("?"),
            p.cmdline.as_deref().unwrap_or("?")
        )
    })
}

fn addr(a: Option<std::net::SocketAddr>) -> String {
    a.map_or("-".into(), |a| a.to_string())
}

fn main() {
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::MAX / 2);
    let mut view = match KernelView::open(&SourceConfig::default()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("kevents: {e}");
            std::process::exit(2);
        }
    };
    for n in view.notes() {
        eprintln!("kevents: {n}");
    }
    eprintln!("kevents: reading kernel events");
    let until = Instant::now() + Duration::from_secs(secs);
    let mut out = Vec::new();
    while Instant::now() < until {
        if let Err(e) = view.poll(Duration::from_millis(200), &mut out) {
            eprintln!("kevents: {e}");
            std::process::exit(1);
        }
        for a in out.drain(..) {
            let c = a.event.ctx;
            let what = match &a.event.kind {
                EventKind::SendReset(r) => format!(
                    "send_reset {} -> {} reason={} skaddr={:#x}",
                    addr(r.src),
                    addr(r.dst),
                    r.reason.as_deref().unwrap_or("(none)"),
                    r.skaddr
                ),
                EventKind::ReceiveReset(r) => format!(
                    "receive_reset local={} remote={} skaddr={:#x}",
                    addr(r.local),
                    addr(r.remote),
                    r.skaddr
                ),
                EventKind::SetState(s) => format!(
                    "set_state {}->{} local={} remote={} skaddr={:#x}",
                    s.old.name(),
                    s.new.name(),
                    addr(s.local),
                    addr(s.remote),
                    s.skaddr
                ),
                EventKind::RetransmitSynack(s) => format!(
                    "retransmit_synack local={} remote={}",
                    addr(s.local),
                    addr(s.remote)
                ),
                EventKind::KfreeSkb(k) => format!(
                    "kfree_skb reason={} protocol={:#06x}",
                    k.reason.as_deref().unwrap_or("(none)"),
                    k.protocol
                ),
                EventKind::ConnectExit(c) => format!("connect() returned {}", c.ret),
            };
            let client = a
                .client
                .as_ref()
                .map(|(p, b)| format!("{} by {b:?}", who(&Some(p.clone()))))
                .unwrap_or("-".into());
            println!(
                "{}.{:09} cpu{} task {}{} | {what} | client {client} | actor {}",
                c.time_ns / 1_000_000_000,
                c.time_ns % 1_000_000_000,
                c.cpu,
                c.pid,
                if c.in_irq { " (irq)" } else { "" },
                who(&a.actor)
            );
        }
    }
    eprintln!("kevents: {:?}", view.stats());
}
