//! A tar writer in GNU tar's format (what `tar czf` writes by default),
//! for `collect-logs`' tarball: directories and regular files, GNU long
//! names, padded to GNU tar's 20-block record.

use std::io::{self, Read, Write};

const BLOCK: usize = 512;
/// GNU tar's default record: 20 blocks.
const RECORD: u64 = 20 * BLOCK as u64;

pub struct Writer<W: Write> {
    out: W,
    written: u64,
}

fn octal(field: &mut [u8], value: u64) {
    // n-1 digits, then NUL, as GNU tar writes them.
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&text.as_bytes()[text.len() - digits..]);
    field[digits] = 0;
}

impl<W: Write> Writer<W> {
    pub fn new(out: W) -> Writer<W> {
        Writer { out, written: 0 }
    }

    fn put(&mut self, data: &[u8]) -> io::Result<()> {
        self.out.write_all(data)?;
        self.written += data.len() as u64;
        Ok(())
    }

    fn pad(&mut self, len: u64) -> io::Result<()> {
        let rest = (BLOCK as u64 - len % BLOCK as u64) % BLOCK as u64;
        self.put(&vec![0; rest as usize])
    }

    fn header(&mut self, name: &str, mode: u32, mtime: i64, size: u64, kind: u8) -> io::Result<()> {
        if name.len() > 100 {
            // GNU's long name: a member of its own before the real one.
            let mut long = name.as_bytes().to_vec();
            long.push(0);
            self.raw_header("././@LongLink", 0o644, 0, long.len() as u64, b'L')?;
            self.put(&long)?;
            self.pad(long.len() as u64)?;
        }
        self.raw_header(name, mode, mtime, size, kind)
    }

    fn raw_header(
        &mut self,
        name: &str,
        mode: u32,
        mtime: i64,
        size: u64,
        kind: u8,
    ) -> io::Result<()> {
        if size >= 1 << 33 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name}: 8 GiB or more"),
            ));
        }
        let mut h = [0u8; BLOCK];
        let n = name.len().min(100);
        h[..n].copy_from_slice(&name.as_bytes()[..n]);
        octal(&mut h[100..108], u64::from(mode & 0o7777));
        // SAFETY: getuid and getgid cannot fail.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        octal(&mut h[108..116], u64::from(uid));
        octal(&mut h[116..124], u64::from(gid));
        octal(&mut h[124..136], size);
        octal(&mut h[136..148], mtime.max(0) as u64);
        h[156] = kind;
        h[257..265].copy_from_slice(b"ustar  \0");
        if uid == 0 {
            h[265..269].copy_from_slice(b"root");
        }
        if gid == 0 {
            h[297..301].copy_from_slice(b"root");
        }
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
        let text = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(text.as_bytes());
        self.put(&h)
    }

    pub fn dir(&mut self, name: &str, mode: u32, mtime: i64) -> io::Result<()> {
        self.header(&format!("{name}/"), mode, mtime, 0, b'5')
    }

    /// A file of `len` bytes from `src`: a source that ends early is
    /// padded with zeros, one that goes on is cut at `len` (a log
    /// written to while it is collected).
    pub fn file(
        &mut self,
        name: &str,
        mode: u32,
        mtime: i64,
        len: u64,
        src: &mut dyn Read,
    ) -> io::Result<()> {
        self.header(name, mode, mtime, len, b'0')?;
        let copied = io::copy(&mut src.take(len), &mut self.out)?;
        self.written += copied;
        self.put(&vec![0; (len - copied) as usize])?;
        self.pad(len)
    }

    /// The two zero blocks, then zeros to the end of the record.
    pub fn finish(mut self) -> io::Result<W> {
        self.put(&[0; 2 * BLOCK])?;
        let rest = (RECORD - self.written % RECORD) % RECORD;
        self.put(&vec![0; rest as usize])?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GNU tar's own reading of what the writer made, when it is there.
    #[test]
    fn gnu_tar_lists_what_was_written() {
        let mut w = Writer::new(Vec::new());
        let long = format!("top/{}", "d".repeat(120));
        w.dir("top", 0o755, 0).unwrap();
        w.file("top/a", 0o644, 0, 3, &mut &b"abc"[..]).unwrap();
        w.file(&long, 0o600, 0, 2, &mut &b"xy"[..]).unwrap();
        let data = w.finish().unwrap();
        assert_eq!(data.len() % 10240, 0);
        if !crate::skip::require(&[crate::skip::Need::Program("tar", "tar")]) {
            return;
        }
        let mut child = std::process::Command::new("tar")
            .args(["-tvf", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&data).unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        let names: Vec<&str> = text
            .lines()
            .map(|l| l.rsplit(' ').next().unwrap())
            .collect();
        assert_eq!(names, ["top/", "top/a", long.as_str()]);
        assert!(
            text.lines().nth(2).unwrap().starts_with("-rw-------"),
            "{text}"
        );
    }
}
