//! Live capture: the kernel filter, the ring's frames, and the interfaces being watched. The
//! system calls themselves are in `crate::sys`; this module parses and decides. The sources sit
//! behind two small traits so that `watch`'s loop can be tested with fakes, without root.

pub mod filter;
pub mod ifaces;
pub mod ring;

use crate::sys::packet::{BLOCK_DATA_OFFSET, PacketRing, RingStats};
use ring::{Frame, Frames};
use std::io;

/// Where live frames come from.
pub trait FrameSource {
    /// Waits up to `timeout_ms` for frames and hands each to `f`; returns how many it handed.
    fn poll(&mut self, timeout_ms: i32, f: &mut dyn FnMut(&Frame<'_>)) -> io::Result<usize>;
    /// Packets that passed the kernel filter and packets the kernel dropped for lack of room,
    /// since the previous call.
    fn stats(&mut self) -> io::Result<RingStats>;
    /// Ring blocks that could not be parsed to their end (a kernel/ABI surprise), so far.
    fn malformed_blocks(&self) -> u64 {
        0
    }
}

/// Lists the interfaces of the watched namespace.
pub trait InterfaceSource {
    fn list(&mut self) -> io::Result<Vec<(u32, Vec<u8>)>>;
}

/// The real thing: a TPACKET_V3 ring.
pub struct RingSource {
    pub ring: PacketRing,
    /// Blocks handled per poll at most, so that housekeeping runs even under full load.
    pub max_blocks: usize,
    malformed: u64,
}

impl RingSource {
    pub fn new(ring: PacketRing, max_blocks: usize) -> Self {
        RingSource {
            ring,
            max_blocks,
            malformed: 0,
        }
    }
}

impl FrameSource for RingSource {
    fn poll(&mut self, timeout_ms: i32, f: &mut dyn FnMut(&Frame<'_>)) -> io::Result<usize> {
        if !self.ring.wait(timeout_ms)? {
            return Ok(0);
        }
        let mut n = 0;
        for _ in 0..self.max_blocks {
            let Some(block) = self.ring.next_block() else {
                break;
            };
            let mut frames = Frames::new(block.data, BLOCK_DATA_OFFSET);
            for frame in frames.by_ref() {
                f(&frame);
                n += 1;
            }
            self.malformed += u64::from(frames.malformed);
        }
        Ok(n)
    }

    fn stats(&mut self) -> io::Result<RingStats> {
        self.ring.stats()
    }

    fn malformed_blocks(&self) -> u64 {
        self.malformed
    }
}

/// The interfaces of the calling thread's namespace, from the kernel.
pub struct SysInterfaces;

impl InterfaceSource for SysInterfaces {
    fn list(&mut self) -> io::Result<Vec<(u32, Vec<u8>)>> {
        crate::sys::ifaces::list()
    }
}
