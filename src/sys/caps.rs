//! Giving up capabilities once the packet socket is open: a watcher that parses hostile packets
//! should hold no privilege while it does.

use std::io;

/// `struct __user_cap_header_struct` (linux/capability.h); libc does not define it.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Clears the ambient, bounding (as far as allowed), effective, permitted and inheritable
/// capability sets of the calling thread, and forbids gaining privileges again through exec.
/// Irreversible. Threads started afterwards inherit the empty sets; threads started before keep
/// theirs, so call it before starting any.
pub fn drop_all() -> io::Result<()> {
    // Ambient first (PR_CAP_AMBIENT exists since Linux 4.3; EINVAL before: nothing to clear).
    // SAFETY: prctl with PR_CAP_AMBIENT_CLEAR_ALL takes integer arguments only.
    let ret = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    if ret < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
        return Err(io::Error::last_os_error());
    }
    // The bounding set while CAP_SETPCAP is still effective (dropping it needs that capability).
    // Without CAP_SETPCAP (a binary given only cap_net_raw by setcap) EPERM is expected and
    // harmless: permitted is emptied below and no_new_privs stops exec from granting any
    // capability again. EINVAL marks the first capability this kernel does not know.
    for cap in 0..64 {
        // SAFETY: prctl with PR_CAPBSET_DROP takes integer arguments only.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } < 0 {
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EINVAL) | Some(libc::EPERM) => break,
                _ => return Err(io::Error::last_os_error()),
            }
        }
    }
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    // Version 3 uses two data structs (capabilities 0-31 and 32-63); all zero means none.
    let data = [CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: `header` and `data` are valid for the duration of the call and have the layout
    // capset(2) expects for _LINUX_CAPABILITY_VERSION_3 (one header, two data structs).
    let ret = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: prctl with PR_SET_NO_NEW_PRIVS takes integer arguments only.
    super::check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })?;
    Ok(())
}
