//! The interfaces of the watched namespace by index, which of them the user asked for (`-i`),
//! and what changed since the last look (a container started: a new veth).

use crate::sanitize::sanitize_text;
use std::collections::BTreeMap;
use std::sync::Arc;

/// More interfaces than this are not named (their packets are still tracked, under their
/// index); the overflow is counted.
const MAX_IFACES: usize = 16_384;

/// An interface that appeared or disappeared between two looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Appeared { index: u32, name: String },
    Disappeared { index: u32, name: String },
}

/// One interface as the packet path needs it: found with one lookup per frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iface {
    /// Sanitized; shared with the RST events seen on it.
    pub name: Arc<str>,
    /// Whether its packets are wanted (`-i`, or all).
    pub watched: bool,
}

#[derive(Debug, Default)]
pub struct Interfaces {
    names: BTreeMap<u32, Iface>,
    /// `-i` names; empty = every interface.
    wanted: Vec<String>,
    /// Interfaces not recorded because the table was full.
    pub overflow: u64,
}

impl Interfaces {
    pub fn new(wanted: Vec<String>) -> Self {
        Interfaces {
            wanted,
            ..Default::default()
        }
    }

    /// Replaces the table with `list` (`(ifindex, raw name)`), returning what changed.
    pub fn update(&mut self, list: &[(u32, Vec<u8>)]) -> Vec<Change> {
        let mut fresh = BTreeMap::new();
        for (index, raw) in list {
            if fresh.len() >= MAX_IFACES {
                self.overflow += 1;
                continue;
            }
            let name = sanitize_text(raw, 64);
            let watched = self.wanted.is_empty() || self.wanted.contains(&name);
            fresh.insert(
                *index,
                Iface {
                    name: name.into(),
                    watched,
                },
            );
        }
        let mut changes = Vec::new();
        for (index, old) in &self.names {
            if fresh.get(index) != Some(old) {
                changes.push(Change::Disappeared {
                    index: *index,
                    name: old.name.to_string(),
                });
            }
        }
        for (index, new) in &fresh {
            if self.names.get(index) != Some(new) {
                changes.push(Change::Appeared {
                    index: *index,
                    name: new.name.to_string(),
                });
            }
        }
        self.names = fresh;
        changes
    }

    /// The interface with this index, if listed.
    pub fn get(&self, index: u32) -> Option<&Iface> {
        self.names.get(&index)
    }

    pub fn name(&self, index: u32) -> Option<&str> {
        self.get(index).map(|i| &*i.name)
    }

    /// Whether packets on this interface are wanted (`-i`, or all).
    pub fn watched(&self, index: u32) -> bool {
        self.wants(self.get(index))
    }

    /// Whether packets on `iface`, as [`Interfaces::get`] found it, are wanted: an interface
    /// not listed (yet) only when all are.
    pub fn wants(&self, iface: Option<&Iface>) -> bool {
        iface.map_or(self.wanted.is_empty(), |i| i.watched)
    }

    pub fn wanted(&self) -> &[String] {
        &self.wanted
    }

    /// Names of the watched interfaces, in index order.
    pub fn watched_names(&self) -> Vec<&str> {
        self.names
            .iter()
            .filter(|(_, i)| i.watched)
            .map(|(_, i)| &*i.name)
            .collect()
    }

    /// `-i` names that match no interface now.
    pub fn missing(&self) -> Vec<&str> {
        self.wanted
            .iter()
            .filter(|w| !self.names.values().any(|i| &*i.name == w.as_str()))
            .map(String::as_str)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[(u32, &str)]) -> Vec<(u32, Vec<u8>)> {
        items
            .iter()
            .map(|(i, n)| (*i, n.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn reports_appearing_and_disappearing_interfaces() {
        let mut t = Interfaces::new(vec![]);
        let first = t.update(&list(&[(1, "lo"), (2, "eth0")]));
        assert_eq!(first.len(), 2);
        assert!(t.update(&list(&[(1, "lo"), (2, "eth0")])).is_empty());
        let changes = t.update(&list(&[(1, "lo"), (5, "veth9")]));
        assert_eq!(
            changes,
            vec![
                Change::Disappeared {
                    index: 2,
                    name: "eth0".into()
                },
                Change::Appeared {
                    index: 5,
                    name: "veth9".into()
                }
            ]
        );
        assert_eq!(t.watched_names(), vec!["lo", "veth9"]);
    }

    #[test]
    fn restricts_to_wanted_names_and_sanitizes() {
        let mut t = Interfaces::new(vec!["lo".into(), "nope".into()]);
        t.update(&list(&[(1, "lo"), (2, "eth0"), (3, "x\x1b[31m")]));
        assert!(t.watched(1));
        assert!(!t.watched(2));
        assert!(!t.watched(99));
        assert_eq!(t.missing(), vec!["nope"]);
        assert!(!t.name(3).unwrap().contains('\x1b'));
    }
}
