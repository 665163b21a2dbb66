//! Memory hints the engine gives without making a system call itself: cache prefetches for the
//! records a few packets ahead, and backing a freshly grown table with pages in one call. Both
//! are hints — they change no memory the program can observe — so the engine stays pure while
//! the `unsafe` behind them stays in [`crate::sys`].

/// Starts loading the cache lines of `value`. See [`crate::sys::prefetch::prefetch`].
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    crate::sys::prefetch::prefetch(value);
}

/// Starts loading the first `len` bytes of `value`. See [`crate::sys::prefetch::prefetch_bytes`].
#[inline(always)]
pub fn prefetch_bytes<T>(value: &T, len: usize) {
    crate::sys::prefetch::prefetch_bytes(value, len);
}

/// Backs `bytes` with written pages in one call (a lost hint on kernels before 5.14). See
/// [`crate::sys::mmap::populate_write`].
pub fn populate_write<T>(bytes: &mut [T]) -> bool {
    crate::sys::mmap::populate_write(bytes)
}
