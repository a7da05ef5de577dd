//! The swap file (`handle_swapcfg`): its size (`util.human2bytes`,
//! `/proc/meminfo`, `suggested_swapsize` with the free space the host
//! reports for a live root), and the effects that make it.

use std::path::{Path, PathBuf};

use super::fstab::{kernel_version, mount_fstype};
use crate::module::prelude::*;

pub const MB: u64 = 1 << 20;
const GB: u64 = 1 << 30;

/// `util.human2bytes`: `16M`, `.5G`, `100`, `1MB` (`B`, `K`, `M`, `G`, `T`,
/// upper case only); a float times the multiplier, truncated.
pub fn human2bytes(size: &str) -> Result<u64, ConfigError> {
    let error = |what: String| ConfigError::new("swap.size", what);
    let invalid = || error(format!("'{size}' is not valid input."));
    let s = size.strip_suffix('B').unwrap_or(size);
    let (num, mult) = match s.chars().last() {
        Some('K') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M') => (&s[..s.len() - 1], 1 << 20),
        Some('G') => (&s[..s.len() - 1], 1 << 30),
        Some('T') => (&s[..s.len() - 1], 1 << 40),
        Some('B') => (&s[..s.len() - 1], 1),
        _ => (s, 1),
    };
    let num = py::float::parse(num)
        .filter(|n| n.is_finite())
        .ok_or_else(invalid)?;
    if num < 0.0 {
        return Err(error(format!("'{size}': cannot be negative")));
    }
    let bytes = num * mult as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(error(format!("'{size}' is too large")));
    }
    Ok(bytes as u64)
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

/// A size as the config gives it (`swap.<key>`).
fn size_value(v: &Value, key: &str) -> Result<Option<f64>, ConfigError> {
    let error = |message: String| ConfigError::new(format!("swap.{key}"), message);
    match v {
        Value::Null => Ok(None),
        Value::Int(i) if *i >= 0 => Ok(Some(*i as f64)),
        Value::Float(f) if f.is_finite() && *f >= 0.0 => Ok(Some(*f)),
        Value::Str(s) => human2bytes(s)
            .map(|b| Some(b as f64))
            .map_err(|e| error(format!("swap.{key}: {e}"))),
        other => Err(error(format!(
            "swap.{key}: expected a size in bytes or text such as 512M, found {} ({})",
            other.type_name(),
            other.python_str()
        ))),
    }
}

/// `os.path.dirname`.
fn dirname(p: &str) -> String {
    let Some(i) = p.rfind('/') else {
        return String::new();
    };
    let head = &p[..=i];
    match head.trim_end_matches('/') {
        "" => head.to_string(),
        trimmed => trimmed.to_string(),
    }
}

/// What the swap config leads to.
#[derive(Debug, Default)]
pub struct SwapPlan {
    pub effects: Vec<Effect>,
    /// The file to list in fstab (`handle_swapcfg`'s return value).
    pub fstab_name: Option<String>,
}

/// `handle_swapcfg(cfg.get("swap", {}))`.
pub fn plan_swap(ctx: &Context, out: &mut ModuleOutput) -> SwapPlan {
    let mut plan = SwapPlan::default();
    let swap = match ctx.cfg.get("swap") {
        None | Some(Value::Null) => return plan,
        Some(Value::Map(m)) => m,
        Some(other) => {
            out.error(format!(
                "swap: expected a mapping with filename, size, maxsize, found {}; no swap file",
                other.type_name()
            ));
            return plan;
        }
    };
    let fname = match swap.get("filename") {
        None => "/swap.img".to_string(),
        Some(Value::Null) => String::new(),
        Some(Value::Str(s)) => s.clone(),
        Some(other) => {
            out.error(format!(
                "swap.filename: expected a path, found {} ({}); no swap file",
                other.type_name(),
                other.python_str()
            ));
            return plan;
        }
    };
    let size = swap.get("size").cloned().unwrap_or(Value::Int(0));
    if !size.truthy() || fname.is_empty() {
        out.note("no need to setup swap");
        return plan;
    }
    if !fname.starts_with('/') {
        out.error(format!(
            "swap.filename: '{fname}' is not an absolute path; no swap file"
        ));
        return plan;
    }
    if ctx.fs.exists(Path::new(&fname)) {
        match ctx.fs.read(Path::new("/proc/swaps")) {
            Err(_) if !ctx.fs.exists(Path::new("/proc/swaps")) => {
                out.note(format!(
                    "swap file {fname} exists, but no /proc/swaps exists, being safe"
                ));
                plan.fstab_name = Some(fname);
                return plan;
            }
            Err(_) => {
                tracing::warn!("swap file {fname} exists. Error reading /proc/swaps");
                plan.fstab_name = Some(fname);
                return plan;
            }
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                if text.lines().any(|l| l.starts_with(&format!("{fname} "))) {
                    out.note(format!("swap file {fname} already in use"));
                    plan.fstab_name = Some(fname);
                    return plan;
                }
                out.note(format!("swap file {fname} exists, but not in /proc/swaps"));
            }
        }
    }
    let swap_dir = dirname(&fname);
    let auto = matches!(&size, Value::Str(s) if s == "auto");
    let size_bytes = if auto {
        None
    } else {
        match size_value(&size, "size") {
            Ok(v) => v,
            Err(e) => {
                out.error(format!("{e} No swap file made."));
                return plan;
            }
        }
    };
    let maxsize = match swap.get("maxsize").map(|v| size_value(v, "maxsize")) {
        None => None,
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            out.error(format!("{e} No swap file made."));
            return plan;
        }
    };
    let mut dir_made = false;
    let mut ensure_dir = |effects: &mut Vec<Effect>| {
        if !dir_made && !ctx.fs.is_dir(Path::new(&swap_dir)) {
            effects.push(Effect::Mkdir {
                path: PathBuf::from(&swap_dir),
                mode: 0o755,
            });
        }
        dir_made = true;
    };
    let size = if auto {
        let Some(mem) = ctx
            .fs
            .read_string(Path::new("/proc/meminfo"))
            .and_then(|t| mem_total(&t))
        else {
            out.note("Not creating swap: failed to read meminfo");
            return plan;
        };
        ensure_dir(&mut plan.effects);
        let avail = ctx.host.free_bytes(ctx.fs, &swap_dir);
        suggested_swapsize(mem, maxsize.map(|m| m as u64), avail) as f64
    } else {
        size_bytes.unwrap_or(0.0)
    };
    // `str(int(size / (2**20)))`
    let mib = (size / MB as f64) as u64;
    if size == 0.0 {
        out.note("Not creating swap: suggested size was 0");
        return plan;
    }
    if mib == 0 {
        out.error(format!(
            "swap.size: {size} bytes is less than 1 MiB, the smallest swap file that can be made; no swap file"
        ));
        return plan;
    }
    ensure_dir(&mut plan.effects);
    let fstype = ctx
        .fs
        .read_string(Path::new("/proc/self/mountinfo"))
        .and_then(|t| mount_fstype(&t, &swap_dir))
        .unwrap_or_default();
    let old_kernel = ctx
        .fs
        .read_string(Path::new("/proc/sys/kernel/osrelease"))
        .and_then(|r| kernel_version(&r))
        .is_some_and(|v| v < (4, 18));
    let dd =
        (fstype == "xfs" && old_kernel) || matches!(fstype.as_str(), "btrfs" | "ext2" | "ext3");
    let fill = if dd {
        vec![
            "dd".to_string(),
            "if=/dev/zero".into(),
            format!("of={fname}"),
            "bs=1M".into(),
            format!("count={mib}"),
        ]
    } else {
        vec![
            "fallocate".to_string(),
            "-l".into(),
            format!("{mib}M"),
            fname.clone(),
        ]
    };
    // Made empty and private first: swap holds memory, never readable by others.
    plan.effects
        .push(Effect::write(&fname, Data::public(Vec::new()), 0o600));
    let mut fill = Command::new(fill).on_failure(OnFailure::Report);
    fill.creates.push(PathBuf::from(&fname));
    plan.effects.push(Effect::Run(fill));
    plan.effects.push(Effect::Run(
        Command::new(["mkswap", fname.as_str()]).on_failure(OnFailure::Report),
    ));
    plan.fstab_name = Some(fname);
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirnames() {
        assert_eq!(dirname("/swapfile"), "/");
        assert_eq!(dirname("/var/swap.img"), "/var");
        assert_eq!(dirname("/a/b/c"), "/a/b");
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
