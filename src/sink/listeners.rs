//! The output of `rsthound listeners`: a table for people ([`text`]), one JSON object per line
//! for scripts ([`write_json`], records in [`crate::sink::schema::listeners`]). Both render the same [`Snapshot`] and the same queue verdicts.

pub mod text;

use crate::engine::listeners::{QueueState, QueueVerdict, Snapshot, verdict};
use crate::sink::schema::listeners::{ListenerJson, SummaryJson, SysctlsJson};
use crate::sink::text::advice_text;
use std::io::{self, Write};

/// The verdict on each listener's accept queue, in the snapshot's order.
fn verdicts(snap: &Snapshot) -> Vec<QueueVerdict> {
    snap.listeners
        .iter()
        .map(|l| verdict(l, None, &snap.sysctls))
        .collect()
}

/// `rsthound listeners --json`: the sysctls, one line per listener, the summary.
pub fn write_json(out: &mut dyn Write, snap: &Snapshot, netns: Option<&str>) -> io::Result<()> {
    let line = |out: &mut dyn Write, v: &dyn erased::Ser| -> io::Result<()> {
        out.write_all(v.to_json().as_bytes())?;
        out.write_all(b"\n")
    };
    line(out, &SysctlsJson::new(&snap.sysctls, netns))?;
    let verdicts = verdicts(snap);
    for (l, v) in snap.listeners.iter().zip(&verdicts) {
        let text = v
            .advice
            .iter()
            .map(|a| advice_text(a, l, &snap.sysctls, v))
            .collect();
        line(out, &ListenerJson::new(l, v, text))?;
    }
    let full = verdicts
        .iter()
        .filter(|v| v.state == QueueState::Full)
        .count();
    line(
        out,
        &SummaryJson::new(snap.listeners.len(), full, &snap.owners, &snap.notes),
    )
}

/// Serializing the three JSON types through one closure.
mod erased {
    pub trait Ser {
        fn to_json(&self) -> String;
    }
    impl<T: serde::Serialize> Ser for T {
        fn to_json(&self) -> String {
            serde_json::to_string(self)
                .unwrap_or_else(|e| format!("{{\"type\":\"error\",\"error\":{:?}}}", e.to_string()))
        }
    }
}
