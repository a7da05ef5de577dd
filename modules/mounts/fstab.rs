//! The fstab lines: `/etc/fstab` split and put back together as cloud-init's
//! `cc_mounts` does (lines not ours kept byte for byte), the kernel's mount
//! tables (`/proc/mounts`, `/proc/self/mountinfo`), and the `mounts`
//! entries turned into lines (`decide`).

use std::collections::BTreeSet;

use super::devices::Devices;
use crate::module::prelude::*;

pub const MNT_COMMENT: &str = "comment=cloudconfig";
/// 22.4's default options where systemd runs.
pub const SYSTEMD_OPTS: &str = "defaults,nofail,x-systemd.requires=cloud-init.service,_netdev";
/// 22.4's default options elsewhere (not used: see the module docs).
pub const SYSVINIT_OPTS_22_4: &str = "defaults,nobootwait";
/// cloudboot's default options where systemd does not run.
pub const SYSVINIT_OPTS: &str = "defaults,nofail";

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

// ---------------------------------------------------------------------------
// The `mounts` entries, made fstab lines

/// One fstab entry being built.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// How messages name it (`mounts[2]`, `default mount ephemeral0`).
    pub label: String,
    pub fields: Vec<Option<String>>,
    /// The options were filled in by cloudboot, not written in the entry.
    pub generated_opts: bool,
}

const FIELD_NAMES: [&str; 6] = [
    "fs_spec",
    "fs_file",
    "fs_vfstype",
    "fs_mntops",
    "fs_freq",
    "fs_passno",
];

/// A config field as text: `str()` of a scalar, `None` for null.
fn field_text(v: &Value) -> Result<Option<String>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Str(s) => Ok(Some(s.clone())),
        Value::Int(_)
        | Value::BigInt(_)
        | Value::Float(_)
        | Value::Bool(_)
        | Value::Timestamp(_) => Ok(Some(v.python_str())),
        other => Err(format!(
            "expected a string, found {} ({})",
            other.type_name(),
            other.python_str()
        )),
    }
}

/// `mount_default_fields`, or 22.4's default (with cloudboot's sysvinit options).
pub fn default_fields(cfg: &Value, systemd: bool) -> Result<Vec<Option<String>>, ConfigError> {
    let error = |message: String| ConfigError::new("mount_default_fields", message);
    let opts = if systemd { SYSTEMD_OPTS } else { SYSVINIT_OPTS };
    let builtin = vec![
        None,
        None,
        Some("auto".to_string()),
        Some(opts.to_string()),
        Some("0".to_string()),
        Some("2".to_string()),
    ];
    let items = match cfg.get("mount_default_fields") {
        None | Some(Value::Null) => return Ok(builtin),
        Some(Value::Seq(items)) => items,
        Some(other) => {
            return Err(error(format!(
                "mount_default_fields: expected a list of 6 fields, found {}",
                other.type_name()
            )))
        }
    };
    if items.len() != 6 {
        return Err(error(format!(
            "mount_default_fields: expected 6 fields [fs_spec, fs_file, fs_vfstype, fs_mntops, fs_freq, fs_passno], found {}",
            items.len()
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(j, v)| field_text(v).map_err(|e| error(format!("mount_default_fields[{j}]: {e}"))))
        .collect()
}

/// Why a field cannot go into an fstab line as it is.
/// (Empty options are fine: `comment=cloudconfig` follows them.)
fn field_problem(j: usize, text: &str) -> Option<&'static str> {
    if text.is_empty() && j != 3 {
        Some("is empty")
    } else if text.bytes().any(|b| is_ws(b) || b < 0x20 || b == 0x7f) {
        Some("contains blanks or control characters (write a space as \\040)")
    } else {
        None
    }
}

/// `has an option` in a comma-separated option list.
pub fn has_option(opts: &str, name: &str) -> bool {
    opts.split(',').any(|o| o == name)
}

/// The deliberate fix: options cloudboot filled in always carry `nofail`.
pub fn with_nofail(opts: &str) -> String {
    if has_option(opts, "nofail") {
        opts.to_string()
    } else if opts.is_empty() {
        "nofail".into()
    } else {
        format!("{opts},nofail")
    }
}

/// Everything the module decided, before it becomes effects.
#[derive(Debug, Default)]
pub struct Decision {
    /// Lines to write (already marked `comment=cloudconfig`).
    pub lines: Vec<String>,
    pub mount_dirs: Vec<String>,
    pub needswap: bool,
}

/// The `mounts` entries, the defaults and the swap file name turned into
/// fstab lines, as `handle()` does; bad entries reported in `out`.
pub fn decide(
    cfg: &Value,
    devices: &Devices,
    old: &OldFstab,
    defvals: &[Option<String>],
    swapfile: Option<&str>,
    out: &mut ModuleOutput,
) -> Decision {
    let mut entries: Vec<Entry> = Vec::new();
    let given: &[Value] = match cfg.get("mounts") {
        Some(Value::Seq(items)) => items,
        _ => &[],
    };
    // First pass: checks, device names.
    for (i, item) in given.iter().enumerate() {
        let label = format!("mounts[{i}]");
        let Value::Seq(items) = item else {
            out.error(format!(
                "{label}: expected a list [fs_spec, fs_file, fs_vfstype, fs_mntops, fs_freq, fs_passno], found {} ({}); entry skipped",
                item.type_name(),
                item.python_str()
            ));
            continue;
        };
        if items.is_empty() || items.len() > 6 {
            out.error(format!(
                "{label}: an fstab entry has 1 to 6 fields, found {}; entry skipped",
                items.len()
            ));
            continue;
        }
        let fields: Result<Vec<Option<String>>, String> = items
            .iter()
            .enumerate()
            .map(|(j, v)| {
                field_text(v).map_err(|e| format!("{label}[{j}] ({}): {e}", FIELD_NAMES[j]))
            })
            .collect();
        let mut fields = match fields {
            Ok(f) => f,
            Err(e) => {
                out.error(format!("{e}; entry skipped"));
                continue;
            }
        };
        let start = fields[0].clone().unwrap_or_else(|| "None".into());
        match devices.sanitize(&start) {
            None => {
                tracing::debug!("Ignoring nonexistent named mount {start}");
            }
            Some(s) if old.devs.contains(s.as_bytes()) => {
                tracing::info!("Device {s} already defined in fstab");
            }
            Some(s) => {
                if s != start {
                    tracing::debug!("changed {start} => {s}");
                }
                fields[0] = Some(s);
            }
        }
        let generated_opts = fields.get(3).is_none_or(Option::is_none);
        entries.push(Entry {
            label,
            fields,
            generated_opts,
        });
    }
    // Second pass: defaults, and `null` in the second field.
    for i in 0..entries.len() {
        let e = &mut entries[i];
        for (j, def) in defvals.iter().enumerate() {
            if e.fields.len() <= j {
                e.fields.push(def.clone());
            } else if e.fields[j].is_none() {
                e.fields[j] = def.clone();
            }
        }
        if entries[i].fields[1].is_none() {
            let spec = entries[i].fields[0].clone();
            for e in entries.iter_mut().take(i) {
                if e.fields[0] == spec {
                    e.fields[1] = None;
                }
            }
        }
    }
    // The default mounts, where they resolve and nothing names them.
    let defmnts = [
        Entry {
            label: "default mount ephemeral0".into(),
            fields: vec![
                Some("ephemeral0".into()),
                Some("/mnt".into()),
                Some("auto".into()),
                defvals.get(3).cloned().flatten(),
                Some("0".into()),
                Some("2".into()),
            ],
            generated_opts: true,
        },
        Entry {
            label: "default mount swap".into(),
            fields: ["swap", "none", "swap", "sw", "0", "0"]
                .iter()
                .map(|s| Some(s.to_string()))
                .collect(),
            generated_opts: true,
        },
    ];
    for mut d in defmnts {
        let start = d.fields[0].clone().unwrap_or_default();
        let Some(s) = devices.sanitize(&start) else {
            tracing::debug!("Ignoring nonexistent default named mount {start}");
            continue;
        };
        if old.devs.contains(s.as_bytes()) {
            tracing::debug!("Device {s} already defined in fstab");
            continue;
        }
        if entries
            .iter()
            .any(|e| e.fields[0].as_deref() == Some(s.as_str()))
        {
            tracing::debug!("Not including {start}, already previously included");
            continue;
        }
        d.fields[0] = Some(s);
        entries.push(d);
    }
    let mut act: Vec<Entry> = entries
        .into_iter()
        .filter(|e| {
            let keep = e.fields[1].is_some();
            if !keep {
                tracing::debug!(
                    "Skipping nonexistent device named {}",
                    e.fields[0].as_deref().unwrap_or("None")
                );
            }
            keep
        })
        .collect();
    if let Some(f) = swapfile {
        act.push(Entry {
            label: "swap file".into(),
            fields: [f, "none", "swap", "sw", "0", "0"]
                .iter()
                .map(|s| Some(s.to_string()))
                .collect(),
            generated_opts: false,
        });
    }
    let mut d = Decision::default();
    'entries: for e in act {
        let mut fields = Vec::with_capacity(e.fields.len());
        for (j, f) in e.fields.iter().enumerate() {
            let name = FIELD_NAMES.get(j).copied().unwrap_or("field");
            let problem = match f {
                None => Some("is null and mount_default_fields gives no value"),
                Some(t) => field_problem(j, t),
            };
            if let Some(p) = problem {
                out.error(format!(
                    "{} ({}): {name} {p}; entry skipped",
                    e.label,
                    e.fields
                        .iter()
                        .map(|f| f.as_deref().unwrap_or("null"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
                continue 'entries;
            }
            fields.push(f.clone().unwrap_or_default());
        }
        if e.generated_opts {
            fields[3] = with_nofail(&fields[3]);
        }
        fields[3] = format!("{},{MNT_COMMENT}", fields[3]);
        if fields[2] == "swap" {
            d.needswap = true;
        }
        if fields[1].starts_with('/') {
            d.mount_dirs.push(fields[1].clone());
        }
        d.lines.push(fields.join("\t"));
    }
    d
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
    fn nofail_is_added_once() {
        assert_eq!(with_nofail("defaults"), "defaults,nofail");
        assert_eq!(with_nofail("defaults,nofail"), "defaults,nofail");
        assert_eq!(with_nofail(""), "nofail");
        assert_eq!(with_nofail("nofailx"), "nofailx,nofail");
    }
}
