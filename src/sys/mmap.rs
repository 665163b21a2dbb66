//! Read-only memory maps of capture files, and what happens when such a file shrinks under us.
//!
//! [`Mapping`] maps the first `len` bytes of a regular file (`PROT_READ`, `MAP_PRIVATE`,
//! `MADV_SEQUENTIAL`), derefs to `&[u8]` and unmaps on drop, so the capture readers can parse the
//! page cache in place instead of copying it with `read()`; [`Mapping::release`] gives back the
//! pages already read.
//!
//! **Shrinking files.** If someone truncates the file while it is mapped, the kernel removes the
//! pages past the new end from every mapping (the rest of the page holding the new end reads as
//! zeros), and touching a removed page raises SIGBUS, which would kill the process. The readers
//! check the file's length every few MiB (`crate::source::capture`), so this only happens when the file
//! shrinks inside the stretch being parsed. From the first mapping on, a SIGBUS handler is
//! installed. For a fault inside a live mapping it
//!
//! 1. records the offset of the faulting byte in that mapping's slot of a fixed, lock-free
//!    registry ([`Mapping::fault`] reads it back),
//! 2. maps anonymous zero pages over the mapping from the faulting page to its end (`MAP_FIXED`,
//!    through the raw `mmap` system call: no libc locks), and returns: the load is retried and
//!    reads zeros instead of crashing,
//!
//! so the reader that owns the mapping finds the fault at its next look at [`Mapping::fault`] and
//! reports one ordinary error line ("the file shrank…"), with everything before it printed and
//! the exit status 1. Only if step 2 fails (the kernel refuses the mapping) does the handler write
//! such a line itself, from the file name stored in the slot, with `write(2)`, and end the process
//! with `_exit(1)`. Any other SIGBUS (another address, or sent with `kill`) is passed on: the
//! handler puts back the disposition it found (Rust's own handler, or the default) and returns,
//! so the fault happens again (or the signal is raised again) and is handled as if we had never
//! been there; from then on no new mapping is made (callers fall back to `read()`).
//!
//! The handler uses only async-signal-safe operations: atomic loads and stores on statics, the raw
//! `mmap` and the `sigaction` and `raise` calls, `write(2)` and `_exit(2)`; it keeps `errno`.
//!
//! **What a mapping cannot promise.** A `&[u8]` promises that its bytes do not change while it is
//! borrowed. No process can stop another from *writing into* the middle of a file it has mapped
//! (appending is harmless: the mapping's length is fixed when it is made), so this module's
//! soundness rests on the same assumption as every `mmap`-based reader (`memmap2::Mmap::map` is
//! `unsafe` for exactly this reason): nobody rewrites a capture file in place while rsthound reads
//! it. Truncation, the realistic case (log rotation with `copytruncate`, a capture restarted into
//! the same name), is handled above. `read --no-mmap` reads with `read()` and needs no such
//! assumption.

use std::fs::File;
use std::io;
use std::ops::{Deref, Range};
use std::os::fd::AsRawFd;
use std::ptr::NonNull;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering, fence};

/// Mappings that can be live at once (one per file being read; `read` reads one at a time).
const SLOTS: usize = 16;
/// Bytes of the file's name kept for the handler's last-resort message.
const LABEL_MAX: usize = 200;
/// [`Slot::fault`] when nothing faulted.
const NO_FAULT: usize = usize::MAX;

/// One live mapping, as the signal handler sees it. Written only by the thread that owns the
/// mapping, under a sequence count (odd while being written) that the handler checks before and
/// after reading `start` and `len`, so it never acts on a half-written slot.
struct Slot {
    seq: AtomicUsize,
    start: AtomicUsize,
    /// 0 when the slot is free.
    len: AtomicUsize,
    /// Offset (in the mapping) of the lowest byte whose page was gone, or [`NO_FAULT`].
    fault: AtomicUsize,
    label_len: AtomicUsize,
    label: [AtomicU8; LABEL_MAX],
}

impl Slot {
    const fn new() -> Self {
        Slot {
            seq: AtomicUsize::new(0),
            start: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            fault: AtomicUsize::new(NO_FAULT),
            label_len: AtomicUsize::new(0),
            label: [const { AtomicU8::new(0) }; LABEL_MAX],
        }
    }

    /// Takes this slot for writing if it is free: the sequence count becomes odd.
    fn claim(&self) -> bool {
        let s = self.seq.load(Ordering::Acquire);
        if s % 2 == 1 || self.len.load(Ordering::Relaxed) != 0 {
            return false;
        }
        if self
            .seq
            .compare_exchange(s, s + 1, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        fence(Ordering::Release);
        true
    }

    /// Ends a write started by [`Slot::claim`] or [`Slot::clear`].
    fn publish(&self) {
        self.seq.fetch_add(1, Ordering::Release);
    }

    /// Frees the slot (the mapping's owner only).
    fn clear(&self) {
        self.seq.fetch_add(1, Ordering::AcqRel);
        fence(Ordering::Release);
        self.start.store(0, Ordering::Relaxed);
        self.len.store(0, Ordering::Relaxed);
        self.fault.store(NO_FAULT, Ordering::Relaxed);
        self.publish();
    }

    /// `(start, len)` if the slot holds a live mapping and was not being written meanwhile.
    fn read(&self) -> Option<(usize, usize)> {
        let s1 = self.seq.load(Ordering::Acquire);
        if s1 % 2 == 1 {
            return None;
        }
        let start = self.start.load(Ordering::Relaxed);
        let len = self.len.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        let s2 = self.seq.load(Ordering::Relaxed);
        (s1 == s2 && len != 0).then_some((start, len))
    }
}

static REGISTRY: [Slot; SLOTS] = [const { Slot::new() }; SLOTS];
/// The page size, read once before the handler is installed (`sysconf` is not async-signal-safe).
static PAGE: AtomicUsize = AtomicUsize::new(0);
/// The SIGBUS disposition we found, put back for faults that are not ours.
static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();
/// Set when the handler has handed a fault on to [`PREVIOUS`], and so is no longer installed.
static DISOWNED: AtomicBool = AtomicBool::new(false);

/// A read-only, private mapping of a file's first `len` bytes (see the module documentation).
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    slot: &'static Slot,
}

impl Mapping {
    /// Maps the first `len` bytes of `file` (a regular file at least that long). `label` names
    /// the file in the handler's last-resort message. Fails for `len == 0` (an empty mapping is
    /// not possible), for lengths beyond the address space, when the SIGBUS handler cannot be (or
    /// is no longer) installed, when 16 mappings are already live, and when the kernel refuses;
    /// callers then read the file with `read()` instead.
    pub fn map(file: &File, len: u64, label: &str) -> io::Result<Mapping> {
        let len = usize::try_from(len)
            .ok()
            .filter(|l| *l > 0 && *l <= isize::MAX as usize)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "cannot map this length"))?;
        install_handler()?;
        let slot = REGISTRY
            .iter()
            .find(|s| s.claim())
            .ok_or_else(|| io::Error::other("too many files mapped at once"))?;
        // SAFETY: a fresh mapping chosen by the kernel (no address hint, no MAP_FIXED), so it
        // cannot overlap any memory Rust knows about; `file` is an open descriptor, and `len`
        // is nonzero and at most isize::MAX.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            let e = io::Error::last_os_error();
            slot.publish();
            return Err(e);
        }
        slot.start.store(p as usize, Ordering::Relaxed);
        slot.len.store(len, Ordering::Relaxed);
        slot.fault.store(NO_FAULT, Ordering::Relaxed);
        let label = label.as_bytes();
        let n = label.len().min(LABEL_MAX);
        for (dst, b) in slot.label.iter().zip(&label[..n]) {
            dst.store(*b, Ordering::Relaxed);
        }
        slot.label_len.store(n, Ordering::Relaxed);
        slot.publish();
        // SAFETY: advice about a range we just mapped; MADV_SEQUENTIAL only tunes read-ahead and
        // reclaim (pages behind us go first) and never changes the contents. Failure is harmless
        // and ignored.
        unsafe { libc::madvise(p, len, libc::MADV_SEQUENTIAL) };
        Ok(Mapping {
            ptr: NonNull::new(p.cast()).expect("mmap never returns NULL on success"),
            len,
            slot,
        })
    }

    /// Offset of the first byte that turned out to be gone (the file shrank, or its page could
    /// not be read) since the mapping was made; those bytes, and all after them, now read as 0.
    #[inline]
    pub fn fault(&self) -> Option<u64> {
        let f = self.slot.fault.load(Ordering::Relaxed);
        (f != NO_FAULT).then_some(f as u64)
    }

    /// Lets the kernel take back the memory of `range` (clamped to the mapping, both ends rounded
    /// down to a 2 MiB boundary in memory so that no huge-page mapping is split): the pages stop
    /// counting in this process's resident set. Nothing is lost: the bytes read the same when
    /// touched again (from the page cache).
    pub fn release(&self, range: Range<usize>) {
        const ALIGN: usize = 2 << 20;
        let base = self.ptr.as_ptr() as usize;
        let down = |off: usize| ((base + off.min(self.len)) & !(ALIGN - 1)).max(base) - base;
        let (start, end) = (down(range.start), down(range.end));
        if end <= start {
            return;
        }
        // SAFETY: [start, end) is inside our mapping and page-aligned (2 MiB boundaries, or the
        // mapping's page-aligned start). MADV_DONTNEED on a
        // private file mapping we never write to only drops page-table entries: later loads
        // fault the same file pages back in (or zero pages where the handler replaced a vanished
        // tail, which read as they did before), so any `&[u8]` still borrowed keeps its bytes.
        unsafe {
            libc::madvise(
                self.ptr.as_ptr().add(start).cast(),
                end - start,
                libc::MADV_DONTNEED,
            )
        };
    }
}

/// Asks the CPU to start loading `bytes` into its caches (one prefetch per 64-byte line), so that
/// a parser reaching them later does not wait for memory. A hint only: it never faults, and lines
/// of pages not mapped in yet are skipped by the CPU. Does nothing on CPUs other than x86-64.
#[inline]
pub fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in bytes.chunks(64) {
        // SAFETY: PREFETCHT0 is part of SSE, which every x86-64 CPU has; a prefetch has no
        // architectural effect (it cannot fault or change memory), and the address is in bounds.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                line.as_ptr().cast(),
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// Asks the kernel to back the whole pages inside `bytes` with memory now, in one call
/// (`MADV_POPULATE_WRITE`, Linux 5.14), instead of one page fault per page as they are first
/// written: for memory about to be filled anyway (the tracker's record chunks, its index
/// when it doubles). A hint: returns whether the kernel did it; if not (an older kernel, no
/// memory to spare now), the pages fault in as usual when written.
pub fn populate_write<T>(bytes: &mut [T]) -> bool {
    let Some((lo, len)) = whole_pages(bytes) else {
        return true;
    };
    // SAFETY: [lo, lo + len) is page-aligned and inside `bytes`, memory we hold exclusively (the
    // `&mut`). MADV_POPULATE_WRITE faults its pages in as a write would, without writing: what
    // they hold does not change (and memory not yet initialized stays so, to Rust as well).
    unsafe { libc::madvise(lo as *mut libc::c_void, len, libc::MADV_POPULATE_WRITE) == 0 }
}

/// The start and length of the whole pages inside `bytes`, if there are any.
fn whole_pages<T>(bytes: &[T]) -> Option<(usize, usize)> {
    let page = page_size()?;
    let start = bytes.as_ptr() as usize;
    let end = start + std::mem::size_of_val(bytes);
    let (lo, hi) = (start.next_multiple_of(page), end & !(page - 1));
    (hi > lo).then(|| (lo, hi - lo))
}

/// The system's page size (a power of two), if it can be known.
fn page_size() -> Option<usize> {
    // SAFETY: sysconf takes an integer and returns one.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(page).ok().filter(|p| p.is_power_of_two())
}

/// How many of the whole pages inside `bytes` are in memory, and of how many (`mincore`); None
/// if the kernel cannot tell.
#[cfg(test)]
fn resident_pages<T>(bytes: &[T]) -> Option<(usize, usize)> {
    let Some((lo, len)) = whole_pages(bytes) else {
        return Some((0, 0));
    };
    let mut vec = vec![0u8; len / page_size()?];
    // SAFETY: the range is page-aligned and mapped (inside `bytes`); `vec` has one byte per page
    // of it, as mincore writes.
    let r = unsafe { libc::mincore(lo as *mut libc::c_void, len, vec.as_mut_ptr()) };
    (r == 0).then(|| (vec.iter().filter(|&&b| b & 1 != 0).count(), vec.len()))
}

/// Minor page faults of the calling thread so far (`getrusage(RUSAGE_THREAD)`), or 0 if unknown:
/// how a mapped reader tells a file mapped 2 MiB at a time from one mapped in 64 KiB pieces.
pub fn minor_faults() -> u64 {
    super::usage::rusage(libc::RUSAGE_THREAD)
        .and_then(|ru| u64::try_from(ru.ru_minflt).ok())
        .unwrap_or(0)
}

impl Deref for Mapping {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` is the start of a live PROT_READ mapping of `len` bytes, unmapped only in
        // drop (which needs `&mut self`, so no borrow of the slice outlives it). Every byte stays
        // readable: pages the file lost are replaced by zero pages in the SIGBUS handler. That the
        // bytes do not change while borrowed relies on nobody rewriting the file in place (see the
        // module documentation).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // Leave the registry first: once unmapped, the addresses may be reused by anyone.
        self.slot.clear();
        // SAFETY: the mapping made in `map` with this address and length; `drop` has the only
        // access, so no slice of it is still borrowed.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// Installs [`on_sigbus`] once for the process; fails if that failed or if the handler has since
/// handed a foreign fault on (and so is no longer installed).
fn install_handler() -> io::Result<()> {
    static INSTALLED: OnceLock<Result<(), i32>> = OnceLock::new();
    let r = INSTALLED.get_or_init(|| {
        let page = page_size().ok_or(libc::EINVAL)?;
        PAGE.store(page, Ordering::Relaxed);
        // SAFETY: all-zero is a valid `struct sigaction` (no handler, empty mask, no flags).
        let mut prev: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: queries the current disposition into `prev`, a valid sigaction.
        if unsafe { libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut prev) } != 0 {
            return Err(errno());
        }
        let _ = PREVIOUS.set(prev);
        // SAFETY: as above.
        let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
        act.sa_sigaction = on_sigbus as *const () as libc::sighandler_t;
        act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: `act.sa_mask` is a valid sigset_t to initialize.
        unsafe { libc::sigemptyset(&mut act.sa_mask) };
        // SAFETY: installs a handler with the three-argument signature SA_SIGINFO calls for,
        // which only does async-signal-safe things (see `on_sigbus`); PREVIOUS and PAGE are set
        // before it can run.
        if unsafe { libc::sigaction(libc::SIGBUS, &act, std::ptr::null_mut()) } != 0 {
            return Err(errno());
        }
        Ok(())
    });
    match r {
        Err(e) => Err(io::Error::from_raw_os_error(*e)),
        Ok(()) if DISOWNED.load(Ordering::Relaxed) => Err(io::Error::other(
            "SIGBUS handler was handed back after a fault outside any mapping",
        )),
        Ok(()) => Ok(()),
    }
}

fn errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL)
}

/// The SIGBUS handler (see the module documentation). Async-signal-safe: atomics, raw system
/// calls, `write`, `_exit`; no allocation, no locks, no panics.
extern "C" fn on_sigbus(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: errno is a thread-local int the C library gives us the address of.
    let errno_ptr = unsafe { libc::__errno_location() };
    // SAFETY: as above; saved so that the interrupted code sees its own errno again.
    let saved_errno = unsafe { *errno_ptr };
    // SAFETY: for a handler installed with SA_SIGINFO the kernel passes a valid siginfo_t; for a
    // SIGBUS it raised itself (si_code > 0) `si_addr` is the faulting address.
    let (kernel, addr) = unsafe { ((*info).si_code > 0, (*info).si_addr() as usize) };
    let page = PAGE.load(Ordering::Relaxed);
    let ours = REGISTRY.iter().find_map(|s| {
        let (start, len) = s.read()?;
        (kernel && addr >= start && addr - start < len).then_some((s, start, len))
    });
    match ours {
        Some((slot, start, len)) => {
            slot.fault.fetch_min(addr - start, Ordering::Relaxed);
            let from = addr & !(page - 1);
            let end = (start + len).next_multiple_of(page);
            if !map_zeros(from, end - from) {
                last_words(slot, addr - start);
            }
        }
        None => {
            DISOWNED.store(true, Ordering::Relaxed);
            match PREVIOUS.get() {
                // SAFETY: puts back the disposition we found, a valid sigaction the kernel gave
                // us; sigaction is async-signal-safe.
                Some(prev) => unsafe {
                    libc::sigaction(libc::SIGBUS, prev, std::ptr::null_mut());
                },
                // SAFETY: as above, with the default disposition.
                None => unsafe {
                    libc::signal(libc::SIGBUS, libc::SIG_DFL);
                },
            }
            // A fault happens again when we return, now for the disposition we put back; a
            // signal sent with kill() is sent again, to the same effect.
            if !kernel {
                // SAFETY: raise is async-signal-safe; SIGBUS stays blocked until we return.
                unsafe { libc::raise(libc::SIGBUS) };
            }
        }
    }
    // SAFETY: as above.
    unsafe { *errno_ptr = saved_errno };
}

/// Replaces `[addr, addr + len)`, page-aligned pages of one of our mappings, with zero pages.
fn map_zeros(addr: usize, len: usize) -> bool {
    #[cfg(target_pointer_width = "64")]
    const SYS_MMAP: libc::c_long = libc::SYS_mmap;
    #[cfg(target_pointer_width = "32")]
    const SYS_MMAP: libc::c_long = libc::SYS_mmap2;
    // SAFETY: the range lies inside a live mapping of ours (checked against the registry by the
    // caller), which nothing but our own reads uses: MAP_FIXED replaces only those pages, with
    // readable zero pages, so the pending load and every later one succeed. The raw system call
    // (not libc's `mmap` wrapper, which may take a lock for MAP_FIXED) is async-signal-safe.
    let r = unsafe {
        libc::syscall(
            SYS_MMAP,
            addr,
            len,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
            -1 as libc::c_long,
            0 as libc::c_long,
        )
    };
    r as usize == addr
}

/// The handler's last resort: one line on stderr, then `_exit(1)`.
fn last_words(slot: &Slot, offset: usize) -> ! {
    let mut buf = [0u8; LABEL_MAX + 200];
    let mut n = 0;
    let mut put = |bytes: &[u8]| {
        for b in bytes {
            if n < buf.len() {
                buf[n] = *b;
                n += 1;
            }
        }
    };
    put(b"rsthound: ");
    let label_len = slot.label_len.load(Ordering::Relaxed).min(LABEL_MAX);
    for b in &slot.label[..label_len] {
        put(&[b.load(Ordering::Relaxed)]);
    }
    put(b": offset ");
    let mut digits = [0u8; 20];
    let mut d = digits.len();
    let mut v = offset;
    loop {
        d -= 1;
        digits[d] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    put(&digits[d..]);
    put(b": the file shrank while it was being read (memory-mapped); rerun with --no-mmap\n");
    let mut done = 0;
    while done < n {
        // SAFETY: writes initialized bytes of `buf` to stderr; write is async-signal-safe.
        let w = unsafe { libc::write(2, buf[done..n].as_ptr().cast(), n - done) };
        if w <= 0 {
            break;
        }
        done += w as usize;
    }
    // SAFETY: _exit ends the process at once and is async-signal-safe.
    unsafe { libc::_exit(1) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::Command;

    fn temp_file(tag: &str, data: &[u8]) -> (std::path::PathBuf, File) {
        let p = std::env::temp_dir().join(format!("rsthound-mmap-{tag}-{}", std::process::id()));
        let mut f = File::create(&p).unwrap();
        f.write_all(data).unwrap();
        (p.clone(), File::open(&p).unwrap())
    }

    #[test]
    fn populating_backs_fresh_pages_and_keeps_what_they_hold() {
        // 16 MiB fresh from the kernel, not written yet: none of it is in memory. (Mapped here:
        // the allocator may hand out pages it already used.)
        const LEN: usize = 16 << 20;
        // SAFETY: a new private anonymous mapping, at an address the kernel chooses.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        // SAFETY: the LEN bytes just mapped, ours alone until unmapped below; MaybeUninit makes
        // no claim about what they hold.
        let spare =
            unsafe { std::slice::from_raw_parts_mut(p.cast::<std::mem::MaybeUninit<u8>>(), LEN) };
        let (before, pages) = resident_pages(spare).expect("mincore");
        let page = page_size().expect("page size");
        assert_eq!((before, pages), (0, LEN / page), "pages resident before");
        if !populate_write(spare) {
            // Kernels before 5.14 do not know MADV_POPULATE_WRITE: then it is only a hint lost.
            assert_eq!(errno(), libc::EINVAL, "populate_write failed otherwise");
            println!("skipped: this kernel has no MADV_POPULATE_WRITE");
            // SAFETY: the mapping made above, no longer borrowed.
            assert_eq!(unsafe { libc::munmap(p, LEN) }, 0);
            return;
        }
        let (after, _) = resident_pages(spare).expect("mincore");
        assert_eq!(after, pages, "pages in memory after populate_write");
        // SAFETY: the mapping made above, no longer borrowed.
        assert_eq!(unsafe { libc::munmap(p, LEN) }, 0);

        // Memory already written reads the same afterwards (it is faulted in, never written).
        let mut held: Vec<u32> = (0..300_000).map(|i| i * 7 + 1).collect();
        assert!(populate_write(&mut held));
        assert!(held.iter().enumerate().all(|(i, &x)| x == i as u32 * 7 + 1));
        // Nothing to do for less than a page, or nothing.
        assert!(populate_write(&mut [0u8; 100]));
        assert!(populate_write::<u64>(&mut []));
    }

    #[test]
    fn maps_the_bytes_and_releases_without_losing_them() {
        let data: Vec<u8> = (0..9_000_000u32).map(|i| (i % 251) as u8).collect();
        let (p, f) = temp_file("bytes", &data);
        let m = Mapping::map(&f, data.len() as u64, "bytes").unwrap();
        assert_eq!(&m[..], &data[..]);
        m.release(0..5_000_000);
        m.release(7_000_000..usize::MAX);
        assert_eq!(&m[..], &data[..]);
        assert_eq!(m.fault(), None);
        drop(m);
        std::fs::remove_file(p).unwrap();
    }

    /// Runs test `name` again in a child process (this test binary, only that test): returns
    /// `None` in the child, which then does the risky part, and the child's exit status and
    /// output in the parent.
    fn in_child(name: &str) -> Option<(std::process::ExitStatus, String)> {
        if std::env::var("RSTHOUND_MMAP_CHILD").is_ok_and(|v| v == name) {
            return None;
        }
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                &format!("sys::mmap::tests::{name}"),
                "--nocapture",
                "--test-threads=1",
            ])
            .env("RSTHOUND_MMAP_CHILD", name)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        Some((out.status, text))
    }

    /// A SIGBUS outside our mappings still ends the process as it would have without us.
    #[test]
    fn a_fault_outside_our_mappings_is_passed_on() {
        use std::os::unix::process::ExitStatusExt;
        if let Some((status, text)) = in_child("a_fault_outside_our_mappings_is_passed_on") {
            assert_eq!(status.signal(), Some(libc::SIGBUS), "{status:?}\n{text}");
            assert!(text.contains("child: touching"), "{text}");
            assert!(!text.contains("child: survived"), "{text}");
            return;
        }
        let data = vec![1u8; 8 * 4096];
        let (p1, f1) = temp_file("ours", &data);
        let (p2, f2) = temp_file("foreign", &data);
        let ours = Mapping::map(&f1, data.len() as u64, "ours").unwrap();
        // SAFETY: a fresh read-only mapping of a file of that length, made here without the
        // registry to stand for any mapping that is not ours.
        let foreign = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                data.len(),
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                f2.as_raw_fd(),
                0,
            )
        };
        assert_ne!(foreign, libc::MAP_FAILED);
        std::fs::remove_file(&p1).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p2)
            .unwrap()
            .set_len(0)
            .unwrap();
        std::fs::remove_file(&p2).unwrap();
        println!("child: touching");
        // SAFETY: inside the foreign mapping; the file behind it is now empty, so this raises
        // SIGBUS, which is the point.
        let b = unsafe { std::ptr::read_volatile(foreign.cast::<u8>().add(4096)) };
        println!("child: survived {b} {}", ours[0]);
    }

    #[test]
    fn empty_length_is_refused() {
        let (p, f) = temp_file("empty", b"");
        assert!(Mapping::map(&f, 0, "empty").is_err());
        std::fs::remove_file(p).unwrap();
    }

    /// The SIGBUS path, run in a child process (this test binary again, with only this test):
    /// if the handler were wrong, SIGBUS would kill the child, not the test harness.
    #[test]
    fn a_file_truncated_under_the_mapping_reads_as_zeros_and_reports_the_offset() {
        if let Some((status, text)) =
            in_child("a_file_truncated_under_the_mapping_reads_as_zeros_and_reports_the_offset")
        {
            assert!(status.success(), "child: {status:?}\n{text}");
            assert!(text.contains("child: truncation survived"), "{text}");
            return;
        }
        let data = vec![0xabu8; 64 * 4096 + 100];
        let (p, f) = temp_file("trunc", &data);
        let m = Mapping::map(&f, data.len() as u64, "trunc").unwrap();
        assert_eq!(m[10 * 4096], 0xab);
        let cut = 10 * 4096 + 7;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(cut as u64)
            .unwrap();
        // Within the last page that is still in the file: the bytes up to the cut, then zeros.
        assert_eq!(m[cut - 1], 0xab);
        assert_eq!(m[cut], 0);
        assert_eq!(m.fault(), None);
        // Beyond it: SIGBUS, turned into zeros and a recorded offset.
        assert_eq!(m[20 * 4096 + 5], 0);
        assert_eq!(m.fault(), Some(20 * 4096 + 5));
        // The first page past the cut's page: a second fault, at a lower offset.
        assert!(m[11 * 4096..].iter().all(|b| *b == 0));
        assert_eq!(m.fault(), Some(11 * 4096));
        assert_eq!(m[data.len() - 1], 0);
        drop(m);
        std::fs::remove_file(p).unwrap();
        println!("child: truncation survived");
    }
}
