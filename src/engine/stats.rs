//! Counting what was read and what could not be decoded, so the summary never hides a blind spot.

use crate::engine::decode::{NotTcp, Outcome, TcpFlags, Undecodable};
use crate::model::LinkType;
use std::collections::BTreeMap;

/// Distinct undecodable reasons kept; the reasons are a small closed set plus one per link type,
/// so this only bites on files with hundreds of unknown link types.
const MAX_REASONS: usize = 256;

#[derive(Debug, Default, Clone)]
pub struct DecodeStats {
    pub packets: u64,
    pub bytes: u64,
    pub tcp: u64,
    pub rsts: u64,
    pub not_tcp: BTreeMap<NotTcp, u64>,
    pub undecodable: BTreeMap<Undecodable, u64>,
    pub undecodable_other: u64,
    pub link_types: std::collections::BTreeSet<LinkType>,
}

impl DecodeStats {
    pub fn count(&mut self, outcome: &Outcome<'_>) {
        match outcome {
            Outcome::Tcp(seg) => self.count_tcp(seg.flags),
            Outcome::NotTcp(n) => *self.not_tcp.entry(*n).or_default() += 1,
            Outcome::Undecodable(u) => {
                if self.undecodable.len() < MAX_REASONS || self.undecodable.contains_key(u) {
                    *self.undecodable.entry(*u).or_default() += 1;
                } else {
                    self.undecodable_other += 1;
                }
            }
        }
    }

    #[inline]
    pub fn count_tcp(&mut self, flags: TcpFlags) {
        self.tcp += 1;
        self.rsts += u64::from(flags.rst());
    }

    pub fn undecodable_total(&self) -> u64 {
        self.undecodable.values().sum::<u64>() + self.undecodable_other
    }

    pub fn merge(&mut self, other: &DecodeStats) {
        self.packets += other.packets;
        self.bytes += other.bytes;
        self.tcp += other.tcp;
        self.rsts += other.rsts;
        for (k, v) in &other.not_tcp {
            *self.not_tcp.entry(*k).or_default() += v;
        }
        for (k, v) in &other.undecodable {
            *self.undecodable.entry(*k).or_default() += v;
        }
        self.undecodable_other += other.undecodable_other;
        self.link_types.extend(other.link_types.iter().copied());
    }
}
