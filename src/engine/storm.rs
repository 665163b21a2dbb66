//! Storm mode for streamed RST lines: above a rate, one line per second instead of one per RST.
//!
//! A host refusing 200,000 connections a second does not need 200,000 lines a second: nobody
//! reads them, and rendering them costs more than everything else `watch` does. So, per
//! resetting endpoint and verdict, the first `limit` RSTs of each second of capture time get
//! their own line and the rest are counted; when the second is over, one [`StormLine`] says
//! exactly how many were not shown, to how many hosts. Counts stay exact: lines shown plus
//! the storm lines' counts are every RST. The report (findings, summary) sees every RST
//! regardless. Pure: time comes from the events.

use crate::engine::track::{Endpoint, Verdict};
use crate::model::timestamp::Timestamp;
use foldhash::HashMap;
use std::net::IpAddr;

/// Keys (resetting endpoint, verdict) held for one second. A storm of RSTs from this many
/// different endpoints in one second is rare (a port scan's refusals are one endpoint each,
/// and few per second); beyond it, new keys are shown in full and counted in `overflow`.
pub const MAX_KEYS: usize = 4096;
/// Distinct receivers counted per key; beyond it the count reads "at least".
const MAX_PEERS: usize = 16;

/// One second of RSTs from one endpoint with one verdict, beyond the lines shown.
#[derive(Debug, Clone, PartialEq)]
pub struct StormLine {
    /// The second (capture time) the counts cover.
    pub second: i64,
    pub from: Endpoint,
    pub verdict: Verdict,
    /// RSTs that got their own line in this second.
    pub shown: u32,
    /// RSTs not shown one by one: the exact count.
    pub suppressed: u64,
    /// Distinct hosts that received them (all RSTs of the second), up to 16.
    pub peers: usize,
    /// More than `peers` distinct hosts received them.
    pub peers_saturated: bool,
    /// The first and last suppressed RST.
    pub first: Timestamp,
    pub last: Timestamp,
}

#[derive(Debug, Clone)]
struct Tally {
    shown: u32,
    suppressed: u64,
    peers: Vec<IpAddr>,
    peers_saturated: bool,
    first: Timestamp,
    last: Timestamp,
}

impl StormLine {
    /// The start of the second the counts cover.
    pub fn second_start(&self) -> Timestamp {
        Timestamp::from_nanos(self.second.saturating_mul(1_000_000_000), 0)
    }
}

/// What storm mode did over a whole run, for the summary.
#[derive(Debug, Clone, Copy, Default)]
pub struct StormStats {
    /// RSTs not shown one by one.
    pub suppressed: u64,
    /// Storm lines produced.
    pub lines: u64,
    /// RSTs shown in full because the key table was full.
    pub overflow: u64,
}

/// Decides, per RST, whether it gets its own line; collects the counts of those that do not.
#[derive(Debug)]
pub struct StormGate {
    /// Lines per second per key; 0 shows every RST.
    limit: u32,
    /// The second being counted.
    second: Option<i64>,
    /// Where each key's tally is in `tallies`.
    keys: HashMap<Key, u32>,
    tallies: Vec<(Key, Tally)>,
    /// The last key seen and its tally: in a storm, the next RST is almost always the same
    /// endpoint's, and then costs a comparison instead of a hash lookup.
    last: Option<(Key, u32)>,
    pub stats: StormStats,
}

/// What storm lines are per second: the resetting endpoint and the verdict.
type Key = (Endpoint, Verdict);

impl StormGate {
    pub fn new(limit: u32) -> Self {
        StormGate {
            limit,
            second: None,
            keys: HashMap::default(),
            tallies: Vec::new(),
            last: None,
            stats: StormStats::default(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.limit > 0
    }

    /// Whether the RST gets its own line. When its second is later than the one being counted,
    /// that second's storm lines go to `due` first. An RST from an earlier second (another
    /// interface's block retired late) counts in the current second: counts stay exact, only
    /// the second they are filed under is approximate.
    pub fn admit(
        &mut self,
        ts: Timestamp,
        from: Endpoint,
        verdict: Verdict,
        to: IpAddr,
        due: &mut Vec<StormLine>,
    ) -> bool {
        if self.limit == 0 {
            return true;
        }
        let sec = ts.secs();
        match self.second {
            Some(s) if sec > s => {
                self.close(due);
                self.second = Some(sec);
            }
            None => self.second = Some(sec),
            _ => {}
        }
        let key = (from, verdict);
        let i = match self.last {
            Some((k, i)) if k == key => i,
            _ => match self.keys.get(&key) {
                Some(&i) => i,
                None if self.tallies.len() >= MAX_KEYS => {
                    self.stats.overflow += 1;
                    return true;
                }
                None => {
                    let i = self.tallies.len() as u32;
                    self.tallies.push((
                        key,
                        Tally {
                            shown: 0,
                            suppressed: 0,
                            peers: Vec::new(),
                            peers_saturated: false,
                            first: ts,
                            last: ts,
                        },
                    ));
                    self.keys.insert(key, i);
                    i
                }
            },
        };
        self.last = Some((key, i));
        let tally = &mut self.tallies[i as usize].1;
        if !tally.peers_saturated && !tally.peers.contains(&to) {
            if tally.peers.len() < MAX_PEERS {
                tally.peers.push(to);
            } else {
                tally.peers_saturated = true;
            }
        }
        if tally.shown < self.limit {
            tally.shown += 1;
            return true;
        }
        if tally.suppressed == 0 {
            tally.first = ts;
            tally.last = ts;
        } else {
            tally.first = tally.first.min(ts);
            tally.last = tally.last.max(ts);
        }
        tally.suppressed += 1;
        self.stats.suppressed += 1;
        false
    }

    /// Closes the second being counted if it ended before `now_secs` (wall clock, for a quiet
    /// moment after a storm): its lines go to `due`.
    pub fn tick(&mut self, now_secs: i64, due: &mut Vec<StormLine>) {
        if self.second.is_some_and(|s| s < now_secs) {
            self.close(due);
            self.second = None;
        }
    }

    /// Closes whatever is being counted (end of input).
    pub fn finish(&mut self, due: &mut Vec<StormLine>) {
        self.close(due);
        self.second = None;
    }

    fn close(&mut self, due: &mut Vec<StormLine>) {
        let Some(second) = self.second else {
            return;
        };
        let start = due.len();
        self.keys.clear();
        self.last = None;
        for ((from, verdict), t) in self.tallies.drain(..) {
            if t.suppressed > 0 {
                due.push(StormLine {
                    second,
                    from,
                    verdict,
                    shown: t.shown,
                    suppressed: t.suppressed,
                    peers: t.peers.len(),
                    peers_saturated: t.peers_saturated,
                    first: t.first,
                    last: t.last,
                });
            }
        }
        // Biggest storm first, then by key (not in order of arrival).
        due[start..].sort_by(|a, b| {
            b.suppressed
                .cmp(&a.suppressed)
                .then_with(|| (a.from, a.verdict).cmp(&(b.from, b.verdict)))
        });
        self.stats.lines += (due.len() - start) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(s: &str) -> Endpoint {
        let (ip, port) = s.rsplit_once(':').unwrap();
        Endpoint {
            ip: ip.parse().unwrap(),
            port: port.parse().unwrap(),
        }
    }

    fn at(sec: i64, ms: i64) -> Timestamp {
        Timestamp::from_nanos(sec * 1_000_000_000 + ms * 1_000_000, 6)
    }

    #[test]
    fn below_the_limit_every_rst_is_shown_and_nothing_is_due() {
        let mut g = StormGate::new(3);
        let mut due = Vec::new();
        let server = ep("127.0.0.1:7211");
        let client: IpAddr = "127.0.0.1".parse().unwrap();
        for sec in 0..5 {
            for ms in [0, 500] {
                assert!(g.admit(at(sec, ms), server, Verdict::Refused, client, &mut due));
            }
        }
        g.finish(&mut due);
        assert!(due.is_empty());
        assert_eq!(g.stats.suppressed, 0);
    }

    #[test]
    fn counts_beyond_the_limit_are_exact_per_second_and_key() {
        let mut g = StormGate::new(2);
        let mut due = Vec::new();
        let server = ep("127.0.0.1:7211");
        let other = ep("10.0.0.1:80");
        let mut shown = 0;
        for i in 0..1000 {
            let to: IpAddr = format!("127.0.0.{}", 1 + i % 20).parse().unwrap();
            shown += u32::from(g.admit(at(100, i % 1000), server, Verdict::Refused, to, &mut due));
        }
        for i in 0..5 {
            shown += u32::from(g.admit(
                at(100, i),
                other,
                Verdict::Stray,
                "10.0.0.2".parse().unwrap(),
                &mut due,
            ));
        }
        assert!(due.is_empty(), "nothing is due before the second ends");
        // The next second closes the first.
        assert!(g.admit(
            at(101, 0),
            server,
            Verdict::Refused,
            "127.0.0.1".parse().unwrap(),
            &mut due
        ));
        assert_eq!(shown, 4);
        assert_eq!(due.len(), 2);
        assert_eq!(due[0].from, server);
        assert_eq!((due[0].shown, due[0].suppressed), (2, 998));
        assert_eq!((due[0].peers, due[0].peers_saturated), (16, true));
        assert_eq!(due[0].second, 100);
        assert_eq!(due[1].from, other);
        assert_eq!((due[1].shown, due[1].suppressed, due[1].peers), (2, 3, 1));
        assert_eq!(g.stats.suppressed, 1001);
        let total: u64 = due.iter().map(|l| l.suppressed).sum::<u64>() + u64::from(shown);
        assert_eq!(total, 1005, "shown plus suppressed is every RST");
    }

    #[test]
    fn late_rsts_count_in_the_current_second_and_tick_closes_a_quiet_second() {
        let mut g = StormGate::new(1);
        let mut due = Vec::new();
        let server = ep("127.0.0.1:7211");
        let c: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(g.admit(at(50, 900), server, Verdict::Refused, c, &mut due));
        assert!(!g.admit(at(50, 950), server, Verdict::Refused, c, &mut due));
        assert!(!g.admit(at(49, 990), server, Verdict::Refused, c, &mut due));
        g.tick(50, &mut due);
        assert!(due.is_empty(), "second 50 is not over at 50");
        g.tick(51, &mut due);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].suppressed, 2);
        assert_eq!(due[0].first, at(49, 990));
        assert_eq!(due[0].last, at(50, 950));
        g.tick(52, &mut due);
        assert_eq!(due.len(), 1, "nothing more to close");
    }

    #[test]
    fn limit_zero_shows_everything() {
        let mut g = StormGate::new(0);
        let mut due = Vec::new();
        for i in 0..100 {
            assert!(g.admit(
                at(1, i),
                ep("127.0.0.1:1"),
                Verdict::Refused,
                "127.0.0.1".parse().unwrap(),
                &mut due
            ));
        }
        g.finish(&mut due);
        assert!(due.is_empty());
        assert!(!g.enabled());
    }

    #[test]
    fn the_key_table_is_bounded_and_overflow_is_shown_not_lost() {
        let mut g = StormGate::new(1);
        let mut due = Vec::new();
        let c: IpAddr = "127.0.0.1".parse().unwrap();
        for port in 0..(MAX_KEYS as u16 + 10) {
            let e = Endpoint { ip: c, port };
            assert!(g.admit(at(1, 0), e, Verdict::Refused, c, &mut due));
        }
        assert_eq!(g.stats.overflow, 10);
        let extra = Endpoint {
            ip: c,
            port: MAX_KEYS as u16 + 5,
        };
        assert!(
            g.admit(at(1, 1), extra, Verdict::Refused, c, &mut due),
            "an unkept key is shown"
        );
        assert_eq!(g.stats.overflow, 11);
    }
}
