//! A hash index of slot numbers, which the flow table and the report's groupings share: an
//! open-addressing table with linear probing. Each bucket is one word: the low 32 bits of the
//! key's hash above the slot number. The bucket a hash starts at is a plain function of the
//! hash, so that the tracker (for a segment) and the report (for an event) can prefetch it
//! several places ahead before they look anything up (a general-purpose hash table hides where
//! its buckets are), and the stored bits are enough to move entries when the table grows or an
//! entry is removed, without hashing keys again. The keys are the caller's: it hashes them (with
//! a seed of its own, since they come from the capture) and compares them where 32 bits match.

/// Buckets of a new index.
const MIN_BUCKETS: usize = 1024;

/// At most this many eighths of the buckets are used: probe runs stay short, and every probe
/// ends at an empty bucket.
const MAX_LOAD_EIGHTHS: usize = 6;

/// Bytes the index needs per entry at worst: at the moment it doubles, the old table (full to
/// its load limit) and the new one (twice as many buckets) both exist.
pub(crate) const BYTES_PER_ENTRY: usize = 3 * std::mem::size_of::<u64>() * 8 / MAX_LOAD_EIGHTHS;

/// Buckets of an index made to hold `n` entries.
fn buckets_for(n: usize) -> usize {
    (n.saturating_mul(8) / MAX_LOAD_EIGHTHS + 1)
        .next_power_of_two()
        .max(MIN_BUCKETS)
}

/// Bytes of an index made to hold `n` entries ([`SlotIndex::with_capacity`]).
pub(crate) fn bytes_for(n: usize) -> usize {
    buckets_for(n) * std::mem::size_of::<u64>()
}

#[derive(Clone)]
pub(crate) struct SlotIndex {
    /// 0: empty; else the hash's low 32 bits in the high half and the slot number plus one in
    /// the low half.
    buckets: Vec<u64>,
    len: usize,
}

impl std::fmt::Debug for SlotIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotIndex")
            .field("len", &self.len)
            .field("buckets", &self.buckets.len())
            .finish()
    }
}

impl SlotIndex {
    pub fn new() -> Self {
        SlotIndex {
            buckets: vec![0; MIN_BUCKETS],
            len: 0,
        }
    }

    /// An index that holds `n` entries without growing.
    pub fn with_capacity(n: usize) -> Self {
        SlotIndex {
            buckets: vec![0; buckets_for(n)],
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    fn mask(&self) -> usize {
        self.buckets.len() - 1
    }

    fn entry(hash: u64, slot: u32) -> u64 {
        u64::from(hash as u32) << 32 | (u64::from(slot) + 1)
    }

    /// Where a probe for `hash` (or the stored entry `e`, whose high half is the same bits)
    /// starts.
    fn home(&self, hash_lo: u32) -> usize {
        hash_lo as usize & self.mask()
    }

    /// The bucket a lookup of `hash` reads first, to prefetch.
    pub fn first_bucket(&self, hash: u64) -> &u64 {
        &self.buckets[self.home(hash as u32)]
    }

    /// The first slot stored under `hash` for which `eq` holds. `eq` is called only for slots
    /// whose 32 stored hash bits match.
    #[inline]
    pub fn find(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        let tag = hash as u32;
        let mask = self.mask();
        let mut i = self.home(tag);
        loop {
            let e = self.buckets[i];
            if e == 0 {
                return None;
            }
            if (e >> 32) as u32 == tag {
                let slot = (e as u32).wrapping_sub(1);
                if eq(slot) {
                    return Some(slot);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// Adds `slot` under `hash` (the caller knows it is not there yet).
    pub fn insert(&mut self, hash: u64, slot: u32) {
        if (self.len + 1) * 8 > self.buckets.len() * MAX_LOAD_EIGHTHS {
            self.grow();
        }
        self.place(Self::entry(hash, slot));
        self.len += 1;
    }

    fn place(&mut self, e: u64) {
        let mask = self.mask();
        let mut i = self.home((e >> 32) as u32);
        while self.buckets[i] != 0 {
            i = (i + 1) & mask;
        }
        self.buckets[i] = e;
    }

    fn grow(&mut self) {
        let mut doubled = vec![0; self.buckets.len() * 2];
        // The entries land all over the new table: one call backs all of it with memory,
        // instead of a page fault at the first entry placed in each 4 KiB.
        crate::mem::populate_write(&mut doubled);
        let old = std::mem::replace(&mut self.buckets, doubled);
        for e in old.into_iter().filter(|&e| e != 0) {
            self.place(e);
        }
    }

    /// The bucket holding `slot` stored under `hash`, if it is there.
    fn bucket_of(&self, hash: u64, slot: u32) -> Option<usize> {
        let target = Self::entry(hash, slot);
        let mask = self.mask();
        let mut i = self.home(hash as u32);
        loop {
            match self.buckets[i] {
                0 => return None,
                e if e == target => return Some(i),
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// Stores `new` in place of `old` under `hash`; returns whether `old` was there.
    pub fn replace(&mut self, hash: u64, old: u32, new: u32) -> bool {
        let Some(i) = self.bucket_of(hash, old) else {
            return false;
        };
        self.buckets[i] = Self::entry(hash, new);
        true
    }

    /// Removes `slot` stored under `hash`; returns whether it was there. The entries after it
    /// in its probe run move back (no tombstones, so lookups never slow down with removals).
    pub fn remove(&mut self, hash: u64, slot: u32) -> bool {
        let Some(mut hole) = self.bucket_of(hash, slot) else {
            return false;
        };
        let mask = self.mask();
        let mut j = (hole + 1) & mask;
        loop {
            let e = self.buckets[j];
            if e == 0 {
                break;
            }
            // `e` may fill the hole if the hole is on its probe run: no farther from its home
            // than `j` is.
            let home = self.home((e >> 32) as u32);
            if j.wrapping_sub(home) & mask >= j.wrapping_sub(hole) & mask {
                self.buckets[hole] = e;
                hole = j;
            }
            j = (j + 1) & mask;
        }
        self.buckets[hole] = 0;
        self.len -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (the index must behave for any hash values).
    fn next(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    #[test]
    fn behaves_like_a_map_through_growth_and_removals() {
        let mut idx = SlotIndex::new();
        // (slot, hash); a fifth of the hashes have few distinct bits, so that probe runs are
        // long, wrap around the end of the table, and collide.
        let mut model: Vec<(u32, u64)> = Vec::new();
        let mut x = 0x9e37_79b9_7f4a_7c15;
        for step in 0..60_000u32 {
            let r = next(&mut x);
            if !r.is_multiple_of(3) || model.is_empty() {
                let hash = if r.is_multiple_of(5) { r & 0xff } else { r };
                idx.insert(hash, step);
                model.push((step, hash));
            } else {
                let (slot, hash) = model.swap_remove((r >> 8) as usize % model.len());
                assert!(idx.remove(hash, slot));
                assert!(!idx.remove(hash, slot));
                assert_eq!(idx.find(hash, |s| s == slot), None);
            }
            if step.is_multiple_of(2999) {
                assert_eq!(idx.len(), model.len());
                for &(slot, hash) in &model {
                    assert_eq!(idx.find(hash, |s| s == slot), Some(slot));
                }
            }
        }
        assert!(idx.buckets.len() > MIN_BUCKETS);
        let used = idx.buckets.iter().filter(|&&e| e != 0).count();
        assert_eq!(used, model.len());
        assert!(used * 8 <= idx.buckets.len() * MAX_LOAD_EIGHTHS);
    }

    #[test]
    fn replace_renumbers_in_place_and_capacity_is_room_without_growth() {
        let n = 5_000;
        let mut idx = SlotIndex::with_capacity(n);
        let buckets = idx.buckets.len();
        let mut x = 0x2545_f491_4f6c_dd1d;
        let hashes: Vec<u64> = (0..n).map(|_| next(&mut x) & 0xffff_ff0f).collect();
        for (slot, &h) in hashes.iter().enumerate() {
            idx.insert(h, slot as u32);
        }
        assert_eq!(
            idx.buckets.len(),
            buckets,
            "made for n entries, it never grew"
        );
        assert_eq!(bytes_for(n), buckets * 8);
        for (slot, &h) in hashes.iter().enumerate().step_by(3) {
            let new = (1 << 31) | slot as u32;
            assert!(idx.replace(h, slot as u32, new));
            assert!(!idx.replace(h, slot as u32, new), "the old number is gone");
        }
        for (slot, &h) in hashes.iter().enumerate() {
            let want = if slot % 3 == 0 {
                (1 << 31) | slot as u32
            } else {
                slot as u32
            };
            assert_eq!(idx.find(h, |s| s == want), Some(want));
            assert_eq!(idx.find(h, |s| s == want ^ (1 << 31)), None);
        }
        assert_eq!(idx.len(), n);
    }

    #[test]
    fn only_matching_hash_bits_reach_the_comparison() {
        let mut idx = SlotIndex::new();
        idx.insert(5, 1);
        idx.insert(5 + MIN_BUCKETS as u64, 2); // same home bucket, other bits
        let mut asked = Vec::new();
        assert_eq!(
            idx.find(5, |s| {
                asked.push(s);
                false
            }),
            None
        );
        assert_eq!(asked, vec![1]);
        assert_eq!(idx.find(5 + MIN_BUCKETS as u64, |_| true), Some(2));
        // The high 32 bits of a hash are not stored: they do not tell entries apart.
        assert_eq!(idx.find(5 | 1 << 40, |s| s == 1), Some(1));
    }
}
