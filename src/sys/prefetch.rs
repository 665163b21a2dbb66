//! Cache prefetch hints: ask the CPU to start loading memory that will be read soon, without
//! waiting for it. The tracking thread issues them for what the segments a few places ahead in
//! a batch will need (their records in the batch, their flow-index buckets, their connection
//! records), so that the cache misses overlap instead of coming one after another.

/// Starts loading the cache lines of `value` into the cache. A hint only: it changes no
/// memory and never faults; on targets without the instruction it does nothing.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    prefetch_bytes(value, std::mem::size_of::<T>());
}

/// Starts loading the cache lines of the first `len` bytes of `value` (at most all of it): for
/// a record whose first lines are the ones about to be used. A hint only, as [`prefetch`].
#[inline(always)]
pub fn prefetch_bytes<T>(value: &T, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start = (value as *const T).cast::<i8>();
        let len = len.min(std::mem::size_of::<T>());
        let mut offset = 0;
        while offset < len {
            // SAFETY: `_mm_prefetch` needs SSE, which every x86_64 CPU has (it is part of the
            // target's baseline). The address is inside `value` (offset < its size), a live
            // reference; a prefetch does not access memory in the sense of the memory model
            // and cannot fault.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset)) };
            offset += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (value, len);
}
