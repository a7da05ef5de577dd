//! A line-oriented channel to the host: a serial port (CloudSigma's and
//! SmartOS KVM's `/dev/ttyS1`) or a unix socket (SmartOS LX zones'
//! `/native/.zonecontrol/metadata.sock`), opened by its guest path under
//! the target root. Whatever is at that path is used as it is: a character
//! device is put in raw mode (as pyserial opens it: 9600 8N1, no echo, no
//! line editing), a unix socket is connected to, so a test stands a socket
//! it serves in for `/dev/ttyS1`. Every read and write has a deadline; a
//! line is bounded in size.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::rootfs::Root;

/// Why talking to the port failed, in words that name it.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum PortError {
    #[error("{port}: {error}")]
    Open { port: String, error: String },
    #[error("{port}: no answer within {secs:.1} s (read so far: {partial:?})")]
    Timeout {
        port: String,
        secs: f64,
        partial: String,
    },
    #[error("{port}: closed by the other end (read so far: {partial:?})")]
    Closed { port: String, partial: String },
    #[error("{port}: a line longer than {max} bytes")]
    TooLong { port: String, max: usize },
    #[error("{port}: {error}")]
    Io { port: String, error: String },
}

/// An open port.
pub struct Port {
    file: File,
    /// The guest path, for messages.
    shown: String,
    /// Bytes read past the last line returned.
    pending: Vec<u8>,
}

impl Port {
    /// Opens the guest path `guest` under `root`: a unix socket is
    /// connected to, anything else (a tty) opened read-write.
    pub fn open(root: &Root, guest: &Path) -> Result<Port, PortError> {
        let shown = guest.display().to_string();
        let open_err = |e: std::io::Error| PortError::Open {
            port: shown.clone(),
            error: e.to_string(),
        };
        let host = root.resolve(guest).map_err(open_err)?;
        let kind = std::fs::metadata(&host).map_err(open_err)?.file_type();
        let file = if kind.is_socket() {
            let stream = std::os::unix::net::UnixStream::connect(&host).map_err(open_err)?;
            stream.set_nonblocking(true).map_err(open_err)?;
            File::from(OwnedFd::from(stream))
        } else {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
                .open(&host)
                .map_err(open_err)?;
            raw_mode(&file);
            file
        };
        Ok(Port {
            file,
            shown,
            pending: Vec::new(),
        })
    }

    fn io_err(&self, e: std::io::Error) -> PortError {
        PortError::Io {
            port: self.shown.clone(),
            error: e.to_string(),
        }
    }

    /// Waits until the port is ready for `events`, or the deadline passes.
    fn wait(&self, events: libc::c_short, deadline: Instant) -> Result<bool, PortError> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            let mut pfd = libc::pollfd {
                fd: self.file.as_raw_fd(),
                events,
                revents: 0,
            };
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
            // SAFETY: one pollfd we own, for the length given.
            let n = unsafe { libc::poll(&mut pfd, 1, ms) };
            if n > 0 {
                return Ok(true);
            }
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(self.io_err(e));
                }
            }
        }
    }

    /// Writes all of `bytes` within `timeout`.
    pub fn write_all(&mut self, bytes: &[u8], timeout: Duration) -> Result<(), PortError> {
        let deadline = Instant::now() + timeout;
        let mut done = 0;
        while done < bytes.len() {
            if !self.wait(libc::POLLOUT, deadline)? {
                return Err(PortError::Timeout {
                    port: self.shown.clone(),
                    secs: timeout.as_secs_f64(),
                    partial: String::new(),
                });
            }
            match self.file.write(&bytes[done..]) {
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_err(e)),
            }
        }
        Ok(())
    }

    /// The next line, without its `\n`, read within `timeout` and at most
    /// `max` bytes long.
    pub fn read_line(&mut self, timeout: Duration, max: usize) -> Result<Vec<u8>, PortError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(at) = self.pending.iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = self.pending.drain(..=at).collect();
                line.pop();
                return Ok(line);
            }
            if self.pending.len() > max {
                return Err(PortError::TooLong {
                    port: self.shown.clone(),
                    max,
                });
            }
            let partial = || String::from_utf8_lossy(&self.pending).into_owned();
            if !self.wait(libc::POLLIN, deadline)? {
                return Err(PortError::Timeout {
                    port: self.shown.clone(),
                    secs: timeout.as_secs_f64(),
                    partial: partial(),
                });
            }
            let mut buf = [0u8; 4096];
            match self.file.read(&mut buf) {
                Ok(0) => {
                    return Err(PortError::Closed {
                        port: self.shown.clone(),
                        partial: partial(),
                    })
                }
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_err(e)),
            }
        }
    }

    /// Drops what has arrived but not been read as a line (a partial line
    /// left by a timeout).
    pub fn discard_pending(&mut self) {
        self.pending.clear();
    }
}

/// pyserial's settings for a tty: raw, 9600 baud, 8N1, the modem lines
/// ignored. Not a tty (a socket, a file in a test): nothing to set.
fn raw_mode(file: &File) {
    let fd = file.as_raw_fd();
    // SAFETY: termios is plain data filled by tcgetattr on our own fd.
    unsafe {
        if libc::isatty(fd) != 1 {
            return;
        }
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut t) != 0 {
            return;
        }
        libc::cfmakeraw(&mut t);
        t.c_cflag |= libc::CLOCAL | libc::CREAD;
        t.c_cc[libc::VMIN] = 0;
        t.c_cc[libc::VTIME] = 0;
        libc::cfsetispeed(&mut t, libc::B9600);
        libc::cfsetospeed(&mut t, libc::B9600);
        libc::tcsetattr(fd, libc::TCSANOW, &t);
    }
}
