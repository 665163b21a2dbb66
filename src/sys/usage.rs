//! What the kernel counts of a process's use of resources.

/// `getrusage(who)`, or `None` if the kernel would not say.
pub(super) fn rusage(who: libc::c_int) -> Option<libc::rusage> {
    // SAFETY: all-zero is a valid `struct rusage`.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one `struct rusage` to the valid pointer it is given.
    (unsafe { libc::getrusage(who, &mut ru) } == 0).then_some(ru)
}

/// The largest peak resident set of the children waited for so far (`getrusage(RUSAGE_CHILDREN)`),
/// in bytes; `None` if the kernel would not say. How a test or a benchmark checks a run's memory
/// against its budget without a tool of its own.
pub fn children_peak_rss_bytes() -> Option<u64> {
    let ru = rusage(libc::RUSAGE_CHILDREN)?;
    // Linux gives ru_maxrss in KiB.
    u64::try_from(ru.ru_maxrss).ok().map(|kib| kib * 1024)
}
