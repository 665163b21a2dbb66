//! An AF_PACKET socket bound to every interface, with a classic-BPF filter and a TPACKET_V3
//! receive ring shared with the kernel.
//!
//! The ring is a sequence of fixed-size blocks. The kernel fills a block with frames and hands
//! it over by setting its status word to TP_STATUS_USER; we parse it (as a plain byte slice, in
//! `crate::source::live::ring`) and give it back by writing TP_STATUS_KERNEL. While a block is ours the
//! kernel does not write to it, which is what makes lending it out as `&[u8]` sound.

use super::check;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

/// One classic-BPF instruction (`struct sock_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BpfInsn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// Shape of the receive ring.
#[derive(Debug, Clone, Copy)]
pub struct RingConfig {
    /// Bytes per block: a multiple of the page size.
    pub block_size: u32,
    pub block_count: u32,
    /// A block is handed to user space after this many milliseconds even when not full, so that
    /// a quiet link still shows its RSTs promptly.
    pub retire_ms: u32,
}

/// A failed step of opening the socket, and the kernel's reason.
#[derive(Debug)]
pub struct OpenError {
    pub step: &'static str,
    pub error: io::Error,
}

/// What the kernel counted since the previous call (the counters reset on every read).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RingStats {
    /// Packets that passed the filter, including dropped ones.
    pub packets: u64,
    /// Packets that passed the filter but found no room in the ring.
    pub drops: u64,
}

/// TPACKET_V3 in `enum tpacket_versions`.
const TPACKET_V3: libc::c_int = 2;
const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
/// Offset of `block_status` in `struct tpacket_block_desc` (after `version` and
/// `offset_to_priv`).
const BLOCK_STATUS_OFFSET: usize = 8;
/// Where [`Block::data`] starts within a block: just after the status word.
pub const BLOCK_DATA_OFFSET: usize = BLOCK_STATUS_OFFSET + 4;

/// The open socket and its mapped ring.
pub struct PacketRing {
    map: NonNull<u8>,
    map_len: usize,
    block_size: usize,
    block_count: usize,
    next: usize,
    // Declared last so that it is closed after the ring is unmapped (see Drop).
    fd: OwnedFd,
}

fn sockopt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` is a valid, initialized T for the duration of the call and the length
    // passed is exactly its size; the kernel copies it and keeps no pointer to it.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

impl PacketRing {
    /// Opens the socket (needs CAP_NET_RAW), attaches `filter`, sets up and maps the ring, and
    /// only then binds to every interface, so that no unfiltered packet is ever queued.
    pub fn open(cfg: &RingConfig, filter: &[BpfInsn]) -> Result<Self, OpenError> {
        let fail = |step| move |error| OpenError { step, error };
        // Protocol 0: the socket receives nothing until bind() names one.
        // SAFETY: socket() takes integer arguments only.
        let raw =
            check(unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) })
                .map_err(fail("socket(AF_PACKET, SOCK_RAW)"))?;
        // SAFETY: `raw` is a descriptor we just opened and own exclusively.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        let insns: Vec<libc::sock_filter> = filter
            .iter()
            .map(|i| libc::sock_filter {
                code: i.code,
                jt: i.jt,
                jf: i.jf,
                k: i.k,
            })
            .collect();
        let prog = libc::sock_fprog {
            len: u16::try_from(insns.len())
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
                .map_err(fail("SO_ATTACH_FILTER"))?,
            // The kernel only reads the program; the field is `*mut` for historical reasons.
            filter: insns.as_ptr().cast_mut(),
        };
        sockopt(&fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &prog)
            .map_err(fail("SO_ATTACH_FILTER"))?;
        sockopt(&fd, libc::SOL_PACKET, libc::PACKET_VERSION, &TPACKET_V3)
            .map_err(fail("PACKET_VERSION TPACKET_V3"))?;

        // TPACKET_V3 packs frames of any size into a block; frame_size only has to divide the
        // block size and be at least one header.
        let frame_size = 2048u32;
        let req = libc::tpacket_req3 {
            tp_block_size: cfg.block_size,
            tp_block_nr: cfg.block_count,
            tp_frame_size: frame_size,
            tp_frame_nr: cfg.block_size / frame_size * cfg.block_count,
            tp_retire_blk_tov: cfg.retire_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        sockopt(&fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req)
            .map_err(fail("PACKET_RX_RING"))?;

        let block_size = cfg.block_size as usize;
        let block_count = cfg.block_count as usize;
        let map_len = block_size * block_count;
        // SAFETY: a fresh shared mapping of the ring the kernel just allocated for this socket;
        // the length is exactly the ring's size. Nothing else aliases it in this process.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(OpenError {
                step: "mmap of the ring",
                error: io::Error::last_os_error(),
            });
        }
        let ring = PacketRing {
            map: NonNull::new(p.cast()).expect("mmap never returns NULL on success"),
            map_len,
            block_size,
            block_count,
            next: 0,
            fd,
        };

        // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = 0; // every interface, including ones created later
        // SAFETY: `sll` is a valid sockaddr_ll and the length passed is its size.
        check(unsafe {
            libc::bind(
                ring.fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })
        .map_err(fail("bind to all interfaces"))?;
        Ok(ring)
    }

    /// Waits up to `timeout_ms` for a block; `Ok(false)` on timeout or signal.
    pub fn wait(&self, timeout_ms: i32) -> io::Result<bool> {
        if self.block_ready(self.next) {
            return Ok(true);
        }
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN | libc::POLLERR,
            revents: 0,
        };
        // SAFETY: one valid pollfd, count 1.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            };
        }
        Ok(self.block_ready(self.next))
    }

    fn status(&self, block: usize) -> &AtomicU32 {
        debug_assert!(block < self.block_count);
        // SAFETY: the status word lies inside the mapping (block < block_count, offset 8 of a
        // block of at least one page), is 4-byte aligned (blocks are page aligned), and is only
        // ever accessed atomically by us; the kernel writes it with its own barriers.
        unsafe {
            &*self
                .map
                .as_ptr()
                .add(block * self.block_size + BLOCK_STATUS_OFFSET)
                .cast::<AtomicU32>()
        }
    }

    fn block_ready(&self, block: usize) -> bool {
        self.status(block).load(Ordering::Acquire) & TP_STATUS_USER != 0
    }

    /// The next block the kernel has handed over, if any. It goes back to the kernel when the
    /// returned guard is dropped.
    pub fn next_block(&mut self) -> Option<Block<'_>> {
        let i = self.next;
        if !self.block_ready(i) {
            return None;
        }
        self.next = (i + 1) % self.block_count;
        // SAFETY: block `i` is inside the mapping; its status says TP_STATUS_USER (read with
        // Acquire, pairing with the kernel's write barrier), so the kernel has finished writing
        // it and will not touch it until we store TP_STATUS_KERNEL in Block::drop. The borrow
        // of `self` keeps the mapping alive and prevents a second guard on the ring.
        // The slice starts after the status word so that it never overlaps what Block::drop
        // writes.
        let data = unsafe {
            std::slice::from_raw_parts(
                self.map
                    .as_ptr()
                    .add(i * self.block_size + BLOCK_DATA_OFFSET),
                self.block_size - BLOCK_DATA_OFFSET,
            )
        };
        Some(Block {
            data,
            status: self.status(i),
        })
    }

    /// Packets and drops since the previous call.
    pub fn stats(&self) -> io::Result<RingStats> {
        let mut st = libc::tpacket_stats_v3 {
            tp_packets: 0,
            tp_drops: 0,
            tp_freeze_q_cnt: 0,
        };
        let mut len = size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
        // SAFETY: `st` and `len` are valid for writing and `len` is the size of `st`.
        check(unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut st as *mut libc::tpacket_stats_v3).cast(),
                &mut len,
            )
        })?;
        Ok(RingStats {
            packets: u64::from(st.tp_packets),
            drops: u64::from(st.tp_drops),
        })
    }
}

impl Drop for PacketRing {
    fn drop(&mut self) {
        // SAFETY: the mapping was created in open() with this address and length, no Block
        // borrows it any more (they borrow `self`), and it is unmapped exactly once.
        unsafe { libc::munmap(self.map.as_ptr().cast(), self.map_len) };
    }
}

/// A block lent to user space; returned to the kernel on drop.
pub struct Block<'a> {
    /// The block from byte [`BLOCK_DATA_OFFSET`] on (`num_pkts` first); offsets the kernel
    /// writes inside the block count from the block's start.
    pub data: &'a [u8],
    status: &'a AtomicU32,
}

impl Drop for Block<'_> {
    fn drop(&mut self) {
        // Release: our reads of the block happen before the kernel may reuse it.
        self.status.store(TP_STATUS_KERNEL, Ordering::Release);
    }
}
