//! Thin, safe wrappers over the `*at` system calls the root works with.
//!
//! Every call takes a directory descriptor and one name (or, for `openat2`,
//! a relative path): that is what keeps each step inside the root. Only
//! calls Linux 2.6.32 has are used here, except `openat2` (5.6) and
//! `syncfs` (2.6.39), whose callers fall back when they answer `ENOSYS`.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

fn cstr(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Retries a call interrupted by a signal.
fn retry<T: Copy + PartialOrd + Default>(mut f: impl FnMut() -> T) -> T {
    loop {
        let r = f();
        if r >= T::default() || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return r;
        }
    }
}

pub fn openat(dir: BorrowedFd, name: &OsStr, flags: libc::c_int, mode: u32) -> io::Result<OwnedFd> {
    let c = cstr(name)?;
    let fd = retry(|| unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c.as_ptr(),
            flags | libc::O_CLOEXEC,
            mode as libc::c_uint,
        )
    });
    check(fd)?;
    // SAFETY: openat returned a new descriptor we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `openat2(2)` with `resolve` flags. `ENOSYS` on kernels before 5.6.
pub fn openat2(
    dir: BorrowedFd,
    path: &OsStr,
    flags: libc::c_int,
    mode: u32,
    resolve: u64,
) -> io::Result<OwnedFd> {
    let c = cstr(path)?;
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.mode = if flags & libc::O_CREAT != 0 {
        mode as u64
    } else {
        0
    };
    how.resolve = resolve;
    let fd = retry(|| unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    });
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openat2 returned a new descriptor we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// The target of the symlink `name` in `dir`; `EINVAL` when it is not one.
pub fn readlinkat(dir: BorrowedFd, name: &OsStr) -> io::Result<OsString> {
    let c = cstr(name)?;
    let mut buf = vec![0u8; 256];
    loop {
        let n = unsafe {
            libc::readlinkat(
                dir.as_raw_fd(),
                c.as_ptr(),
                buf.as_mut_ptr() as *mut libc::c_char,
                buf.len(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        if n < buf.len() {
            buf.truncate(n);
            return Ok(OsString::from_vec(buf));
        }
        if buf.len() >= libc::PATH_MAX as usize * 2 {
            return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
        }
        buf.resize(buf.len() * 4, 0);
    }
}

/// `fstatat`; with `follow` false a symlink is reported as itself. An empty
/// name is `dir` itself (as `fstat`, so it works on 2.6.32).
pub fn fstatat(dir: BorrowedFd, name: &OsStr, follow: bool) -> io::Result<libc::stat> {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if name.is_empty() {
        check(unsafe { libc::fstat(dir.as_raw_fd(), &mut st) })?;
        return Ok(st);
    }
    let c = cstr(name)?;
    let flags = if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
    check(unsafe { libc::fstatat(dir.as_raw_fd(), c.as_ptr(), &mut st, flags) })?;
    Ok(st)
}

pub fn mkdirat(dir: BorrowedFd, name: &OsStr, mode: u32) -> io::Result<()> {
    let c = cstr(name)?;
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), mode as libc::mode_t) }).map(drop)
}

pub fn renameat(dir: BorrowedFd, from: &OsStr, to: &OsStr) -> io::Result<()> {
    let (f, t) = (cstr(from)?, cstr(to)?);
    check(unsafe { libc::renameat(dir.as_raw_fd(), f.as_ptr(), dir.as_raw_fd(), t.as_ptr()) })
        .map(drop)
}

/// Removes a file or symlink (`dir_too`: an empty directory).
pub fn unlinkat(dir: BorrowedFd, name: &OsStr, is_dir: bool) -> io::Result<()> {
    let c = cstr(name)?;
    let flags = if is_dir { libc::AT_REMOVEDIR } else { 0 };
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), flags) }).map(drop)
}

pub fn symlinkat(target: &OsStr, dir: BorrowedFd, name: &OsStr) -> io::Result<()> {
    let (t, n) = (cstr(target)?, cstr(name)?);
    check(unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), n.as_ptr()) }).map(drop)
}

/// `flock` without waiting: `Ok(false)` when another holder has it.
pub fn try_lock(fd: BorrowedFd) -> io::Result<bool> {
    match check(unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `flock`, waiting for other holders.
pub fn lock(fd: BorrowedFd) -> io::Result<()> {
    check(retry(|| unsafe {
        libc::flock(fd.as_raw_fd(), libc::LOCK_EX)
    }))
    .map(drop)
}

/// `syncfs` on the filesystem holding `fd`; `sync()` where the kernel has
/// no `syncfs` (before 2.6.39).
pub fn syncfs(fd: BorrowedFd) -> io::Result<()> {
    let r = unsafe { libc::syscall(libc::SYS_syncfs, fd.as_raw_fd()) };
    if r == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ENOSYS) {
        unsafe { libc::sync() };
        return Ok(());
    }
    Err(e)
}

/// A descriptor of the directory open at `dir` (maybe `O_PATH`) that
/// `syncfs` takes.
pub fn open_for_sync(dir: BorrowedFd) -> io::Result<OwnedFd> {
    openat(
        dir,
        OsStr::new("."),
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NONBLOCK,
        0,
    )
}

/// The type of the filesystem holding `fd` (`fstatfs`'s `f_type`).
pub fn fs_type(fd: BorrowedFd) -> io::Result<i64> {
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) })?;
    // (Its width differs between targets.)
    #[allow(clippy::unnecessary_cast)]
    Ok(st.f_type as i64)
}

/// Whether a filesystem type (`fs_type`) keeps its files in memory only.
pub fn is_memory_fs(f_type: i64) -> bool {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    const RAMFS_MAGIC: i64 = 0x8584_58f6;
    f_type == TMPFS_MAGIC || f_type == RAMFS_MAGIC
}

/// `sync()`: every filesystem flushed.
pub fn sync_all() {
    unsafe { libc::sync() };
}

/// The names in the directory open at `fd` (a descriptor opened for
/// reading), without `.` and `..`, in no particular order.
pub fn read_dir(fd: OwnedFd) -> io::Result<Vec<OsString>> {
    // fdopendir takes the descriptor over; closedir closes it.
    let raw = std::os::fd::IntoRawFd::into_raw_fd(fd);
    let dir = unsafe { libc::fdopendir(raw) };
    if dir.is_null() {
        let e = io::Error::last_os_error();
        unsafe { libc::close(raw) };
        return Err(e);
    }
    let mut names = Vec::new();
    let result = loop {
        // readdir signals errors only through errno.
        unsafe { *libc::__errno_location() = 0 };
        let ent = unsafe { libc::readdir(dir) };
        if ent.is_null() {
            let errno = io::Error::last_os_error();
            break match errno.raw_os_error() {
                Some(0) | None => Ok(()),
                _ => Err(errno),
            };
        }
        let name = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) }.to_bytes();
        if name != b"." && name != b".." {
            names.push(OsString::from_vec(name.to_vec()));
        }
    };
    unsafe { libc::closedir(dir) };
    result.map(|_| names)
}
