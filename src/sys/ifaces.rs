//! The network interfaces of the calling thread's network namespace, by index and name.

use std::ffi::CStr;
use std::io;

/// `(ifindex, name)` for every interface, in the kernel's order. The name is raw bytes: an
/// interface name can hold anything but `/`, NUL and whitespace, so callers sanitize it.
pub fn list() -> io::Result<Vec<(u32, Vec<u8>)>> {
    // SAFETY: if_nameindex has no preconditions; it returns NULL on error (errno set) or an
    // array terminated by an entry with index 0 and a NULL name, freed below.
    let head = unsafe { libc::if_nameindex() };
    if head.is_null() {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut p = head;
    loop {
        // SAFETY: `p` points into the array returned above; the loop stops at the terminating
        // entry, so it never reads past the end.
        let entry = unsafe { &*p };
        if entry.if_index == 0 || entry.if_name.is_null() {
            break;
        }
        // SAFETY: a non-NULL if_name is a NUL-terminated string owned by the array.
        let name = unsafe { CStr::from_ptr(entry.if_name) };
        out.push((entry.if_index, name.to_bytes().to_vec()));
        // SAFETY: the current entry is not the terminator, so the next one exists.
        p = unsafe { p.add(1) };
    }
    // SAFETY: `head` came from if_nameindex and is freed exactly once; `out` holds copies.
    unsafe { libc::if_freenameindex(head) };
    Ok(out)
}
