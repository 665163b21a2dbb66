//! A netlink `sock_diag` socket: send one request, receive the kernel's multi-part dump as owned
//! bytes. What the bytes mean is parsed in safe code (`crate::source::sockets::diag`); this module
//! only moves them, and asks the caller (`is_last`) when the dump is over.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `NETLINK_SOCK_DIAG` (linux/netlink.h).
const NETLINK_SOCK_DIAG: libc::c_int = 4;
/// One receive: the kernel fills datagrams up to about 32 KiB for a dump (it sizes them from the
/// reader's buffer, capped at 32 KiB since 4.x); a larger buffer never truncates one.
const RECV_BUF: usize = 64 << 10;
/// A dump that takes longer than this between two datagrams is given up on.
const RECV_TIMEOUT_SECS: libc::time_t = 5;

/// Why a dump failed.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("cannot open a netlink sock_diag socket: {0}")]
    Open(io::Error),
    #[error("cannot send the sock_diag request: {0}")]
    Send(io::Error),
    #[error("cannot receive the sock_diag reply: {0}")]
    Recv(io::Error),
    #[error("the sock_diag reply was cut: a datagram did not fit in {RECV_BUF} bytes")]
    Truncated,
    #[error("the sock_diag reply passed {0} bytes without ending; given up")]
    TooLarge(usize),
}

/// Sends `request` (one complete netlink message) to the kernel's sock_diag and returns every
/// datagram of the reply, concatenated (each datagram holds whole, 4-byte aligned messages, so
/// the concatenation is itself a valid message stream). Stops after the first datagram for which
/// `is_last` is true (it holds NLMSG_DONE or NLMSG_ERROR), or fails past `max_bytes`. Runs in the
/// calling thread's network namespace.
pub fn sock_diag_dump(
    request: &[u8],
    max_bytes: usize,
    mut is_last: impl FnMut(&[u8]) -> bool,
) -> Result<Vec<u8>, DumpError> {
    let fd = open().map_err(DumpError::Open)?;
    send(&fd, request).map_err(DumpError::Send)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; RECV_BUF];
    loop {
        let n = recv(&fd, &mut buf).map_err(DumpError::Recv)?;
        if n > buf.len() {
            return Err(DumpError::Truncated);
        }
        let datagram = &buf[..n];
        if out.len() + n > max_bytes {
            return Err(DumpError::TooLarge(max_bytes));
        }
        out.extend_from_slice(datagram);
        // An empty datagram would otherwise loop forever on a kernel that sends one.
        if n == 0 || is_last(datagram) {
            return Ok(out);
        }
    }
}

fn open() -> io::Result<OwnedFd> {
    // SAFETY: socket(2) takes integer arguments only.
    let fd = super::check(unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            NETLINK_SOCK_DIAG,
        )
    })?;
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let tv = libc::timeval {
        tv_sec: RECV_TIMEOUT_SECS,
        tv_usec: 0,
    };
    // SAFETY: `tv` is a valid timeval for the duration of the call and its size is passed.
    super::check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    })?;
    Ok(fd)
}

fn send(fd: &OwnedFd, request: &[u8]) -> io::Result<()> {
    // SAFETY: sockaddr_nl is plain data; all-zero is a valid value (pid 0 = the kernel).
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: `request` and `addr` are valid for reads of the lengths passed, for the duration
    // of the call.
    let n = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            request.as_ptr().cast(),
            request.len(),
            0,
            (&addr as *const libc::sockaddr_nl).cast(),
            size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n as usize != request.len() {
        return Err(io::Error::other("short send"));
    }
    Ok(())
}

/// One datagram; returns its full length (MSG_TRUNC), which may exceed `buf` when it was cut.
fn recv(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the duration of the call.
        let n = unsafe {
            libc::recv(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_TRUNC,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
