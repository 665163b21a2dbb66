//! A cache prefetch hint: asks the CPU to start loading memory that will be read soon, without
//! waiting for it. The connection tracker issues it for the records of segments a few places
//! ahead in a batch, so that their cache misses overlap instead of coming one after another.

/// Starts loading the cache lines of `value` into the cache. A hint only: it changes no
/// memory and never faults; on targets without the instruction it does nothing.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start = (value as *const T).cast::<i8>();
        let mut offset = 0;
        while offset < std::mem::size_of::<T>() {
            // SAFETY: `_mm_prefetch` needs SSE, which every x86_64 CPU has (it is part of the
            // target's baseline). The address is inside `value`, a live reference; a prefetch
            // does not access memory in the sense of the memory model and cannot fault.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset)) };
            offset += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// Starts loading the cache lines of the first `len` bytes of `value` (at most all of it): for
/// a record whose first lines are the ones about to be used.
#[inline(always)]
pub fn prefetch_bytes<T>(value: &T, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start = (value as *const T).cast::<i8>();
        let len = len.min(std::mem::size_of::<T>());
        let mut offset = 0;
        while offset < len {
            // SAFETY: as in `prefetch`: SSE is baseline on x86_64, the address is inside
            // `value` (offset < its size), and a prefetch cannot fault or change memory.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset)) };
            offset += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (value, len);
}
