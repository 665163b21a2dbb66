//! The processes behind the RSTs an endpoint sent, as the kernel named them (live runs with
//! kernel events), who listened on an endpoint before, and hints about what its port was for.
//! Grouped by command name, uid and cgroup, so that a client retrying from new processes is one
//! entry. Bounded: at most [`MAX_ENDPOINTS`] endpoints and [`MAX_NAMES`] names each; what did
//! not fit is counted.

use crate::engine::fusion::{ListenerReset, PastListener};
use crate::engine::kevent::Process;
use crate::engine::track::Endpoint;
use std::collections::HashMap;

pub const MAX_ENDPOINTS: usize = 4096;
pub const MAX_NAMES: usize = 8;
/// Pids kept per name.
const PIDS: usize = 3;

/// One process name behind an endpoint's RSTs.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientGroup {
    pub comm: String,
    pub uid: Option<u32>,
    pub cgroup: Option<String>,
    /// RSTs (attempts) involving it.
    pub count: u64,
    pub processes: u64,
    pub pids: Vec<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct ClientTallies {
    by_endpoint: HashMap<Endpoint, Vec<ClientGroup>>,
    /// Who listened on an endpoint before it refused connections (the latest known).
    past: HashMap<Endpoint, PastListener>,
    /// The listener that reset handshakes on an endpoint (its accept queue full), with how many.
    listener_resets: HashMap<Endpoint, (ListenerReset, u64)>,
    /// Hints about what a refused endpoint's port was for.
    hints: HashMap<Endpoint, Vec<String>>,
    /// Client sightings not kept (a table full).
    pub overflow: u64,
}

impl ClientTallies {
    pub fn add(&mut self, e: Endpoint, p: &Process) {
        if !self.by_endpoint.contains_key(&e) && self.by_endpoint.len() >= MAX_ENDPOINTS {
            self.overflow += 1;
            return;
        }
        let groups = self.by_endpoint.entry(e).or_default();
        if let Some(g) = groups
            .iter_mut()
            .find(|g| g.comm == p.comm && g.uid == p.uid && g.cgroup == p.cgroup)
        {
            g.count += 1;
            if !g.pids.contains(&p.pid) {
                g.processes += 1;
                if g.pids.len() < PIDS {
                    g.pids.push(p.pid);
                }
            }
        } else if groups.len() < MAX_NAMES {
            groups.push(ClientGroup {
                comm: p.comm.clone(),
                uid: p.uid,
                cgroup: p.cgroup.clone(),
                count: 1,
                processes: 1,
                pids: vec![p.pid],
            });
        } else {
            self.overflow += 1;
        }
    }

    /// Who listened on `e` before it refused (the latest end wins).
    pub fn add_past_listener(&mut self, e: Endpoint, p: &PastListener) {
        if !self.past.contains_key(&e) && self.past.len() >= MAX_ENDPOINTS {
            self.overflow += 1;
            return;
        }
        let slot = self.past.entry(e).or_insert_with(|| p.clone());
        if p.until > slot.until {
            *slot = p.clone();
        }
    }

    /// A listening socket on `e` reset a handshake (the latest description wins).
    pub fn add_listener_reset(&mut self, e: Endpoint, l: &ListenerReset) {
        if !self.listener_resets.contains_key(&e) && self.listener_resets.len() >= MAX_ENDPOINTS {
            self.overflow += 1;
            return;
        }
        let slot = self
            .listener_resets
            .entry(e)
            .or_insert_with(|| (l.clone(), 0));
        slot.0 = l.clone();
        slot.1 += 1;
    }

    /// Hints for a refused endpoint (the first ones given are kept).
    pub fn add_hints(&mut self, e: Endpoint, hints: &[String]) {
        if hints.is_empty() || self.hints.contains_key(&e) {
            return;
        }
        if self.hints.len() >= MAX_ENDPOINTS {
            self.overflow += 1;
            return;
        }
        self.hints.insert(e, hints.to_vec());
    }

    pub fn hints(&self, e: Endpoint) -> &[String] {
        self.hints.get(&e).map_or(&[], Vec::as_slice)
    }

    pub fn listener_reset(&self, e: Endpoint) -> Option<&(ListenerReset, u64)> {
        self.listener_resets.get(&e)
    }

    pub fn past_listener(&self, e: Endpoint) -> Option<&PastListener> {
        self.past.get(&e)
    }

    /// The groups behind `e`'s RSTs, most attempts first.
    pub fn of(&self, e: Endpoint) -> Vec<ClientGroup> {
        let mut v = self.by_endpoint.get(&e).cloned().unwrap_or_default();
        v.sort_by(|a, b| b.count.cmp(&a.count).then(a.comm.cmp(&b.comm)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: u32, comm: &str) -> Process {
        Process {
            pid,
            comm: comm.into(),
            uid: Some(0),
            ..Process::default()
        }
    }

    #[test]
    fn one_name_from_many_processes_is_one_group() {
        let e = Endpoint {
            ip: "127.0.0.1".parse().unwrap(),
            port: 7211,
        };
        let mut t = ClientTallies::default();
        for pid in 10..16 {
            t.add(e, &p(pid, "collectord"));
        }
        t.add(e, &p(99, "curl"));
        let g = t.of(e);
        assert_eq!(g.len(), 2);
        assert_eq!(
            (
                g[0].comm.as_str(),
                g[0].count,
                g[0].processes,
                &g[0].pids[..]
            ),
            ("collectord", 6, 6, &[10, 11, 12][..])
        );
        assert_eq!(
            (g[1].comm.as_str(), g[1].count, &g[1].pids[..]),
            ("curl", 1, &[99][..])
        );
    }

    #[test]
    fn bounded_with_overflow_counted() {
        let mut t = ClientTallies::default();
        let e = Endpoint {
            ip: "10.0.0.1".parse().unwrap(),
            port: 1,
        };
        for i in 0..(MAX_NAMES as u32 + 3) {
            t.add(e, &p(i, &format!("c{i}")));
        }
        assert_eq!(t.of(e).len(), MAX_NAMES);
        assert_eq!(t.overflow, 3);
    }
}
