//! The report's groupings: events of one kind counted per key (the endpoint that resets, the
//! service port, the peer), each group with its time range, busiest second and distinct-peer
//! sets. Owns the memory bounds of that counting: a key cap per grouping, distinct sets with a
//! per-set cap and one shared budget. Rules read groups in key order (or the largest first) and
//! never see how they are stored.

use super::{Sample, rate};
use crate::timestamp::Timestamp;
use crate::track::Endpoint;
use std::hash::Hash;
use std::net::IpAddr;

/// Shared allowance of distinct-set entries.
#[derive(Debug, Clone)]
pub(super) struct Budget {
    pub(super) left: usize,
    pub(super) per_set: usize,
    /// Entries not kept because the budget was spent.
    pub(super) refused: u64,
}

impl Budget {
    /// Whether a set of `n` values takes a new one (then it is paid for). The first value of
    /// each set is always taken (sets are bounded by the key caps), so that a count never reads
    /// "at least 0".
    pub(super) fn admit(&mut self, n: usize) -> bool {
        if n >= self.per_set {
            return false;
        }
        if self.left == 0 && n > 0 {
            self.refused += 1;
            return false;
        }
        self.left = self.left.saturating_sub(1);
        true
    }
}

/// A hash index with a seed drawn per table: its keys (addresses, ports) come from the capture,
/// and with a seed known in advance a crafted capture could make every lookup collide. Its
/// order is never shown (groups are put in key order when shown), so runs are still alike.
pub(super) type HashIndex<K, V> = hashbrown::HashMap<K, V, foldhash::fast::RandomState>;

/// A set of distinct values with a cap; once full it only says "at least". A single value is
/// kept inline (most groups have one peer), the rest in a hash set (a lookup per event; the
/// values are put in order only when shown).
#[derive(Debug, Clone)]
pub(super) struct Distinct<T> {
    /// The only value, while there is just one (`set` is then empty).
    pub(super) one: Option<T>,
    /// Boxed: most groups never need it, and a group is one of up to `max_keys`.
    pub(super) set: Option<Box<hashbrown::HashSet<T, foldhash::fast::RandomState>>>,
    pub(super) saturated: bool,
}

impl<T: Ord + Hash + Copy> Distinct<T> {
    pub(super) fn new() -> Self {
        Distinct {
            one: None,
            set: None,
            saturated: false,
        }
    }

    pub(super) fn insert(&mut self, v: T, b: &mut Budget) {
        // A saturated set only says "at least n" any more: nothing to look up (in a storm, most
        // sets are saturated and this is most calls).
        if self.saturated {
            return;
        }
        let taken = if let Some(set) = &mut self.set {
            // With a set, `one` is empty: a new value costs one lookup, which leaves its place.
            let n = set.len();
            match set.entry(v) {
                hashbrown::hash_set::Entry::Occupied(_) => true,
                hashbrown::hash_set::Entry::Vacant(place) => {
                    let room = b.admit(n);
                    if room {
                        place.insert();
                    }
                    room
                }
            }
        } else {
            match self.one {
                Some(one) if one == v => true,
                Some(one) => {
                    let room = b.admit(1);
                    if room {
                        let mut set = hashbrown::HashSet::with_hasher(Default::default());
                        set.insert(one);
                        set.insert(v);
                        self.one = None;
                        self.set = Some(Box::new(set));
                    }
                    room
                }
                None => {
                    let room = b.admit(0);
                    if room {
                        self.one = Some(v);
                    }
                    room
                }
            }
        };
        self.saturated = !taken;
    }

    pub(super) fn n(&self) -> usize {
        usize::from(self.one.is_some()) + self.set.as_ref().map_or(0, |s| s.len())
    }

    /// The values in order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &T> {
        let mut v: Vec<&T> = self
            .one
            .iter()
            .chain(self.set.iter().flat_map(|s| s.iter()))
            .collect();
        v.sort_unstable();
        v.into_iter()
    }

    /// `12` or `at least 1024`.
    pub(super) fn text(&self) -> String {
        if self.saturated {
            format!("at least {}", self.n())
        } else {
            self.n().to_string()
        }
    }
}

/// Events per one-second bucket of capture time, tracked as they stream by: the busiest bucket.
/// Events out of time order start a new bucket, so the peak is never overstated.
#[derive(Debug, Clone, Copy)]
pub(super) struct Peak {
    pub(super) cur_sec: i64,
    pub(super) cur_n: u64,
    pub(super) best_sec: i64,
    pub(super) best_n: u64,
}

impl Peak {
    pub(super) fn new(sec: i64) -> Self {
        Peak {
            cur_sec: sec,
            cur_n: 0,
            best_sec: sec,
            best_n: 0,
        }
    }

    pub(super) fn add(&mut self, sec: i64) {
        if sec != self.cur_sec {
            self.cur_sec = sec;
            self.cur_n = 0;
        }
        self.cur_n = self.cur_n.saturating_add(1);
        // Ties go to the earlier second, whatever the order of arrival.
        if self.cur_n > self.best_n || (self.cur_n == self.best_n && sec < self.best_sec) {
            self.best_n = self.cur_n;
            self.best_sec = sec;
        }
    }
}

/// Events of one kind for one key (endpoint, port or peer).
#[derive(Debug, Clone)]
pub(super) struct Group {
    pub(super) count: u64,
    pub(super) first: Timestamp,
    pub(super) last: Timestamp,
    pub(super) peak: Peak,
    /// IPs of the other side.
    pub(super) peers: Distinct<IpAddr>,
    /// Ports of the other side.
    pub(super) ports: Distinct<u16>,
    /// SYNs sent (unanswered attempts).
    pub(super) syns: u64,
    /// RSTs sent by the connection's originator.
    pub(super) from_orig: u64,
    /// The earliest event's evidence (endpoint groups only).
    pub(super) sample: Option<Box<(Timestamp, Sample)>>,
}

impl Group {
    pub(super) fn new(ts: Timestamp) -> Self {
        Group {
            count: 0,
            first: ts,
            last: ts,
            peak: Peak::new(ts.secs()),
            peers: Distinct::new(),
            ports: Distinct::new(),
            syns: 0,
            from_orig: 0,
            sample: None,
        }
    }

    /// One event at `ts` (whose second is `sec`, computed once for all the groups it goes to).
    pub(super) fn record(&mut self, ts: Timestamp, sec: i64, other: Endpoint, b: &mut Budget) {
        self.count = self.count.saturating_add(1);
        self.first = self.first.min(ts);
        self.last = self.last.max(ts);
        self.peak.add(sec);
        self.peers.insert(other.ip, b);
        self.ports.insert(other.port, b);
    }

    /// Keeps the earliest event's evidence (made only if it is kept).
    pub(super) fn sample(&mut self, ts: Timestamp, evidence: impl FnOnce() -> Sample) {
        if self.sample.as_ref().is_none_or(|s| ts < s.0) {
            self.sample = Some(Box::new((ts, evidence())));
        }
    }

    /// Events per second over the active period: (count − 1) intervals over last − first, so
    /// ten attempts 500 ms apart (4.5 s) are 2.0/s. None for one event or a zero-length period.
    pub(super) fn rate(&self) -> Option<f64> {
        rate(self.count, self.first, self.last)
    }
}

/// Groups by key, with the last key used remembered: in a storm one endpoint, port and peer take
/// event after event, and each then costs a comparison instead of a lookup. Groups and their keys
/// live in vectors that a hash index points into; they are put in key order only when shown.
#[derive(Debug, Clone)]
pub(super) struct Groups<K> {
    pub(super) index: HashIndex<K, u32>,
    /// Each group's key, by group number.
    pub(super) keys: Vec<K>,
    pub(super) groups: Vec<Group>,
    pub(super) last: Option<(K, u32)>,
}

impl<K: Ord + Hash + Copy> Groups<K> {
    pub(super) fn new() -> Self {
        Groups::with_capacity(0)
    }

    /// Room for `cap` keys made at once, so that a table filling up to its cap never grows
    /// (no copies, no old and new tables side by side): what [`Limits::reserve_bytes`]
    /// counts. The vectors' pages are only touched as groups are added.
    pub(super) fn with_capacity(cap: usize) -> Self {
        Groups {
            index: HashIndex::with_capacity_and_hasher(cap, Default::default()),
            keys: Vec::with_capacity(cap),
            groups: Vec::with_capacity(cap),
            last: None,
        }
    }

    /// The group for `key`; a new one starts at `ts`.
    pub(super) fn entry(&mut self, key: K, ts: Timestamp) -> &mut Group {
        let i = match self.last {
            Some((k, i)) if k == key => i,
            _ => *self.index.entry(key).or_insert_with(|| {
                self.keys.push(key);
                self.groups.push(Group::new(ts));
                (self.groups.len() - 1) as u32
            }),
        };
        self.last = Some((key, i));
        &mut self.groups[i as usize]
    }

    /// [`Groups::entry`], unless `key` is new and the table already holds `cap` keys (then
    /// `dropped` counts the event).
    pub(super) fn slot(
        &mut self,
        key: K,
        ts: Timestamp,
        cap: usize,
        dropped: &mut u64,
    ) -> Option<&mut Group> {
        let last = matches!(self.last, Some((k, _)) if k == key);
        if !last && self.index.len() >= cap && !self.index.contains_key(&key) {
            *dropped += 1;
            return None;
        }
        Some(self.entry(key, ts))
    }

    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    pub(super) fn get(&self, key: &K) -> Option<&Group> {
        self.index.get(key).map(|&i| &self.groups[i as usize])
    }

    /// Groups in the order they were made (for what does not depend on the order).
    pub(super) fn entries(&self) -> impl Iterator<Item = (&K, &Group)> {
        self.keys.iter().zip(&self.groups)
    }

    /// Groups in key order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&K, &Group)> {
        self.iter_where(|_| true)
    }

    /// The groups whose key passes `keep`, in key order. Only those are sorted: a rule asks
    /// for one kind, and the others can be tens of thousands of one-off keys.
    pub(super) fn iter_where(
        &self,
        keep: impl Fn(&K) -> bool,
    ) -> impl Iterator<Item = (&K, &Group)> {
        let mut order: Vec<(&K, &Group)> = self.entries().filter(|(k, _)| keep(k)).collect();
        order.sort_unstable_by(|a, b| a.0.cmp(b.0));
        order.into_iter()
    }

    /// The `n` groups passing `keep` with the most events, ties in key order, largest first.
    pub(super) fn top_where(&self, keep: impl Fn(&K) -> bool, n: usize) -> Vec<(&K, &Group)> {
        let v: Vec<(&K, &Group)> = self.entries().filter(|(k, _)| keep(k)).collect();
        top(v, n, |a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)))
    }
}

/// The first `n` of `v` in the order `cmp`, which must be total (then the result does not
/// depend on `v`'s order): a selection, then a sort of only those `n`.
pub(super) fn top<T>(
    mut v: Vec<T>,
    n: usize,
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering,
) -> Vec<T> {
    if n == 0 {
        return Vec::new();
    }
    if v.len() > n {
        v.select_nth_unstable_by(n - 1, &cmp);
        v.truncate(n);
    }
    v.sort_unstable_by(cmp);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(secs: i64, micros: u64) -> Timestamp {
        Timestamp::from_parts(secs, micros, 6)
    }

    #[test]
    fn peak_counts_the_busiest_second() {
        let mut p = Peak::new(10);
        for s in [10, 10, 11, 11, 11, 12, 5] {
            p.add(s);
        }
        assert_eq!((p.best_sec, p.best_n), (11, 3));
    }

    #[test]
    fn distinct_sets_respect_per_set_cap_and_budget() {
        let mut b = Budget {
            left: 5,
            per_set: 3,
            refused: 0,
        };
        let mut d = Distinct::new();
        for v in 0..10u16 {
            d.insert(v, &mut b);
        }
        assert_eq!((d.n(), d.saturated, b.left), (3, true, 2));
        assert_eq!(d.text(), "at least 3");
        let mut e = Distinct::new();
        for v in 0..3u16 {
            e.insert(v, &mut b);
        }
        assert_eq!((e.n(), e.saturated, b.refused), (2, true, 1));
    }

    #[test]
    fn top_picks_what_a_full_sort_would() {
        // Many ties on the count, as in a grouping of one-off endpoints: the key decides.
        let v: Vec<(u64, u32)> = (0..500u32)
            .map(|i| (u64::from(i % 7), i * 37 % 500))
            .collect();
        let by = |a: &(u64, u32), b: &(u64, u32)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
        let mut sorted = v.clone();
        sorted.sort_by(by);
        for n in [0, 1, 3, 5, 72, 499, 500, 501] {
            let want: Vec<_> = sorted.iter().copied().take(n).collect();
            assert_eq!(top(v.clone(), n, by), want, "n = {n}");
        }
        // The groups' own: largest first, ties in key order, only the kept ones.
        let mut g: Groups<u16> = Groups::new();
        for (k, n) in [(9u16, 2), (4, 5), (7, 2), (1, 1), (3, 5)] {
            g.entry(k, ts(1, 0)).count = n;
        }
        let got: Vec<(u16, u64)> = g
            .top_where(|k| *k != 3, 3)
            .into_iter()
            .map(|(k, grp)| (*k, grp.count))
            .collect();
        assert_eq!(got, vec![(4, 5), (7, 2), (9, 2)]);
        let kept: Vec<u16> = g.iter_where(|k| k % 2 == 1).map(|(k, _)| *k).collect();
        assert_eq!(kept, vec![1, 3, 7, 9]);
    }

    #[test]
    fn groups_find_the_remembered_and_the_other_keys_alike() {
        let mut g: Groups<u16> = Groups::new();
        let mut dropped = 0;
        // A, B, A, A, C (table full at two keys), B: the remembered key changes under way.
        for (k, sec) in [(1u16, 5), (2, 6), (1, 7), (1, 8), (3, 9), (2, 10)] {
            if let Some(grp) = g.slot(k, ts(sec, 0), 2, &mut dropped) {
                grp.count += 1;
                grp.last = ts(sec, 0);
            }
        }
        assert_eq!(dropped, 1);
        let seen: Vec<(u16, u64, i64)> = g
            .iter()
            .map(|(k, grp)| (*k, grp.count, grp.last.secs()))
            .collect();
        assert_eq!(seen, vec![(1, 3, 8), (2, 2, 10)]);
        assert_eq!(g.get(&2).map(|grp| grp.first.secs()), Some(6));
        assert!(g.get(&3).is_none());
        // Unbounded: a new key always gets a group.
        g.entry(3, ts(11, 0)).count += 1;
        assert_eq!(g.len(), 3);
    }
}
