//! The flow table's record storage: a vector of records that grows in fixed chunks instead of
//! by doubling and copying. The records are cache-line aligned, and the system allocator moves
//! an over-aligned block by allocating a new one and copying (it cannot `mremap` it): a
//! doubling vector of 500,000 records would briefly hold two copies, 128 MB more than the
//! connection cap was sized for. Chunks are never moved, so memory follows the number of
//! records ever held, and a record's address is stable.

use std::ops::{Index, IndexMut};

/// Records per chunk (256 KiB of 256-byte records): small next to the table, large enough
/// that the chunk list stays a few kilobytes.
const CHUNK: usize = 1024;

pub(super) struct Slab<T> {
    /// Chunks made with room for `CHUNK` records and filled in order (all but the last are
    /// full), so that a record is written once, when it is pushed: filling a new chunk ahead
    /// with copies wrote every record twice (25 MB more on the small-packet benchmark, whose
    /// closing connections all wait out their linger), and pushed a quarter of the tracking
    /// thread's cache out at once.
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Slab<T> {
    pub fn new() -> Self {
        Slab {
            chunks: Vec::new(),
            len: 0,
        }
    }

    /// Appends `value`; returns its index.
    pub fn push(&mut self, value: T) -> usize {
        let i = self.len;
        if i / CHUNK == self.chunks.len() {
            // Its pages are backed in one call before it is filled, not by a page fault each
            // (a chunk of connection records is 64 pages): the closing connections of a busy
            // capture take tens of megabytes. With the index's doubling, this halved the page
            // faults of the small-packet benchmark (16,200 a run; 8,100 to 9,400 after).
            let mut v = Vec::with_capacity(CHUNK);
            crate::mem::populate_write(v.spare_capacity_mut());
            self.chunks.push(v);
        }
        // Within the room the chunk was made with: no reallocation.
        self.chunks[i / CHUNK].push(value);
        self.len += 1;
        i
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<&T> {
        (i < self.len).then(|| &self.chunks[i / CHUNK][i % CHUNK])
    }

    #[inline]
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        (i < self.len).then(|| &mut self.chunks[i / CHUNK][i % CHUNK])
    }

    /// The records in order (the chunks hold exactly the records pushed).
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.chunks.iter_mut().flatten()
    }
}

impl<T> Index<usize> for Slab<T> {
    type Output = T;

    #[inline]
    fn index(&self, i: usize) -> &T {
        assert!(
            i < self.len,
            "slab index {i} out of range ({} records)",
            self.len
        );
        &self.chunks[i / CHUNK][i % CHUNK]
    }
}

impl<T> IndexMut<usize> for Slab<T> {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut T {
        assert!(
            i < self.len,
            "slab index {i} out of range ({} records)",
            self.len
        );
        &mut self.chunks[i / CHUNK][i % CHUNK]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_stay_put_across_chunks() {
        let mut s = Slab::new();
        for i in 0..(3 * CHUNK + 5) {
            assert_eq!(s.push(i), i);
        }
        assert_eq!(s[CHUNK - 1], CHUNK - 1);
        assert_eq!(s[CHUNK], CHUNK);
        s[2 * CHUNK + 1] = 7;
        assert_eq!(s.get(2 * CHUNK + 1), Some(&7));
        assert_eq!(s.get(3 * CHUNK + 5), None);
        assert_eq!(s.iter().count(), 3 * CHUNK + 5);
        assert_eq!(s.iter().nth(CHUNK + 2), Some(&(CHUNK + 2)));
        for v in s.iter_mut() {
            *v += 1;
        }
        assert_eq!(s.iter_mut().count(), 3 * CHUNK + 5);
        assert_eq!(s[3 * CHUNK + 4], 3 * CHUNK + 5);
    }
}
