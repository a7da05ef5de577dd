//! fs_setup: one filesystem per entry, as 22.4's `update_fs_setup_devices`
//! and `mkfs(fs_cfg)` decide where it goes and how it is made (see the
//! module's header for the keys).

use super::{tool, DiskView, Failure};
use crate::module::prelude::*;
use crate::modules::shared::block_devices::refusal;

/// Python's `str()` of a key, `None` when absent.
fn text(def: &Mapping, key: &str) -> Option<String> {
    def.get(key).filter(|v| !v.is_null()).map(Value::python_str)
}

/// Python's `%` with a mapping: `%(name)s` replaced, `%%` a `%`.
fn percent_format(template: &str, names: &[(&str, String)]) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('%') {
            out.push('%');
            rest = r;
            continue;
        }
        let Some(inner) = after.strip_prefix('(') else {
            return Err("format requires a mapping".into());
        };
        let close = inner.find(')').ok_or("incomplete format key")?;
        let key = &inner[..close];
        let conv = inner[close + 1..]
            .chars()
            .next()
            .ok_or("incomplete format")?;
        if conv != 's' {
            return Err(format!("unsupported format character '{conv}'"));
        }
        let value = names
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| format!("'{key}'"))?;
        out.push_str(&value);
        rest = &inner[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `lookup_force_flag(fs)`.
fn force_flag(fs: &str, out: &mut ModuleOutput) -> Option<&'static str> {
    let fs = fs.to_lowercase();
    let key = if fs.contains("ext") {
        "ext"
    } else {
        fs.as_str()
    };
    match key {
        "ext" => Some("-F"),
        "btrfs" | "xfs" | "reiserfs" | "swap" => Some("-f"),
        _ => {
            out.note(format!("Force flag for {fs} is unknown."));
            None
        }
    }
}

/// `update_fs_setup_devices` for one entry, then `mkfs(fs_cfg)`.
pub(super) fn mkfs(
    ctx: &Context,
    disks: &mut DiskView,
    def: &Mapping,
    out: &mut ModuleOutput,
) -> Result<(), Failure> {
    let mut device = text(def, "device");
    let mut partition = def.get("partition").map(Value::python_str);
    if let Some(origname) = device.clone() {
        let (dev, part) = match origname.rsplit_once('.') {
            Some((d, p)) => (d.to_string(), Some(p.to_string())),
            None => (origname.clone(), None),
        };
        if let Some(tformed) = disks.alias_to_device(&dev) {
            out.note(format!(
                "{origname} is mapped to disk={tformed} part={}",
                part.as_deref().unwrap_or("None")
            ));
            device = Some(tformed);
        }
        if let Some(part) = part {
            if partition.is_some() {
                out.note(format!(
                    "Partition '{part}' from dotted device name '{origname}' overrides \
                     'partition' key in {}",
                    Value::Map(def.clone()).python_str()
                ));
            }
            partition = Some(part);
        }
    }
    let label = text(def, "label");
    let partition = partition.unwrap_or_else(|| "any".into());
    let fs_type = text(def, "filesystem");
    let fs_cmd = def.get("cmd").filter(|v| v.truthy());
    let fs_opts: Vec<String> = match def.get("extra_opts") {
        Some(Value::Seq(items)) => items.iter().map(Value::python_str).collect(),
        Some(Value::Str(s)) => {
            py::shell::shlex_split(s).map_err(|e| Failure::Logged(e.to_string()))?
        }
        _ => Vec::new(),
    };
    // replace_fs: false (the default) matches no filesystem type.
    let fs_replace = def
        .get("replace_fs")
        .filter(|v| v.truthy())
        .map(Value::python_str);
    let overwrite = def.get("overwrite").is_some_and(Value::truthy);

    let Some(device) = device.filter(|d| disks.exists(d)) else {
        return Err(Failure::Logged(format!(
            "Device {} did not exist and was not created with a udevadm settle.",
            text(def, "device").unwrap_or_else(|| "None".into())
        )));
    };
    let mut device = disks.realpath(&device);
    let label_text = label.clone().unwrap_or_else(|| "None".into());

    if partition.chars().all(|c| c.is_ascii_digit()) && !partition.is_empty() {
        // 22.4 appends the number as it is (`/dev/sdb` + `1`).
        device = format!("{device}{partition}");
        out.note(format!(
            "Manual request of partition {partition} for {device}"
        ));
        let (check_label, check_fstype) = disks.check_fs(&device).map_err(Failure::Logged)?;
        if check_label == label && check_fstype == fs_type {
            if !overwrite {
                out.note(format!("Device {device} has required file system"));
                return Ok(());
            }
            out.note(format!("Destroying filesystem on {device}"));
        }
    } else if matches!(partition.to_lowercase().as_str(), "auto" | "any") {
        let label_match = partition.to_lowercase() == "auto";
        let (found, reuse) = find_device_node(
            disks,
            &device,
            fs_type.as_deref(),
            label.as_deref().unwrap_or(""),
            label_match,
            fs_replace.as_deref(),
        )
        .map_err(Failure::Logged)?;
        if reuse {
            out.note("Found filesystem match, skipping formating.");
            return Ok(());
        }
        let Some(found) = found else {
            out.note("Failed to find device during available device search.");
            out.note(format!(
                "No device available that matches request. Skipping fs creation for {}",
                Value::Map(def.clone()).python_str()
            ));
            return Ok(());
        };
        if fs_replace.is_some() {
            out.note(format!("Replacing file system on {found} as instructed."));
        }
        device = found;
    } else if partition.to_lowercase() == "none" {
        out.note(format!(
            "Using the raw device to place filesystem {label_text} on"
        ));
    } else {
        out.note("Error in device identification handling.");
        return Ok(());
    }

    if fs_type.is_none() && fs_cmd.is_none() {
        return Err(Failure::Logged(format!(
            "No way to create filesystem '{label_text}'. fs_type or fs_cmd must be set."
        )));
    }
    if let Some(why) = refusal(ctx, "make a filesystem on", &device) {
        return Err(Failure::Refused(why));
    }
    out.note(format!(
        "File system type '{}' with label '{label_text}' will be created on {device}",
        fs_type.as_deref().unwrap_or("None")
    ));
    let cmd = match fs_cmd {
        Some(Value::Str(template)) => {
            let line = percent_format(
                template,
                &[
                    ("label", label_text.clone()),
                    (
                        "filesystem",
                        fs_type.clone().unwrap_or_else(|| "None".into()),
                    ),
                    ("device", device.clone()),
                ],
            )
            .map_err(Failure::Logged)?;
            if overwrite {
                out.note(format!(
                    "fs_setup:overwrite ignored because cmd was specified: {line}"
                ));
            }
            if !fs_opts.is_empty() {
                out.note(format!(
                    "fs_setup:extra_opts ignored because cmd was specified: {line}"
                ));
            }
            tool(["sh".to_string(), "-c".into(), line])
        }
        Some(other) => {
            return Err(Failure::Logged(format!(
                "unsupported operand type(s) for %: '{}' and 'dict'",
                if other.as_seq().is_some() {
                    "list"
                } else {
                    "object"
                }
            )))
        }
        None => {
            let fs = fs_type.clone().unwrap_or_default();
            let Some(mkfs) = ctx
                .host
                .which(&format!("mkfs.{fs}"))
                .or_else(|| ctx.host.which(&format!("mk{fs}")))
            else {
                out.note(format!(
                    "Cannot create fstype '{fs}'.  No mkfs.{fs} command"
                ));
                return Ok(());
            };
            let mut argv = vec![mkfs];
            if let Some(l) = &label {
                argv.extend(["-L".to_string(), l.clone()]);
            }
            let whole_disk = disks
                .device_type(&device)
                .map_err(Failure::Logged)?
                .is_some_and(|t| t == "disk");
            if overwrite || whole_disk {
                if let Some(flag) = force_flag(&fs, out) {
                    argv.push(flag.into());
                }
            }
            argv.extend(fs_opts);
            argv.push(device.clone());
            tool(argv)
        }
    };
    out.note(format!("Creating file system {label_text} on {device}"));
    out.effects.push(Effect::Run(cmd));
    disks.made.push((device, label, fs_type));
    Ok(())
}

/// `find_device_node`: the device to make the filesystem on, and whether
/// it already has the one asked for (`None`: none is free).
fn find_device_node(
    disks: &DiskView,
    device: &str,
    fs_type: Option<&str>,
    label: &str,
    label_match: bool,
    replace_fs: Option<&str>,
) -> Result<(Option<String>, bool), String> {
    let mut raw_device_used = false;
    for d in disks.enumerate(device, false)? {
        let path = format!("/dev/{}", d.name);
        if Some(d.fstype.as_str()) == replace_fs && !label_match {
            return Ok((Some(path), false));
        }
        if Some(d.fstype.as_str()) == fs_type && (!label_match || d.label == label) {
            return Ok((Some(path), true));
        }
        if d.kind == "disk" || d.kind == "part" {
            if d.kind != "disk" || !d.fstype.is_empty() {
                raw_device_used = true;
            }
            if d.kind != "disk" && d.fstype.is_empty() {
                return Ok((Some(path), false));
            }
        }
    }
    Ok(match raw_device_used {
        false => (Some(device.to_string()), false),
        true => (None, false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmd_is_formatted_as_python_formats_it() {
        let names = [
            ("label", "data".to_string()),
            ("filesystem", "ext4".to_string()),
            ("device", "/dev/sdb1".to_string()),
        ];
        assert_eq!(
            percent_format(
                "mkfs -t %(filesystem)s -L %(label)s %(device)s 100%%",
                &names
            ),
            Ok("mkfs -t ext4 -L data /dev/sdb1 100%".into())
        );
        assert!(percent_format("mkfs %(nope)s", &names).is_err());
    }
}
