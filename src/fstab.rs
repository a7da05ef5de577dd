//! Text cloud-init's `cc_mounts` reads and writes, and its size arithmetic,
//! as pure functions: `/etc/fstab` split and put back together (lines not
//! ours kept byte for byte), `/proc/mounts`, `/proc/self/mountinfo`,
//! `/proc/meminfo`, `util.human2bytes` and `suggested_swapsize`. The mounts
//! module (`modules/mounts.rs`) decides; this only reads and computes.

use std::collections::BTreeSet;

pub const MNT_COMMENT: &str = "comment=cloudconfig";
pub const MB: u64 = 1 << 20;
const GB: u64 = 1 << 30;

/// cloud-init's `string.whitespace`, which its `WS` regex splits fstab lines on.
pub fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Python's `str.splitlines()` on UTF-8 text (every line boundary Python
/// knows), else `bytes.splitlines()` (`\n`, `\r`, `\r\n`). Lines are kept as
/// bytes so that nothing a person wrote is changed.
pub fn splitlines(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let text = std::str::from_utf8(data).is_ok();
    while i < data.len() {
        let b = data[i];
        let sep_len = match b {
            b'\r' if data.get(i + 1) == Some(&b'\n') => 2,
            b'\n' | b'\r' => 1,
            0x0b | 0x0c | 0x1c | 0x1d | 0x1e if text => 1,
            // U+0085, U+2028, U+2029 in UTF-8.
            0xc2 if text && data.get(i + 1) == Some(&0x85) => 2,
            0xe2 if text
                && data.get(i + 1) == Some(&0x80)
                && matches!(data.get(i + 2), Some(0xa8 | 0xa9)) =>
            {
                3
            }
            _ => 0,
        };
        if sep_len > 0 {
            out.push(data[start..i].to_vec());
            i += sep_len;
            start = i;
        } else {
            i += 1;
        }
    }
    if start < data.len() {
        out.push(data[start..].to_vec());
    }
    out
}

/// `WS.split(line)[0]`: the text before the first blank ("" when the line
/// starts with one).
fn first_token(line: &[u8]) -> &[u8] {
    let end = line.iter().position(|&b| is_ws(b)).unwrap_or(line.len());
    &line[..end]
}

/// `WS.sub(" ", line)`: every run of blanks made one space.
fn squeeze(line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut in_ws = false;
    for &b in line {
        if is_ws(b) {
            if !in_ws {
                out.push(b' ');
            }
            in_ws = true;
        } else {
            out.push(b);
            in_ws = false;
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The existing fstab split as cloud-init splits it.
#[derive(Debug, Default)]
pub struct OldFstab {
    /// Lines kept (not ours), in order.
    pub kept: Vec<Vec<u8>>,
    /// First token of each kept line (`fstab_devs`).
    pub devs: BTreeSet<Vec<u8>>,
    /// Lines holding `comment=cloudconfig` (`fstab_removed`).
    pub removed: Vec<Vec<u8>>,
}

pub fn read_fstab(data: Option<&[u8]>) -> OldFstab {
    let mut f = OldFstab::default();
    for line in splitlines(data.unwrap_or_default()) {
        if contains(&line, MNT_COMMENT.as_bytes()) {
            f.removed.push(line);
            continue;
        }
        f.devs.insert(first_token(&line).to_vec());
        f.kept.push(line);
    }
    f
}

/// The new fstab: the kept lines, then ours, each ended by a newline.
pub fn compose_fstab(kept: &[Vec<u8>], ours: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in kept {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    for line in ours {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

/// Whether the lines written differ from the `comment=cloudconfig` lines
/// that were there, blanks aside (22.4's `sops`).
pub fn fstab_changed(removed: &[Vec<u8>], ours: &[String]) -> bool {
    let adds: Vec<Vec<u8>> = ours.iter().map(|l| squeeze(l.as_bytes())).collect();
    let drops: Vec<Vec<u8>> = removed.iter().map(|l| squeeze(l)).collect();
    drops.iter().any(|d| !adds.contains(d)) || adds.iter().any(|a| !drops.contains(a))
}

/// Mount points from `/proc/mounts` as `util.mounts()` gives them: one per
/// device (a later line for the same device wins), `\040` made a space.
pub fn mount_points(proc_mounts: &str) -> Vec<String> {
    let mut by_dev: Vec<(String, String)> = Vec::new();
    for line in proc_mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != 6 {
            continue;
        }
        let mp = f[1].replace("\\040", " ");
        match by_dev.iter_mut().find(|(d, _)| d == f[0]) {
            Some(e) => e.1 = mp,
            None => by_dev.push((f[0].to_string(), mp)),
        }
    }
    by_dev.into_iter().map(|(_, mp)| mp).collect()
}

/// The filesystem type of the mount holding `path`, from
/// `/proc/self/mountinfo` as `util.parse_mount_info` reads it.
pub fn mount_fstype(mountinfo: &str, path: &str) -> Option<String> {
    let elems: Vec<&str> = path.split('/').filter(|e| !e.is_empty()).collect();
    let mut best: Option<(usize, String)> = None;
    for line in mountinfo.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.len() < 10 {
            return None;
        }
        let mp: Vec<&str> = parts[4].split('/').filter(|e| !e.is_empty()).collect();
        if mp.len() > elems.len() || mp[..] != elems[..mp.len()] {
            continue;
        }
        if best.as_ref().is_some_and(|(n, _)| *n > mp.len()) {
            continue;
        }
        let dash = parts.iter().position(|p| *p == "-")?;
        let fstype = parts.get(dash + 1)?;
        parts.get(dash + 2)?;
        best = Some((mp.len(), fstype.to_string()));
    }
    best.map(|(_, t)| t)
}

/// `(major, minor)` of a kernel release such as `4.14.0-1-amd64`.
pub fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut it = release.trim().split('.');
    let major = it.next()?.parse().ok()?;
    let minor: String = it
        .next()?
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    Some((major, minor.parse().ok()?))
}

/// `util.human2bytes`: `16M`, `.5G`, `100`, `1MB` (`B`, `K`, `M`, `G`, `T`,
/// upper case only); a float times the multiplier, truncated.
pub fn human2bytes(size: &str) -> Result<u64, String> {
    let invalid = || format!("'{size}' is not valid input.");
    let s = size.strip_suffix('B').unwrap_or(size);
    let (num, mult) = match s.chars().last() {
        Some('K') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M') => (&s[..s.len() - 1], 1 << 20),
        Some('G') => (&s[..s.len() - 1], 1 << 30),
        Some('T') => (&s[..s.len() - 1], 1 << 40),
        Some('B') => (&s[..s.len() - 1], 1),
        _ => (s, 1),
    };
    let num = parse_python_float(num).ok_or_else(invalid)?;
    if num < 0.0 {
        return Err(format!("'{size}': cannot be negative"));
    }
    let bytes = num * mult as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("'{size}' is too large"));
    }
    Ok(bytes as u64)
}

/// Python's `float(text)` for finite decimal numbers: blanks around, a sign,
/// digits with single `_` between them, a fraction, an exponent.
pub fn parse_python_float(text: &str) -> Option<f64> {
    let t = text.trim_matches(|c: char| c.is_whitespace());
    if t.is_empty() {
        return None;
    }
    let bytes = t.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let ok = match b {
            b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-' => true,
            b'_' => {
                i > 0
                    && i + 1 < bytes.len()
                    && bytes[i - 1].is_ascii_digit()
                    && bytes[i + 1].is_ascii_digit()
            }
            _ => false,
        };
        if !ok {
            return None;
        }
    }
    let v: f64 = t.replace('_', "").parse().ok()?;
    v.is_finite().then_some(v)
}

/// `MemTotal` from a `/proc/meminfo` text, in bytes (`util.read_meminfo`).
pub fn mem_total(meminfo: &str) -> Option<u64> {
    for line in meminfo.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.first() != Some(&"MemTotal:") || f.len() < 2 {
            continue;
        }
        let n: u64 = f[1].parse().ok()?;
        let mult = match f.get(2).copied() {
            None | Some("B") => 1,
            Some("kB") => 1 << 10,
            Some("mB") => 1 << 20,
            Some("gB") => 1 << 30,
            Some(_) => return None,
        };
        return n.checked_mul(mult);
    }
    None
}

/// `suggested_swapsize(memsize, maxsize, fsys)`, with `avail` the free bytes
/// of the swap file's filesystem when it is known (`fsys` given).
pub fn suggested_swapsize(memsize: u64, maxsize: Option<u64>, avail: Option<u64>) -> u64 {
    let sugg_max = memsize * 2;
    let maxsize = match (avail, maxsize) {
        (None, None) => sugg_max,
        (Some(avail), None) => ((avail as f64 / 4.0) as u64).min(sugg_max),
        (Some(avail), Some(m)) if m as f64 > avail as f64 * 0.9 => (avail as f64 * 0.9) as u64,
        (_, Some(m)) => m,
    };
    let minsize = if memsize < 4 * GB {
        memsize
    } else if memsize < 16 * GB {
        4 * GB
    } else {
        // Python's round(): half to even.
        let r = (memsize as f64 / GB as f64).sqrt();
        let mut n = r.round();
        if (r - r.trunc() - 0.5).abs() < f64::EPSILON && n % 2.0 != 0.0 {
            n -= 1.0;
        }
        n as u64 * GB
    };
    minsize.min(maxsize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitlines_like_python() {
        assert_eq!(
            splitlines(b"a\nb\r\nc\rd\x0be\x0cf"),
            vec![
                b"a".to_vec(),
                b"b".to_vec(),
                b"c".to_vec(),
                b"d".to_vec(),
                b"e".to_vec(),
                b"f".to_vec()
            ]
        );
        assert_eq!(
            splitlines(b"a\n\nb\n"),
            vec![b"a".to_vec(), vec![], b"b".to_vec()]
        );
        assert_eq!(splitlines(b""), Vec::<Vec<u8>>::new());
        // Not UTF-8: only \n, \r, \r\n split, bytes kept.
        assert_eq!(
            splitlines(b"caf\xe9\x0bx\ny"),
            vec![b"caf\xe9\x0bx".to_vec(), b"y".to_vec()]
        );
        assert_eq!(
            splitlines("a\u{2028}b\u{85}c".as_bytes()),
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
        );
    }

    #[test]
    fn mount_points_and_fstype() {
        let pm = "/dev/vda1 / ext4 rw 0 0\ntmpfs /run tmpfs rw 0 0\ntmpfs /dev/shm tmpfs rw 0 0\n/dev/vdb /mnt/my\\040disk ext4 rw 0 0\nbad line\n";
        assert_eq!(mount_points(pm), vec!["/", "/dev/shm", "/mnt/my disk"]);
        let mi = "22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n\
                  30 22 0:40 / /var rw shared:2 - btrfs /dev/vdb rw\n\
                  31 30 0:41 / /var/lib/x rw shared:3 - xfs /dev/vdc rw\n";
        assert_eq!(mount_fstype(mi, "/").as_deref(), Some("ext4"));
        assert_eq!(mount_fstype(mi, "/var/swap").as_deref(), Some("btrfs"));
        assert_eq!(mount_fstype(mi, "/var/lib/x").as_deref(), Some("xfs"));
        assert_eq!(mount_fstype(mi, "/variable").as_deref(), Some("ext4"));
        assert_eq!(mount_fstype("short line\n", "/"), None);
        assert_eq!(kernel_version("4.14.0-1-amd64"), Some((4, 14)));
        assert_eq!(kernel_version("6.1.0-rc1"), Some((6, 1)));
    }

    #[test]
    fn meminfo() {
        assert_eq!(
            mem_total("MemTotal:        2030992 kB\nMemFree: 1 kB\n"),
            Some(2030992 * 1024)
        );
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
    }

    /// tests/fixtures/mounts/golden.json: cloud-init 22.4's own functions
    /// (see the README there).
    fn golden() -> serde_json::Value {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/mounts/golden.json");
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    }

    #[test]
    fn human2bytes_matches_cloud_init() {
        let g = golden();
        let cases = g["human2bytes"].as_array().unwrap();
        for c in cases {
            let input = c["in"].as_str().unwrap();
            match c.get("out") {
                Some(o) => assert_eq!(human2bytes(input), Ok(o.as_u64().unwrap()), "{input:?}"),
                None => assert!(human2bytes(input).is_err(), "{input:?}"),
            }
        }
        assert_eq!(cases.len(), 27);
    }

    #[test]
    fn suggested_swapsize_matches_cloud_init() {
        let g = golden();
        let cases = g["suggested_swapsize"].as_array().unwrap();
        for c in cases {
            let mem = c["mem"].as_u64().unwrap();
            let max = c["max"].as_u64();
            let avail = c["avail"].as_u64();
            assert_eq!(
                suggested_swapsize(mem, max, avail),
                c["size"].as_u64().unwrap(),
                "{c}"
            );
        }
        assert_eq!(cases.len(), 144);
    }
}
