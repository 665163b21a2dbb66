//! The report's groupings: events of one kind counted per key (the endpoint that resets, the
//! service port, the peer), each group with its time range, busiest second and distinct-peer
//! sets. Owns the memory bounds of that counting: a key cap per grouping, distinct sets with a
//! per-set cap and one shared budget. Rules read groups in key order (or the largest first) and
//! never see how they are stored.

use super::finding::{Sample, rate};
use crate::engine::slot_index::SlotIndex;
use crate::engine::track::Endpoint;
use crate::model::timestamp::Timestamp;
use std::borrow::Cow;
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
    fn admit(&mut self, n: usize) -> bool {
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

    /// Pays for the first value of a group's two sets (peers and ports), as [`Budget::admit`]
    /// would; false if a set takes no value at all.
    fn admit_first_values(&mut self) -> bool {
        self.admit(0) && self.admit(0)
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
    one: Option<T>,
    /// Boxed: most groups never need it, and a group is one of up to `max_keys`.
    set: Option<Box<hashbrown::HashSet<T, foldhash::fast::RandomState>>>,
    pub(super) saturated: bool,
}

impl<T: Ord + Hash + Copy> Distinct<T> {
    fn new() -> Self {
        Distinct {
            one: None,
            set: None,
            saturated: false,
        }
    }

    fn insert(&mut self, v: T, b: &mut Budget) {
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
}

/// Events per one-second bucket of capture time, tracked as they stream by: the busiest bucket.
/// Events out of time order start a new bucket, so the peak is never overstated. Counts are 32
/// bits (saturating): no capture holds four billion events in one second, and a group is one
/// of up to `max_keys`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Peak {
    cur_sec: i64,
    cur_n: u32,
    pub(super) best_sec: i64,
    pub(super) best_n: u32,
}

impl Peak {
    fn new(sec: i64) -> Self {
        Peak {
            cur_sec: sec,
            cur_n: 0,
            best_sec: sec,
            best_n: 0,
        }
    }

    fn add(&mut self, sec: i64) {
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

/// One event as a grouping records it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hit {
    pub(super) ts: Timestamp,
    /// The other side: its IP and port go to the group's distinct sets.
    pub(super) other: Endpoint,
    /// SYNs sent (an unanswered attempt; none for an RST).
    pub(super) syns: u32,
    /// An RST sent by the connection's originator.
    pub(super) from_orig: bool,
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
    fn new(ts: Timestamp) -> Self {
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

    /// The group a single stands for: its event recorded into a new group, whose distinct
    /// sets took their first values (paid for when the single was made).
    fn of_single(hit: &Hit, sample: Option<Sample>) -> Self {
        let mut g = Group::new(hit.ts);
        g.count = 1;
        g.peak.add(hit.ts.secs());
        g.peers.one = Some(hit.other.ip);
        g.ports.one = Some(hit.other.port);
        g.syns = u64::from(hit.syns);
        g.from_orig = u64::from(hit.from_orig);
        g.sample = sample.map(|s| Box::new((hit.ts, s)));
        g
    }

    /// One event (whose second is `sec`, computed once for all the groups it goes to).
    fn add(&mut self, hit: &Hit, sec: i64, b: &mut Budget) {
        self.count = self.count.saturating_add(1);
        self.first = self.first.min(hit.ts);
        self.last = self.last.max(hit.ts);
        self.peak.add(sec);
        self.peers.insert(hit.other.ip, b);
        self.ports.insert(hit.other.port, b);
        self.syns = self.syns.saturating_add(u64::from(hit.syns));
        self.from_orig = self.from_orig.saturating_add(u64::from(hit.from_orig));
    }

    /// Keeps the earliest event's evidence (made only if it would be kept).
    fn sample(&mut self, ts: Timestamp, evidence: impl FnOnce() -> Option<Sample>) {
        if self.sample.as_ref().is_none_or(|s| ts < s.0)
            && let Some(e) = evidence()
        {
            self.sample = Some(Box::new((ts, e)));
        }
    }

    /// Events per second over the active period: (count − 1) intervals over last − first, so
    /// ten attempts 500 ms apart (4.5 s) are 2.0/s. None for one event or a zero-length period.
    pub(super) fn rate(&self) -> Option<f64> {
        rate(self.count, self.first, self.last)
    }
}

/// A key's only event so far. Most keys of the endpoint and peer groupings are seen once (a
/// client port that reset once, a scanned port, a spoofed source): as a [`Group`] each would
/// write a few hundred bytes (the group, its key, a boxed sample) that no rule reads again. A
/// single is its event in a quarter of that (its sample, if kept, lies beside it); the key's
/// second event makes it a group, and rules see it as one.
#[derive(Debug, Clone)]
pub(super) struct Single<K> {
    key: K,
    /// The event's time, as nanoseconds and digits (a [`Timestamp`] would pad the record).
    nanos: i64,
    other: Endpoint,
    syns: u32,
    digits: u8,
    from_orig: bool,
    /// Made into a group (only its place in the vector remains).
    promoted: bool,
}

impl<K> Single<K> {
    fn hit(&self) -> Hit {
        Hit {
            ts: Timestamp::from_nanos(self.nanos, self.digits),
            other: self.other,
            syns: self.syns,
            from_orig: self.from_orig,
        }
    }
}

/// Index values with this bit set are single numbers; the others are group numbers.
const SINGLE: u32 = 1 << 31;

/// Groups by key, with the last key used remembered: in a storm one endpoint, port and peer take
/// event after event, and each then costs a comparison instead of a lookup. Groups (and
/// singles, in groupings of many one-off keys) live in vectors that an index of numbers points
/// into ([`SlotIndex`]: where a key's bucket is follows from its hash, so that the report can
/// prefetch it for an event a few places ahead); they are put in key order only when shown.
#[derive(Debug, Clone)]
pub(super) struct Groups<K> {
    /// Group numbers, and single numbers with [`SINGLE`] set, by their key's hash: a word per
    /// key, at a place that follows from the hash (see [`Groups::prefetch`]).
    index: SlotIndex,
    /// Seeded per table (see [`HashIndex`]).
    hasher: foldhash::fast::RandomState,
    /// Each group's key, by group number.
    keys: Vec<K>,
    groups: Vec<Group>,
    /// Whether a new key starts as a single.
    with_singles: bool,
    singles: Vec<Single<K>>,
    /// Each single's sample, by single number, in groupings that keep samples (taken when the
    /// single becomes a group).
    samples: Option<Vec<Option<Sample>>>,
    /// Keys at most: a new key beyond is counted as dropped.
    cap: usize,
    last: Option<(K, u32)>,
}

/// How a grouping keeps its keys.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Keys {
    /// Every key a group from its first event (few keys, or keys that usually repeat).
    Groups,
    /// A key seen once as a single.
    Singles,
    /// Singles, and each key's earliest evidence.
    SinglesWithSamples,
}

impl<K: Ord + Hash + Copy> Groups<K> {
    /// Without a key cap (for keys of a small closed set, such as kinds).
    pub(super) fn unbounded() -> Self {
        Groups::with_cap(usize::MAX, 0, Keys::Groups)
    }

    /// At most `cap` keys, with room for them made at once so that a table filling up to its
    /// cap never grows (no copies, no old and new tables side by side): what
    /// [`super::Limits::reserve_bytes`] counts. The vectors' pages are only touched as keys are
    /// added.
    pub(super) fn bounded(cap: usize, keys: Keys) -> Self {
        Groups::with_cap(cap, cap, keys)
    }

    fn with_cap(cap: usize, room: usize, keys: Keys) -> Self {
        let with_singles = keys != Keys::Groups;
        let singles = if with_singles { room } else { 0 };
        Groups {
            index: SlotIndex::with_capacity(room),
            hasher: Default::default(),
            keys: Vec::with_capacity(room),
            groups: Vec::with_capacity(room),
            with_singles,
            singles: Vec::with_capacity(singles),
            samples: (keys == Keys::SinglesWithSamples).then(|| Vec::with_capacity(singles)),
            // Numbers must leave the SINGLE bit free, and the index stores a number plus one in
            // 32 bits: the last single number is never given.
            cap: cap.min(SINGLE as usize - 1),
            last: None,
        }
    }

    /// Records `hit` (whose second, `hit.ts.secs()`, is `sec`) under `key`. A new key when the
    /// grouping already holds its cap is not recorded: `dropped` counts it.
    pub(super) fn add(&mut self, key: K, hit: &Hit, sec: i64, dropped: &mut u64, b: &mut Budget) {
        self.add_sampled(key, hit, sec, dropped, b, || None);
    }

    /// [`Groups::add`], where `sample` makes the event's evidence: called only when the
    /// grouping keeps samples and the event is its key's earliest so far.
    pub(super) fn add_sampled(
        &mut self,
        key: K,
        hit: &Hit,
        sec: i64,
        dropped: &mut u64,
        b: &mut Budget,
        sample: impl FnOnce() -> Option<Sample>,
    ) {
        debug_assert_eq!(sec, hit.ts.secs());
        let v = match self.last {
            Some((k, v)) if k == key => v,
            _ => {
                let h = self.hash(&key);
                match self.find_hashed(&key, h) {
                    Some(v) => v,
                    None => {
                        if self.index.len() >= self.cap {
                            *dropped += 1;
                            return;
                        }
                        if self.with_singles && b.admit_first_values() {
                            self.singles.push(Single {
                                key,
                                nanos: hit.ts.nanos(),
                                other: hit.other,
                                syns: hit.syns,
                                digits: hit.ts.digits(),
                                from_orig: hit.from_orig,
                                promoted: false,
                            });
                            if let Some(samples) = &mut self.samples {
                                samples.push(sample());
                            }
                            let v = SINGLE | (self.singles.len() - 1) as u32;
                            self.index.insert(h, v);
                            self.last = Some((key, v));
                            return;
                        }
                        // A group from the first event (also when no set takes even one
                        // value: a single could not say so); the event is recorded below.
                        self.keys.push(key);
                        self.groups.push(Group::new(hit.ts));
                        let v = (self.groups.len() - 1) as u32;
                        self.index.insert(h, v);
                        v
                    }
                }
            }
        };
        let v = if v & SINGLE != 0 {
            self.promote(key, (v & !SINGLE) as usize)
        } else {
            v
        };
        self.last = Some((key, v));
        let g = &mut self.groups[v as usize];
        g.add(hit, sec, b);
        if self.samples.is_some() {
            g.sample(hit.ts, sample);
        }
    }

    /// Makes single `j` (of `key`) a group, and returns its group number.
    #[cold]
    fn promote(&mut self, key: K, j: usize) -> u32 {
        let s = &mut self.singles[j];
        debug_assert!(s.key == key && !s.promoted);
        s.promoted = true;
        let sample = self.samples.as_mut().and_then(|v| v[j].take());
        let g = Group::of_single(&s.hit(), sample);
        self.keys.push(key);
        self.groups.push(g);
        let v = (self.groups.len() - 1) as u32;
        let replaced = self.index.replace(self.hash(&key), SINGLE | j as u32, v);
        debug_assert!(replaced, "a single is in the index");
        v
    }

    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    fn hash(&self, key: &K) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(key)
    }

    /// The key a number in the index stands for.
    fn key_of(&self, v: u32) -> Option<&K> {
        if v & SINGLE != 0 {
            self.singles.get((v & !SINGLE) as usize).map(|s| &s.key)
        } else {
            self.keys.get(v as usize)
        }
    }

    /// The number of `key` (whose hash is `h`), if it has one.
    #[inline]
    fn find_hashed(&self, key: &K, h: u64) -> Option<u32> {
        self.index.find(h, |v| self.key_of(v) == Some(key))
    }

    /// Starts loading the index bucket where the lookup of `key` begins: the first of two
    /// prefetches for an event some places ahead of the one being added. Changes nothing.
    #[inline]
    pub(super) fn prefetch(&self, key: &K) {
        crate::mem::prefetch_bytes(self.index.first_bucket(self.hash(key)), 8);
    }

    /// Starts loading the group or single of `key` (its bucket should be in the cache by now,
    /// from [`Groups::prefetch`]): the second prefetch. Changes nothing.
    #[inline]
    pub(super) fn prefetch_slot(&self, key: &K) {
        // The first entry whose hash bits match is almost surely the key's: it is prefetched,
        // not compared.
        self.index.find(self.hash(key), |v| {
            if v & SINGLE != 0 {
                if let Some(s) = self.singles.get((v & !SINGLE) as usize) {
                    crate::mem::prefetch_bytes(s, 64);
                }
            } else if let Some(g) = self.groups.get(v as usize) {
                crate::mem::prefetch_bytes(g, std::mem::size_of::<Group>());
            }
            true
        });
    }

    fn slot(&self, v: u32) -> Slot<'_, K> {
        if v & SINGLE != 0 {
            let j = (v & !SINGLE) as usize;
            let sample = self.samples.as_ref().and_then(|v| v[j].as_ref());
            Slot::Single(&self.singles[j], sample)
        } else {
            Slot::Group(&self.groups[v as usize])
        }
    }

    /// The group of `key`, where it lies.
    pub(super) fn find(&self, key: &K) -> Option<Slot<'_, K>> {
        self.find_hashed(key, self.hash(key)).map(|v| self.slot(v))
    }

    pub(super) fn get(&self, key: &K) -> Option<Cow<'_, Group>> {
        self.find(key).map(Slot::group)
    }

    /// Groups and singles in the order they were made (for what does not depend on the order),
    /// read where they lie.
    pub(super) fn entries(&self) -> impl Iterator<Item = (&K, Slot<'_, K>)> {
        let groups = self
            .keys
            .iter()
            .zip(&self.groups)
            .map(|(k, g)| (k, Slot::Group(g)));
        let singles = (0..self.singles.len())
            .filter(|&j| !self.singles[j].promoted)
            .map(|j| (&self.singles[j].key, self.slot(SINGLE | j as u32)));
        groups.chain(singles)
    }

    /// Groups in key order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&K, Cow<'_, Group>)> {
        self.iter_where(|_| true)
    }

    /// The groups whose key passes `keep`, in key order. Only those are sorted (and made from
    /// singles): a rule asks for one kind, and the others can be tens of thousands of one-off
    /// keys.
    pub(super) fn iter_where(
        &self,
        keep: impl Fn(&K) -> bool,
    ) -> impl Iterator<Item = (&K, Cow<'_, Group>)> {
        let mut order: Vec<(&K, Slot<'_, K>)> = self.entries().filter(|(k, _)| keep(k)).collect();
        order.sort_unstable_by(|a, b| a.0.cmp(b.0));
        order.into_iter().map(|(k, s)| (k, s.group()))
    }

    /// The `n` groups passing `keep` with the most events, ties in key order, largest first.
    pub(super) fn top_where(
        &self,
        keep: impl Fn(&K) -> bool,
        n: usize,
    ) -> Vec<(&K, Cow<'_, Group>)> {
        let v: Vec<(&K, Slot<'_, K>)> = self.entries().filter(|(k, _)| keep(k)).collect();
        top(v, n, |a, b| {
            b.1.count().cmp(&a.1.count()).then(a.0.cmp(b.0))
        })
        .into_iter()
        .map(|(k, s)| (k, s.group()))
        .collect()
    }
}

/// A group where it lies: read without making a single into a group, for rules that look at
/// every key and pass most of them over.
#[derive(Debug)]
pub(super) enum Slot<'a, K> {
    Group(&'a Group),
    /// With its sample, if the grouping keeps them.
    Single(&'a Single<K>, Option<&'a Sample>),
}

impl<K> Clone for Slot<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Slot<'_, K> {}

impl<'a, K> Slot<'a, K> {
    pub(super) fn count(self) -> u64 {
        match self {
            Slot::Group(g) => g.count,
            Slot::Single(..) => 1,
        }
    }

    pub(super) fn peak(self) -> Peak {
        match self {
            Slot::Group(g) => g.peak,
            Slot::Single(s, _) => {
                let sec = s.hit().ts.secs();
                let mut p = Peak::new(sec);
                p.add(sec);
                p
            }
        }
    }

    /// Distinct ports of the other side.
    pub(super) fn ports(self) -> usize {
        match self {
            Slot::Group(g) => g.ports.n(),
            Slot::Single(..) => 1,
        }
    }

    /// The group, as rules read it.
    pub(super) fn group(self) -> Cow<'a, Group> {
        match self {
            Slot::Group(g) => Cow::Borrowed(g),
            Slot::Single(s, sample) => Cow::Owned(Group::of_single(&s.hit(), sample.cloned())),
        }
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
    use std::collections::BTreeMap;

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
        let mut e = Distinct::new();
        for v in 0..3u16 {
            e.insert(v, &mut b);
        }
        assert_eq!((e.n(), e.saturated, b.refused), (2, true, 1));
    }

    fn budget(left: usize, per_set: usize) -> Budget {
        Budget {
            left,
            per_set,
            refused: 0,
        }
    }

    fn hit(sec: i64, ip: u8, port: u16) -> Hit {
        Hit {
            ts: ts(sec, 0),
            other: Endpoint {
                ip: IpAddr::from([10, 0, 0, ip]),
                port,
            },
            syns: 0,
            from_orig: false,
        }
    }

    /// `(key, events)`: each key's events one second apart from second 1.
    fn grouped(events: &[(u16, u64)], cap: usize) -> (Groups<u16>, u64) {
        let mut g = Groups::bounded(cap, Keys::Singles);
        let mut b = budget(1000, 10);
        let mut dropped = 0;
        for &(k, n) in events {
            for i in 0..n {
                let sec = 1 + i as i64;
                g.add(k, &hit(sec, 1, 1), sec, &mut dropped, &mut b);
            }
        }
        (g, dropped)
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
        // The groups' own: largest first, ties in key order, only the kept ones; keys seen
        // once (singles) rank with the groups.
        let (g, dropped) = grouped(&[(9, 2), (4, 5), (7, 2), (1, 1), (3, 5), (8, 1)], 100);
        assert_eq!(dropped, 0);
        let got: Vec<(u16, u64)> = g
            .top_where(|k| *k != 3, 3)
            .into_iter()
            .map(|(k, grp)| (*k, grp.count))
            .collect();
        assert_eq!(got, vec![(4, 5), (7, 2), (9, 2)]);
        let got: Vec<(u16, u64)> = g
            .top_where(|k| *k < 4, 5)
            .into_iter()
            .map(|(k, grp)| (*k, grp.count))
            .collect();
        assert_eq!(got, vec![(3, 5), (1, 1)]);
        let kept: Vec<u16> = g.iter_where(|k| k % 2 == 1).map(|(k, _)| *k).collect();
        assert_eq!(kept, vec![1, 3, 7, 9]);
        let all: Vec<u16> = g.iter().map(|(k, _)| *k).collect();
        assert_eq!(all, vec![1, 3, 4, 7, 8, 9]);
        assert_eq!(g.entries().count(), 6);
    }

    #[test]
    fn groups_find_the_remembered_and_the_other_keys_alike() {
        let mut g: Groups<u16> = Groups::bounded(2, Keys::Singles);
        let mut b = budget(1000, 10);
        let mut dropped = 0;
        // A, B, A, A, C (table full at two keys), B: the remembered key changes under way,
        // and B is a single until its second event.
        for (k, sec) in [(1u16, 5), (2, 6), (1, 7), (1, 8), (3, 9), (2, 10)] {
            g.add(k, &hit(sec, 1, 1), sec, &mut dropped, &mut b);
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
        let mut u: Groups<u16> = Groups::unbounded();
        for k in 0..300 {
            u.add(k, &hit(1, 1, 1), 1, &mut dropped, &mut b);
        }
        assert_eq!((u.len(), dropped), (300, 1));
    }

    /// A small deterministic generator.
    fn next(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    /// What a rule reads of a group, in one comparable value.
    fn seen(g: &Group) -> String {
        let peers: Vec<&IpAddr> = g.peers.iter().collect();
        let ports: Vec<&u16> = g.ports.iter().collect();
        format!(
            "{} {:?}-{:?} peak {}x{} peers {peers:?}{} ports {ports:?}{} syns {} orig {} sample {:?}",
            g.count,
            g.first,
            g.last,
            g.peak.best_n,
            g.peak.best_sec,
            g.peers.saturated,
            g.ports.saturated,
            g.syns,
            g.from_orig,
            g.sample.as_deref().map(|(t, s)| (t, format!("{s:?}"))),
        )
    }

    #[test]
    fn singles_read_and_grow_exactly_like_groups() {
        use crate::engine::track::Evidence;
        // Against a plain map of groups (every key a group from its first event), over event
        // streams where most keys are seen once, some twice, a few often; times go back now and
        // then (an earlier event must take the sample); the distinct budget runs out under way;
        // and with sets that take no value at all (then no single can stand for a group).
        let modes = [Keys::Groups, Keys::Singles, Keys::SinglesWithSamples];
        for (mode, (per_set, left)) in modes
            .into_iter()
            .flat_map(|m| [(4, 10_000), (3, 60), (1, 5), (0, 100)].map(|l| (m, l)))
        {
            let mut x = 0x2545_f491_4f6c_dd1d_u64 ^ per_set as u64;
            let mut g: Groups<u16> = Groups::bounded(1000, mode);
            let mut gb = budget(left, per_set);
            let mut plain: BTreeMap<u16, Group> = BTreeMap::new();
            let mut pb = budget(left, per_set);
            let mut dropped = 0;
            for i in 0..3000u64 {
                let r = next(&mut x);
                let key = match r % 10 {
                    0..=5 => 100 + (i as u16 % 900),
                    6 | 7 => (r >> 8) as u16 % 100,
                    _ => (r >> 8) as u16 % 4,
                };
                let sec = (i / 50) as i64 - i64::from(r.is_multiple_of(17));
                let mut h = hit(sec, (r >> 20) as u8 % 8, (r >> 24) as u16 % 6);
                h.ts = Timestamp::from_nanos(
                    sec * 1_000_000_000 + (r >> 34) as i64 % 1_000_000_000,
                    9,
                );
                h.syns = (r >> 40) as u32 % 3;
                h.from_orig = r & 1 << 50 != 0;
                let ms = (r >> 52) as i64;
                let sample = || Some(Sample::Rst(Evidence::AfterFin { ms }));
                g.add_sampled(key, &h, sec, &mut dropped, &mut gb, sample);
                let p = plain.entry(key).or_insert_with(|| Group::new(h.ts));
                p.add(&h, sec, &mut pb);
                if mode == Keys::SinglesWithSamples {
                    p.sample(h.ts, sample);
                }
            }
            let what = format!("{mode:?}, per_set {per_set}");
            assert_eq!(dropped, 0);
            assert_eq!(
                (gb.left, gb.refused),
                (pb.left, pb.refused),
                "budget, {what}"
            );
            let got: Vec<(u16, String)> = g.iter().map(|(k, grp)| (*k, seen(&grp))).collect();
            let want: Vec<(u16, String)> = plain.iter().map(|(k, grp)| (*k, seen(grp))).collect();
            assert_eq!(got.len(), want.len(), "{what}");
            for (a, b) in got.iter().zip(&want) {
                assert_eq!(a, b, "{what}");
            }
            assert!(
                got.iter().any(|(_, s)| s.starts_with("1 ")),
                "some keys seen once"
            );
            for (k, grp) in &plain {
                let slot = g.find(k).expect("every key is found");
                assert_eq!(slot.count(), grp.count);
                assert_eq!(slot.ports(), grp.ports.n());
                let (p, q) = (slot.peak(), grp.peak);
                assert_eq!((p.best_sec, p.best_n), (q.best_sec, q.best_n));
            }
            let top: Vec<(u16, u64)> = g
                .top_where(|_| true, 50)
                .iter()
                .map(|(k, grp)| (**k, grp.count))
                .collect();
            let mut want: Vec<(u16, u64)> = plain.iter().map(|(k, grp)| (*k, grp.count)).collect();
            want.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            want.truncate(50);
            assert_eq!(top, want, "{what}");
        }
    }
}
