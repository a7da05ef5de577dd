//! Partition layouts as 22.4's cc_disk_setup computes and checks them:
//! what is asked (`layout: true` or a list of percentages, each with an
//! optional partition type) turned into sfdisk's input (MBR) or sgdisk's
//! `-n`/`-t` arguments (GPT), and the table a disk has read back from
//! `sfdisk -l` or `sgdisk -p`. Pure: text and values in, values out.

use crate::module::prelude::*;

/// One partition of a GPT layout: its type code (as given) and sgdisk's
/// start and end (`0` and `+SECTORS`, or `0` for the rest).
#[derive(Clone, Debug, PartialEq)]
pub struct GptPart {
    pub type_code: Option<String>,
    pub start: String,
    pub end: String,
}

/// What `layout` asks for, once checked.
#[derive(Clone, Debug, PartialEq)]
pub enum Layout {
    /// `true`: one partition over the whole disk.
    Whole,
    /// Percentages of the disk, each with its type if given.
    Parts(Vec<(f64, Option<String>)>),
}

/// How a percentage or type is written in the config (`str()` of it).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Int(_) | Value::Float(_) => v.python_str().parse().ok(),
        Value::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Layout {
    /// The layout of a definition; `Err` with 22.4's message for one it
    /// refuses.
    pub fn from_value(v: &Value) -> Result<Layout, String> {
        let items = match v {
            Value::Bool(true) => return Ok(Layout::Whole),
            Value::Seq(items) if !items.is_empty() => items,
            _ => return Err("Partition layout is invalid".into()),
        };
        let mut parts = Vec::new();
        for part in items {
            match part {
                Value::Seq(pair) => {
                    if pair.len() != 2 {
                        return Err(format!(
                            "Partition was incorrectly defined: {}",
                            part.python_str()
                        ));
                    }
                    let pct = number(&pair[0]).ok_or_else(|| {
                        format!("could not convert to float: {}", pair[0].python_str())
                    })?;
                    parts.push((pct, Some(pair[1].python_str())));
                }
                other => {
                    let pct = number(other).ok_or_else(|| {
                        format!("could not convert to float: {}", other.python_str())
                    })?;
                    parts.push((pct, None));
                }
            }
        }
        Ok(Layout::Parts(parts))
    }

    /// `get_partition_mbr_layout(size, layout)`: sfdisk's input (without
    /// the final newline 22.4 adds when it runs it).
    pub fn mbr(&self, size: f64) -> Result<String, String> {
        let parts = match self {
            Layout::Whole => return Ok("0,".into()),
            Layout::Parts(p) => p,
        };
        if parts.len() > 4 {
            return Err("Only simply partitioning is allowed.".into());
        }
        let last = parts.len();
        let defs: Vec<String> = parts
            .iter()
            .enumerate()
            .map(|(i, (pct, ty))| {
                let ty = ty.clone().unwrap_or_else(|| "83".into());
                if i + 1 == last {
                    format!(",,{ty}")
                } else {
                    format!(",{},{ty}", (size * (pct / 100.0)) as i64)
                }
            })
            .collect();
        Ok(defs.join("\n"))
    }

    /// `get_partition_gpt_layout(size, layout)`.
    pub fn gpt(&self, size: f64) -> Vec<GptPart> {
        let parts = match self {
            Layout::Whole => {
                return vec![GptPart {
                    type_code: None,
                    start: "0".into(),
                    end: "0".into(),
                }]
            }
            Layout::Parts(p) => p,
        };
        let mut specs: Vec<GptPart> = parts
            .iter()
            .map(|(pct, ty)| GptPart {
                type_code: ty.clone(),
                start: "0".into(),
                end: format!("+{}", (size * (pct / 100.0)) as i64),
            })
            .collect();
        if let Some(last) = specs.last_mut() {
            last.end = "0".into();
        }
        specs
    }

    /// `check_partition_layout`'s comparison with the types a disk has.
    pub fn matches(&self, found: &[Option<String>]) -> bool {
        match self {
            Layout::Whole => !found.is_empty(),
            Layout::Parts(parts) => {
                found.len() == parts.len()
                    && parts.iter().zip(found).all(|((_, want), have)| match want {
                        None => true,
                        Some(w) => have.as_deref().unwrap_or("None") == w,
                    })
            }
        }
    }
}

/// A GPT layout as 22.4 logs it (Python's repr of its list of tuples).
pub fn gpt_repr(parts: &[GptPart]) -> String {
    let item = |v: &str| match v.chars().all(|c| c.is_ascii_digit()) && !v.is_empty() {
        true => v.to_string(),
        false => python_str_repr(v),
    };
    let items: Vec<String> = parts
        .iter()
        .map(|p| {
            let ty = p
                .type_code
                .as_deref()
                .map(item)
                .unwrap_or_else(|| "None".into());
            format!("({ty}, [{}, {}])", item(&p.start), item(&p.end))
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// `check_partition_mbr_layout`: the type of each partition `sfdisk -l`
/// lists for `device` (not extended or empty ones).
pub fn mbr_types(device: &str, sfdisk_list: &str) -> Vec<Option<String>> {
    let mut found = Vec::new();
    for line in sfdisk_list.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() || !words[0].contains(device) {
            continue;
        }
        let last = words[words.len() - 1].to_lowercase();
        if last == "extended" || last == "empty" {
            continue;
        }
        let ty = (1..words.len())
            .rev()
            .find(|&i| !words[i].is_empty() && words[i].chars().all(|c| c.is_ascii_digit()))
            .map(|i| words[i].to_string());
        found.push(ty);
    }
    found
}

/// `check_partition_gpt_layout`: the type code of each partition
/// `sgdisk -p` lists (`8300` read as `83`).
pub fn gpt_types(sgdisk_print: &str) -> Vec<Option<String>> {
    let mut lines = sgdisk_print.lines();
    for line in lines.by_ref() {
        if line.trim().starts_with("Number") {
            break;
        }
    }
    lines
        .filter_map(|l| l.split_whitespace().nth(5))
        .map(|code| {
            let code = if code.len() == 4 && code.ends_with("00") {
                &code[..2]
            } else {
                code
            };
            Some(code.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(yaml: &str) -> Layout {
        Layout::from_value(&yaml::load(yaml.as_bytes(), "t").unwrap()).unwrap()
    }

    #[test]
    fn mbr_and_gpt_layouts_are_22_4s() {
        let l = layout("[33, [66, 82]]");
        assert_eq!(l.mbr(204800.0).unwrap(), ",67584,83\n,,82");
        assert_eq!(
            layout("[[50, 8300], 50]").gpt(204800.0),
            [
                GptPart {
                    type_code: Some("8300".into()),
                    start: "0".into(),
                    end: "+102400".into()
                },
                GptPart {
                    type_code: None,
                    start: "0".into(),
                    end: "0".into()
                },
            ]
        );
        assert_eq!(layout("true").mbr(1.0).unwrap(), "0,");
        assert_eq!(
            layout("[10, 10, 10, 10, 60]").mbr(100.0),
            Err("Only simply partitioning is allowed.".into())
        );
    }

    #[test]
    fn tables_are_read_back_as_22_4_reads_them() {
        let sfdisk = "Disk /dev/loop0: 100 MiB, 104857600 bytes, 204800 sectors\n\
            Device       Boot Start    End Sectors Size Id Type\n\
            /dev/loop0p1       2048 102399  100352  49M 83 Linux\n\
            /dev/loop0p2     102400 204799  102400  50M 82 Linux swap / Solaris\n";
        let found = mbr_types("/dev/loop0", sfdisk);
        assert_eq!(found, [Some("83".into()), Some("82".into())]);
        assert!(layout("[50, [50, 82]]").matches(&found));
        assert!(!layout("[[50, 82], 50]").matches(&found));
        let sgdisk = "Number  Start (sector)    End (sector)  Size       Code  Name\n\
               1            2048          104447   50.0 MiB    8300  Linux filesystem\n\
               2          104448          204766   48.9 MiB    8200  Linux swap\n";
        assert_eq!(gpt_types(sgdisk), [Some("83".into()), Some("82".into())]);
    }
}
