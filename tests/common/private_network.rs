//! A network of one's own, so that what a test or bench runs can reach
//! nothing but itself: the calling thread enters a fresh network namespace
//! that holds only `lo`, up. 127.0.0.1 and ::1 work as on the host (a test's
//! own servers and the cloudboot it runs meet there); every other address,
//! the metadata services' 169.254.169.254 among them, is unreachable unless
//! the test puts it on `lo` itself ([`add_to_lo`]).
//!
//! A network namespace belongs to a thread, and to every process and
//! thread it starts afterwards. tests/common enters one on the main thread
//! before `main`, so that every test of the binary (libtest runs each on a
//! thread it starts later) and everything they run share it; a test or the
//! bench that wants a fresh one for itself enters another on its own
//! thread. Making one needs root (CAP_SYS_ADMIN).
#![allow(dead_code)]

use std::cell::Cell;
use std::io;
use std::process::Command;

thread_local! {
    static ENTERED: Cell<bool> = const { Cell::new(false) };
}

/// Moves the calling thread into a new network namespace with `lo` up.
/// Once per thread: later calls do nothing. Fails (EPERM) without root.
pub fn enter() -> io::Result<()> {
    if ENTERED.with(Cell::get) {
        return Ok(());
    }
    // SAFETY: unshare only changes this thread's namespaces.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    ENTERED.with(|e| e.set(true));
    loopback_up()
}

/// Whether the calling thread is in a namespace [`enter`] made.
pub fn entered() -> bool {
    ENTERED.with(Cell::get)
}

/// A new namespace's `lo` is down: SIOCSIFFLAGS sets IFF_UP on it (no
/// iproute2 needed for this much).
fn loopback_up() -> io::Result<()> {
    // SAFETY: a plain socket, an ifreq we own, and two ioctls that read and
    // write only that struct; the socket is closed before returning.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        let mut result = Ok(());
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) < 0 {
            result = Err(io::Error::last_os_error());
        } else {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) < 0 {
                result = Err(io::Error::last_os_error());
            }
        }
        libc::close(fd);
        result
    }
}

/// Puts an address (`169.254.169.254/32`, `fd00:ec2::254/128`) on the
/// namespace's `lo` with iproute2, so a listener can bind it and a client
/// reach it, inside this namespace only. Only after [`enter`]: on the
/// host's `lo` it would change the host.
pub fn add_to_lo(cidr: &str) -> io::Result<()> {
    if !entered() {
        return Err(io::Error::other(format!(
            "not adding {cidr} to lo: this thread is not in a private network namespace"
        )));
    }
    let mut ip = Command::new("ip");
    if cidr.contains(':') {
        // Loopback does no duplicate address detection, but say so: an
        // address still "tentative" cannot be bound.
        ip.args(["-6", "addr", "add", cidr, "dev", "lo", "nodad"]);
    } else {
        ip.args(["addr", "add", cidr, "dev", "lo"]);
    }
    let out = ip.output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "ip addr add {cidr} dev lo: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}
