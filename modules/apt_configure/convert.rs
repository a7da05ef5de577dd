//! 22.4's `convert_to_v3_apt_format`: the old top-level keys (`apt_sources`
//! as a list or a mapping, `apt_mirror*`, `apt_proxy`, ...) moved under
//! `apt`, with its deprecation warnings.

use crate::module::prelude::*;

/// The old keys and where they go under `apt` (`None`: the mirror keys,
/// which become a `primary` entry). 22.4 sends `apt_ftp_proxy` to
/// `https_proxy` and `apt_https_proxy` to `ftp_proxy`; so does this.
const MAP_OLD_KEYS: [(&str, Option<&str>); 11] = [
    ("apt_sources", Some("sources")),
    ("apt_mirror", None),
    ("apt_mirror_search", None),
    ("apt_mirror_search_dns", None),
    ("apt_proxy", Some("proxy")),
    ("apt_http_proxy", Some("http_proxy")),
    ("apt_ftp_proxy", Some("https_proxy")),
    ("apt_https_proxy", Some("ftp_proxy")),
    ("apt_preserve_sources_list", Some("preserve_sources_list")),
    ("apt_custom_sources_list", Some("sources_list")),
    ("add_apt_repo_match", Some("add_apt_repo_match")),
];

/// The `apt` config in the v3 format; the warnings the conversion logs
/// go to `warnings` (also when it fails). An `apt` key that is absent is
/// an empty mapping.
pub fn to_v3(cfg: &Value, warnings: &mut Vec<String>) -> Result<Value, ConfigError> {
    let mut old = match cfg {
        Value::Map(m) => m.clone(),
        _ => Mapping::default(),
    };
    // V1 -> V2: apt_sources from a list to a mapping.
    if let Some(sources) = old.get("apt_sources").filter(|v| !matches!(v, Value::Null)) {
        warnings.push(
            "DEPRECATION: 'apt_sources' deprecated config key found. Use 'apt' instead".into(),
        );
        let converted = match sources {
            Value::Seq(entries) => {
                let mut dict = Mapping::default();
                for (i, entry) in entries.iter().enumerate() {
                    let Value::Map(e) = entry else {
                        return Err(ConfigError::new(
                            format!("apt_sources[{i}]"),
                            "unknown apt_sources format",
                        ));
                    };
                    let mut e = e.clone();
                    // Entries without a filename share one file; 22.4 keys
                    // them by a random prefix, here by their position.
                    let key = match e.get("filename") {
                        Some(f) => f.python_str(),
                        None => {
                            e.insert(
                                Value::str("filename"),
                                Value::Str("cloud_config_sources.list".into()),
                            );
                            format!("{i}_cloud_config_sources.list")
                        }
                    };
                    dict.insert(Value::str(key), Value::Map(e));
                }
                Value::Map(dict)
            }
            Value::Map(_) => sources.clone(),
            _ => {
                return Err(ConfigError::new(
                    "apt_sources",
                    "unknown apt_sources format",
                ))
            }
        };
        old.insert(Value::str("apt_sources"), converted);
    }
    // V2 -> V3.
    let mut need = Vec::new();
    for (key, _) in MAP_OLD_KEYS {
        match old.get(key) {
            Some(Value::Null) => {
                old.remove(key);
            }
            Some(Value::Str(s)) if s.is_empty() => {
                old.remove(key);
            }
            Some(_) => need.push(key),
            None => {}
        }
    }
    let apt = old.get("apt").cloned();
    if need.is_empty() {
        return Ok(apt.unwrap_or_else(Value::empty_map));
    }
    warnings.push(format!(
        "DEPRECATION apt: converted deprecated config V2 to V3 format for keys '{}'. Use updated config keys.",
        need.join(", ")
    ));
    if let Some(new) = apt.filter(|v| !matches!(v, Value::Null)) {
        warnings.push(
            "DEPRECATION: apt config: deprecated V1/2 and V3 format specified, preferring V3"
                .into(),
        );
        for oldkey in &need {
            let newkey = MAP_OLD_KEYS.iter().find(|(k, _)| k == oldkey).unwrap().1;
            let Some(newkey) = newkey else { continue };
            match new.get(newkey) {
                None | Some(Value::Null) => continue,
                Some(v) if v != old.get(oldkey).unwrap() => {
                    return Err(ConfigError::new(
                        *oldkey,
                        format!(
                        "Old and New apt format defined with unequal values {} vs {} @ {oldkey}",
                        old.get(oldkey).unwrap().python_str_any(),
                        v.python_str_any()
                    ),
                    ))
                }
                Some(_) => {}
            }
        }
        return Ok(new);
    }
    let mut aptcfg = Mapping::default();
    for (oldkey, newkey) in MAP_OLD_KEYS {
        if let (Some(newkey), Some(v)) = (newkey, old.get(oldkey)) {
            aptcfg.insert(Value::str(newkey), v.clone());
        }
    }
    // `convert_mirror`: the mirror keys become one default primary entry.
    let mut mirror = Mapping::default();
    mirror.insert(
        Value::str("arches"),
        Value::Seq(vec![Value::Str("default".into())]),
    );
    let mut converted = false;
    for (oldkey, newkey) in [
        ("apt_mirror", "uri"),
        ("apt_mirror_search", "search"),
        ("apt_mirror_search_dns", "search_dns"),
    ] {
        if let Some(v) = old.get(oldkey).filter(|v| !matches!(v, Value::Null)) {
            mirror.insert(Value::str(newkey), v.clone());
            converted = true;
        }
    }
    if converted {
        aptcfg.insert(Value::str("primary"), Value::Seq(vec![Value::Map(mirror)]));
    }
    Ok(Value::Map(aptcfg))
}
