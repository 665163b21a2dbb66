//! perf_event_open(2) of tracepoints: one event per CPU, system-wide (pid -1), the events of a
//! CPU sharing one memory-mapped ring (`PERF_EVENT_IOC_SET_OUTPUT`), kernel-side ftrace filters
//! (`PERF_EVENT_IOC_SET_FILTER`), and records copied out of the ring safely. Only framing
//! happens here: what a record means is decoded in safe code (`crate::source::kernel::record`).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// `PERF_FLAG_FD_CLOEXEC` (perf_event_open's flags argument).
const FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;
/// `PERF_TYPE_TRACEPOINT`.
const TYPE_TRACEPOINT: u32 = 2;
/// `sample_type` bits we ask for: TID | TIME | CPU | RAW. The record decoder knows this layout.
pub const SAMPLE_TYPE: u64 = SAMPLE_TID | SAMPLE_TIME | SAMPLE_CPU | SAMPLE_RAW;
const SAMPLE_TID: u64 = 1 << 1;
const SAMPLE_TIME: u64 = 1 << 2;
const SAMPLE_CPU: u64 = 1 << 7;
const SAMPLE_RAW: u64 = 1 << 10;

/// `perf_event_attr` flag bits (the C bitfield, lowest bit first).
mod flag {
    pub const DISABLED: u64 = 1 << 0;
    pub const COMM: u64 = 1 << 9;
    pub const TASK: u64 = 1 << 13;
    pub const WATERMARK: u64 = 1 << 14;
    pub const SAMPLE_ID_ALL: u64 = 1 << 18;
    pub const COMM_EXEC: u64 = 1 << 24;
    pub const USE_CLOCKID: u64 = 1 << 25;
}

/// ioctl requests (`_IO('$', n)`, `_IOW('$', 6, char *)`).
const IOC_ENABLE: libc::c_ulong = 0x2400;
const IOC_DISABLE: libc::c_ulong = 0x2401;
const IOC_SET_OUTPUT: libc::c_ulong = 0x2405;
const IOC_SET_FILTER: libc::c_ulong = 0x4008_2406;

/// `struct perf_event_attr` up to `PERF_ATTR_SIZE_VER5` (112 bytes, kernel 4.14+): the fields
/// after it are left to the kernel's defaults.
#[repr(C)]
#[derive(Default)]
struct Attr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup: u32,
    bp_type: u32,
    config1: u64,
    config2: u64,
    branch_sample_type: u64,
    sample_regs_user: u64,
    sample_stack_user: u32,
    clockid: i32,
    sample_regs_intr: u64,
    aux_watermark: u32,
    sample_max_stack: u16,
    reserved: u16,
}

const ATTR_SIZE: u32 = 112;
const _: () = assert!(std::mem::size_of::<Attr>() == ATTR_SIZE as usize);

/// When the kernel wakes a poller.
#[derive(Debug, Clone, Copy)]
pub enum Wakeup {
    /// After this many samples.
    Events(u32),
    /// When this many bytes are waiting.
    Bytes(u32),
}

/// How to open one tracepoint event on one CPU.
#[derive(Debug, Clone, Copy)]
pub struct EventSpec {
    /// The tracepoint ID from its tracefs `format` file.
    pub id: u64,
    pub cpu: i32,
    pub wakeup: Wakeup,
    /// Also report every task's COMM (exec, rename), FORK and EXIT on this CPU.
    pub track_tasks: bool,
    /// `clockid` for sample times (`CLOCK_REALTIME` lines them up with packet times).
    pub clock: libc::clockid_t,
}

/// One open perf event.
#[derive(Debug)]
pub struct Event {
    fd: OwnedFd,
}

impl Event {
    /// Opens the event system-wide on `spec.cpu`, disabled. Errors are the kernel's:
    /// EACCES/EPERM without CAP_PERFMON, ENOENT for an unknown ID, EINVAL for a clock the
    /// kernel refuses.
    pub fn open(spec: &EventSpec) -> io::Result<Event> {
        let mut attr = Attr {
            kind: TYPE_TRACEPOINT,
            size: ATTR_SIZE,
            config: spec.id,
            sample_period: 1,
            sample_type: SAMPLE_TYPE,
            flags: flag::DISABLED | flag::SAMPLE_ID_ALL | flag::USE_CLOCKID,
            clockid: spec.clock,
            ..Attr::default()
        };
        match spec.wakeup {
            Wakeup::Events(n) => attr.wakeup = n.max(1),
            Wakeup::Bytes(n) => {
                attr.flags |= flag::WATERMARK;
                attr.wakeup = n.max(1);
            }
        }
        if spec.track_tasks {
            attr.flags |= flag::COMM | flag::COMM_EXEC | flag::TASK;
        }
        // SAFETY: `attr` is a fully initialized perf_event_attr of the size it declares and
        // lives for the call; the other arguments are integers (pid -1: every task on `cpu`;
        // group_fd -1: no group; PERF_FLAG_FD_CLOEXEC).
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                &attr as *const Attr,
                -1 as libc::pid_t,
                spec.cpu as libc::c_int,
                -1 as libc::c_int,
                FLAG_FD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel returned a new descriptor that nothing else owns.
        Ok(Event {
            fd: unsafe { OwnedFd::from_raw_fd(fd as RawFd) },
        })
    }

    /// Sets an ftrace filter (`protocol == 6 && newstate == 2`): the kernel drops records that
    /// do not match before writing them. EINVAL names a field or value the event lacks.
    pub fn set_filter(&self, filter: &str) -> io::Result<()> {
        let c = std::ffi::CString::new(filter)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in filter"))?;
        // SAFETY: SET_FILTER reads a NUL-terminated string that `c` keeps alive for the call.
        super::check(unsafe { libc::ioctl(self.fd.as_raw_fd(), IOC_SET_FILTER, c.as_ptr()) })?;
        Ok(())
    }

    /// Sends this event's records into `ring`'s buffer (same CPU, same clock).
    pub fn output_to(&self, ring: &Event) -> io::Result<()> {
        // SAFETY: SET_OUTPUT takes the target descriptor as an integer argument.
        super::check(unsafe {
            libc::ioctl(self.fd.as_raw_fd(), IOC_SET_OUTPUT, ring.fd.as_raw_fd())
        })?;
        Ok(())
    }

    pub fn enable(&self) -> io::Result<()> {
        // SAFETY: ENABLE takes no argument.
        super::check(unsafe { libc::ioctl(self.fd.as_raw_fd(), IOC_ENABLE, 0) })?;
        Ok(())
    }

    pub fn disable(&self) -> io::Result<()> {
        // SAFETY: DISABLE takes no argument.
        super::check(unsafe { libc::ioctl(self.fd.as_raw_fd(), IOC_DISABLE, 0) })?;
        Ok(())
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// `struct perf_event_mmap_page` offsets (stable since 3.x: data_head/tail sit at 1024).
const DATA_HEAD: usize = 1024;
const DATA_TAIL: usize = 1032;
const HEADER_SIZE: usize = 8;

/// The memory-mapped ring of one event: a metadata page and 2^n data pages.
#[derive(Debug)]
pub struct Ring {
    base: NonNull<u8>,
    len: usize,
    page: usize,
    /// Data area size (a power of two).
    size: u64,
    /// Our read position (what we last published as data_tail).
    tail: u64,
}

// SAFETY: the mapping belongs to this value alone; the kernel side is synchronized through the
// atomics on data_head/data_tail.
unsafe impl Send for Ring {}

/// What [`Ring::for_each_record`] found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReadStats {
    pub records: usize,
    /// Records whose header was impossible (size 0, not 8-aligned, bigger than the ring): the
    /// rest of the ring was skipped.
    pub corrupt: usize,
}

impl Ring {
    /// Maps `1 + data_pages` pages of `event` (`data_pages` is rounded up to a power of two).
    pub fn map(event: &Event, data_pages: usize) -> io::Result<Ring> {
        // SAFETY: sysconf has no memory effects.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(io::Error::last_os_error)?;
        let pages = data_pages.max(1).next_power_of_two();
        let len = page * (pages + 1);
        // SAFETY: a fresh shared mapping of the perf descriptor, which the kernel sizes and
        // keeps valid until munmap; writable so that data_tail can tell the kernel what is read
        // (it then never overwrites unread records).
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                event.raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(p.cast::<u8>()).ok_or_else(io::Error::last_os_error)?;
        let mut ring = Ring {
            base,
            len,
            page,
            size: (page * pages) as u64,
            tail: 0,
        };
        ring.tail = ring.head();
        Ok(ring)
    }

    fn word(&self, at: usize) -> &AtomicU64 {
        // SAFETY: `at` is DATA_HEAD or DATA_TAIL, 8-aligned offsets inside the first (page
        // aligned) page of the live mapping; the kernel accesses these words atomically too.
        unsafe { AtomicU64::from_ptr(self.base.as_ptr().add(at).cast::<u64>()) }
    }

    /// The kernel's write position. Acquire: the records before it are written.
    fn head(&self) -> u64 {
        self.word(DATA_HEAD).load(Ordering::Acquire)
    }

    /// Bytes waiting.
    pub fn pending(&self) -> u64 {
        self.head().wrapping_sub(self.tail)
    }

    /// Copies `out.len()` bytes starting at ring position `pos`, across the wrap.
    fn copy(&self, pos: u64, out: &mut [u8]) {
        let data = self.page;
        let start = (pos % self.size) as usize;
        let first = out.len().min(self.size as usize - start);
        // SAFETY: both ranges lie inside the data area [page, page + size) of the live mapping
        // (start < size, first <= size - start, the rest < size since records are smaller than
        // the ring); the kernel does not write to them until we move data_tail past them.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.base.as_ptr().add(data + start),
                out.as_mut_ptr(),
                first,
            );
            std::ptr::copy_nonoverlapping(
                self.base.as_ptr().add(data),
                out.as_mut_ptr().add(first),
                out.len() - first,
            );
        }
    }
    /// Hands every waiting record (header included) to `each` where it lies in the mapping,
    /// without copying it; a record split by the wrap is first copied whole into `scratch`.
    /// Then releases the space to the kernel.
    pub fn for_each_record(
        &mut self,
        scratch: &mut Vec<u8>,
        each: &mut dyn FnMut(&[u8]),
    ) -> ReadStats {
        let head = self.head();
        let mut stats = ReadStats::default();
        let mut pos = self.tail;
        while head.wrapping_sub(pos) >= HEADER_SIZE as u64 {
            let mut hdr = [0u8; HEADER_SIZE];
            self.copy(pos, &mut hdr);
            let size = u64::from(u16::from_ne_bytes([hdr[6], hdr[7]]));
            if size < HEADER_SIZE as u64 || size % 8 != 0 || size > head.wrapping_sub(pos) {
                stats.corrupt += 1;
                pos = head;
                break;
            }
            let start = (pos % self.size) as usize;
            let len = size as usize;
            if start + len <= self.size as usize {
                // SAFETY: [page + start, page + start + len) lies inside the data area of the
                // live mapping (start + len <= size); the kernel does not write to it until
                // data_tail moves past it, which happens below, after the last use of the
                // slice (it does not outlive this call to `each`).
                let rec = unsafe {
                    std::slice::from_raw_parts(self.base.as_ptr().add(self.page + start), len)
                };
                each(rec);
            } else {
                scratch.clear();
                scratch.resize(len, 0);
                self.copy(pos, scratch);
                each(scratch);
            }
            pos = pos.wrapping_add(size);
            stats.records += 1;
        }
        self.tail = pos;
        // Release: our reads of the records happen before the kernel may reuse their space.
        self.word(DATA_TAIL).store(pos, Ordering::Release);
        stats
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `map`; nothing borrows it past `self`.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.len);
        }
    }
}

/// CLOCK_REALTIME minus CLOCK_MONOTONIC now, in nanoseconds: shifts monotonic sample times to
/// wall-clock time (an NTP step after this moment is not followed).
pub fn realtime_minus_monotonic_ns() -> i64 {
    let now = |clock| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid timespec for the call to fill.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        ts.tv_sec * 1_000_000_000 + ts.tv_nsec
    };
    let mono = now(libc::CLOCK_MONOTONIC);
    now(libc::CLOCK_REALTIME) - mono
}

/// Waits until one of `fds` is readable or `timeout_ms` passes (-1: forever). Returns the
/// number of ready descriptors; EINTR counts as none.
pub fn poll_readable(fds: &[RawFd], timeout_ms: i32) -> io::Result<usize> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `pfds` is a valid array of `pfds.len()` pollfd structs for the call.
    let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(e);
    }
    Ok(n as usize)
}

/// Mounts tracefs at `path` (`mount -t tracefs nodev PATH`). Needs CAP_SYS_ADMIN.
pub fn mount_tracefs(path: &std::path::Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let target = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
    // SAFETY: every pointer is a NUL-terminated string alive for the call; data is NULL.
    super::check(unsafe {
        libc::mount(
            c"nodev".as_ptr(),
            target.as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    })?;
    Ok(())
}

/// The online CPUs (`/sys/devices/system/cpu/online`, e.g. `0-3`), for one event per CPU;
/// falls back to the online count.
pub fn online_cpus() -> Vec<i32> {
    if let Ok(s) = std::fs::read_to_string("/sys/devices/system/cpu/online") {
        let mut cpus = Vec::new();
        for part in s.trim().split(',') {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            if let (Ok(a), Ok(b)) = (a.parse::<i32>(), b.parse::<i32>()) {
                cpus.extend(a..=b.min(a.saturating_add(4096)));
            }
        }
        if !cpus.is_empty() {
            return cpus;
        }
    }
    // SAFETY: sysconf has no memory effects.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1);
    (0..n as i32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Ring {
        /// A ring over anonymous memory, written by the test as the kernel would.
        fn anonymous(data_pages: usize) -> Ring {
            // SAFETY: sysconf has no memory effects.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
            let len = page * (data_pages + 1);
            // SAFETY: a fresh private anonymous mapping, owned by the returned Ring.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            assert_ne!(p, libc::MAP_FAILED);
            Ring {
                base: NonNull::new(p.cast()).unwrap(),
                len,
                page,
                size: (page * data_pages) as u64,
                tail: 0,
            }
        }

        /// Writes `bytes` at ring position `pos` (wrapping) and moves data_head past them.
        fn kernel_write(&mut self, pos: u64, bytes: &[u8]) {
            for (i, b) in bytes.iter().enumerate() {
                let at = self.page + ((pos + i as u64) % self.size) as usize;
                // SAFETY: `at` is inside the data area of the mapping.
                unsafe { *self.base.as_ptr().add(at) = *b };
            }
            self.word(DATA_HEAD)
                .store(pos + bytes.len() as u64, Ordering::Release);
        }
    }

    fn record(kind: u32, size: u16, fill: u8) -> Vec<u8> {
        let mut r = vec![fill; usize::from(size)];
        r[0..4].copy_from_slice(&kind.to_ne_bytes());
        r[4..6].copy_from_slice(&0u16.to_ne_bytes());
        r[6..8].copy_from_slice(&size.to_ne_bytes());
        r
    }

    /// Every waiting record appended to `buf`, as the tests compare them.
    fn read_into(ring: &mut Ring, buf: &mut Vec<u8>) -> ReadStats {
        ring.for_each_record(&mut Vec::new(), &mut |r| buf.extend_from_slice(r))
    }

    #[test]
    fn a_record_across_the_wrap_is_copied_whole_and_the_tail_published() {
        let mut ring = Ring::anonymous(1);
        let start = ring.size - 16;
        ring.tail = start;
        let a = record(9, 32, 0xab);
        ring.kernel_write(start, &a);
        let b = record(3, 24, 0xcd);
        ring.kernel_write(start + 32, &b);
        let mut buf = Vec::new();
        let got = read_into(&mut ring, &mut buf);
        assert_eq!(
            got,
            ReadStats {
                records: 2,
                corrupt: 0
            }
        );
        assert_eq!(&buf[..32], &a[..]);
        assert_eq!(&buf[32..], &b[..]);
        assert_eq!(ring.word(DATA_TAIL).load(Ordering::Acquire), start + 56);
        assert_eq!(ring.pending(), 0);
    }

    #[test]
    fn records_are_handed_on_in_place_and_across_the_wrap_whole() {
        let mut ring = Ring::anonymous(1);
        let start = ring.size - 16;
        ring.tail = start;
        let a = record(9, 32, 0xab);
        ring.kernel_write(start, &a);
        let b = record(3, 24, 0xcd);
        ring.kernel_write(start + 32, &b);
        let (mut seen, mut scratch) = (Vec::new(), Vec::new());
        let got = ring.for_each_record(&mut scratch, &mut |r| seen.push(r.to_vec()));
        assert_eq!(got.records, 2);
        assert_eq!(seen, vec![a, b]);
        assert_eq!(ring.word(DATA_TAIL).load(Ordering::Acquire), start + 56);
        ring.kernel_write(start + 56, &record(9, 12, 0));
        assert_eq!(ring.for_each_record(&mut scratch, &mut |_| {}).corrupt, 1);
        assert_eq!(ring.pending(), 0);
    }

    #[test]
    fn an_impossible_header_skips_to_the_head() {
        let mut ring = Ring::anonymous(1);
        ring.kernel_write(0, &record(9, 12, 0)); // not 8-aligned
        let mut buf = Vec::new();
        assert_eq!(
            read_into(&mut ring, &mut buf),
            ReadStats {
                records: 0,
                corrupt: 1
            }
        );
        assert!(buf.is_empty());
        assert_eq!(ring.pending(), 0);
        // The kernel publishes data_head after whole records only: one that claims more than
        // was published is as impossible.
        let mut r = record(9, 64, 0);
        r.truncate(16);
        ring.kernel_write(12, &r);
        assert_eq!(read_into(&mut ring, &mut buf).corrupt, 1);
    }
}
