//! `cloud-init query`: one value, the keys under one (`--list-keys`), all of
//! the instance data (`--all`), or a jinja format string (`--format`) over
//! it, as 22.4's `cmd/query.py` answers, byte for byte and with its exit
//! codes (checked against 22.4 by tests/query.rs on tests/fixtures/query).
//!
//! The data is `/run/cloud-init/instance-data-sensitive.json` for root
//! (`instance-data.json`, already redacted, for anyone else, or the file
//! `-i` names), with `userdata` and `vendordata` added from the instance's
//! `user-data.txt`/`vendor-data.txt` (or `-u`/`-v`); for a reader that is
//! not root those two are `<redacted for non-root user> file:PATH`. It is
//! shown as cloud-init converts it for jinja: the keys of `v1` also at the
//! top level (`query instance_id`), and a path may use the `_` alias of a
//! key with `-` or `.` (`ds.meta_data`).
//!
//! Where 22.4 crashes with a traceback (a list index in the path, a file
//! that is not JSON, binary user-data that is not gzip), cloudboot exits 1
//! as it does, with one line saying why; a list index it answers.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value as J};

use crate::argparse::{Arg, Matches, Nargs, Parser};
use crate::jinja;
use crate::paths::Paths;
use crate::py;
use crate::rootfs::{FsView, RealFs, Root};

/// `query`'s options, in 22.4's words and order (`cmd/query.py:get_parser`).
pub fn args(p: Parser) -> Parser {
    p.arg(Arg::flag(
        &["-d", "--debug"],
        "Add verbose messages during template render",
    ))
    .arg(Arg::value(
        &["-i", "--instance-data"],
        "Path to instance-data.json file. Default is /run/cloud-init/instance-data.json",
    ))
    .arg(Arg::flag(
        &["-l", "--list-keys"],
        "List query keys available at the provided instance-data <varname>.",
    ))
    .arg(Arg::value(
        &["-u", "--user-data"],
        "Path to user-data file. Default is /var/lib/cloud/instance/user-data.txt",
    ))
    .arg(Arg::value(
        &["-v", "--vendor-data"],
        "Path to vendor-data file. Default is /var/lib/cloud/instance/vendor-data.txt",
    ))
    .arg(Arg::positional(
        "varname",
        Nargs::Optional,
        "A dot-delimited specific variable to query from instance-data. For example: \
         v1.local_hostname. If the value is not JSON serializable, it will be \
         base64-encoded and will contain the prefix \"ci-b64:\". ",
    ))
    .arg(Arg::flag(&["-a", "--all"], "Dump all available instance-data").dest("dump_all"))
    .arg(Arg::value(
        &["-f", "--format"],
        "Optionally specify a custom output format string. Any instance-data variable \
         can be specified between double-curly braces. For example -f \"{{ v2.cloud_name }}\"",
    ))
}

/// The description `cloud-init query` prints with its help when it is given
/// nothing to do (`cmd/query.py`'s docstring).
const DESCRIPTION: &str = "Query standardized instance metadata provided to machine, \
returning a JSON structure. Some instance-data values may be binary on some platforms, such \
as userdata and vendordata. Attempt to decompress and decode UTF-8 any binary values. Any \
binary values in the instance metadata will be base64-encoded and prefixed with \"ci-b64:\" \
in the output. userdata and, where applicable, vendordata may be provided to the machine \
gzip-compressed (and therefore as binary data). query will attempt to decompress these to a \
string before emitting the JSON output; if this fails, they are treated as binary.";

/// What 22.4 logs with `REDACT_SENSITIVE_VALUE` in place of user-data.
const REDACTED: &str = "redacted for non-root user";

/// The `query` verb; `root` is the global `--root`. Returns the exit code.
pub fn run(root: &Path, m: &Matches) -> i32 {
    let varname = m.value("varname").filter(|k| !k.is_empty());
    let format = m.value("format").filter(|f| !f.is_empty());
    let list_keys = m.flag("list_keys");
    if !m.flag("dump_all") && !list_keys && varname.is_none() && format.is_none() {
        eprintln!("ERROR: Expected one of the options: --all, --format, --list-keys or varname");
        print!(
            "{}",
            args(Parser::new("query").description(DESCRIPTION)).format_help()
        );
        return 1;
    }
    let fs = RealFs {
        root: Root::new(root),
    };
    let data = match read_instance_data(
        &fs,
        crate::exec::privileged(),
        m.value("instance_data"),
        m.value("user_data"),
        m.value("vendor_data"),
    ) {
        Ok(d) => d,
        Err(message) => {
            if let Some(m) = message {
                eprintln!("ERROR: {m}");
            }
            return 1;
        }
    };
    if let Some(fmt) = format {
        return render_format(fmt, &data);
    }
    let response = jinja::convert_instance_data(&data, false);
    let mut at = J::Object(response);
    if let Some(name) = varname {
        let aliased = J::Object(jinja::convert_instance_data(&data, true));
        match leaf(&at, &aliased, name) {
            Ok(v) => at = v,
            Err(e) => {
                eprintln!("ERROR: {e}");
                return 1;
            }
        }
    }
    if list_keys {
        let J::Object(o) = &at else {
            eprintln!(
                "ERROR: --list-keys provided but '{}' is not a dict",
                varname.unwrap_or("None")
            );
            return 1;
        };
        let mut keys: Vec<&String> = o.keys().collect();
        keys.sort();
        println!(
            "{}",
            keys.iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
        return 0;
    }
    match at {
        J::String(s) => println!("{s}"),
        other => println!("{}", py::json::dumps(&other, 1)),
    }
    0
}

/// `_read_instance_data`: the instance data with `userdata` and
/// `vendordata`. `Err(None)` is 22.4's silent exit 1 (a user-data file it
/// cannot read); `Err(Some(text))` is logged as an ERROR first.
fn read_instance_data(
    fs: &RealFs,
    root_user: bool,
    instance_data: Option<&str>,
    user_data: Option<&str>,
    vendor_data: Option<&str>,
) -> Result<Map<String, J>, Option<String>> {
    let paths = Paths::default();
    let file = match instance_data {
        Some(f) => PathBuf::from(f),
        None => {
            let redacted = paths.runpath("instance-data.json");
            let sensitive = paths.runpath("instance-data-sensitive.json");
            if !root_user {
                redacted
            } else if fs.exists(&sensitive) {
                sensitive
            } else {
                eprintln!(
                    "WARNING: Missing root-readable {}. Using redacted {} instead.",
                    sensitive.display(),
                    redacted.display()
                );
                redacted
            }
        }
    };
    let user_file = user_data
        .map(PathBuf::from)
        .unwrap_or_else(|| paths.instance_link().join("user-data.txt"));
    let vendor_file = vendor_data
        .map(PathBuf::from)
        .unwrap_or_else(|| paths.instance_link().join("vendor-data.txt"));
    // `-i/-u/-v` are paths on this machine (22.4 opens them as given); the
    // defaults are in the root.
    let read = |p: &Path, given: bool| {
        if given {
            fs::read(p)
        } else {
            fs.read(p)
        }
    };
    let bytes = match read(&file, instance_data.is_some()) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(Some(format!(
                "No read permission on '{}'. Try sudo",
                file.display()
            )))
        }
        Err(_) => {
            return Err(Some(format!(
                "Missing instance-data file: {}",
                file.display()
            )))
        }
    };
    let mut data = match serde_json::from_slice::<J>(&bytes) {
        Ok(J::Object(m)) => m,
        // 22.4 stops here with a traceback (exit 1).
        Ok(_) => {
            return Err(Some(format!(
                "{}: instance data is not a JSON object",
                file.display()
            )))
        }
        Err(e) => return Err(Some(format!("{}: not JSON: {e}", file.display()))),
    };
    for (key, path, given) in [
        ("userdata", &user_file, user_data.is_some()),
        ("vendordata", &vendor_file, vendor_data.is_some()),
    ] {
        let value = if root_user {
            // 22.4 catches the OSError of a missing file and exits 1
            // without a word.
            let bytes = read(path, given).map_err(|_| None)?;
            J::String(userdata_text(bytes).ok_or_else(|| {
                Some(format!(
                    "{}: neither UTF-8 text nor gzip-compressed UTF-8 text",
                    path.display()
                ))
            })?)
        } else {
            J::String(format!("<{REDACTED}> file:{}", path.display()))
        };
        data.insert(key.to_string(), value);
    }
    Ok(data)
}

/// `load_userdata`: UTF-8 text, else gzip-compressed UTF-8 text; `None`
/// where 22.4 raises (`DecompressionError`, `UnicodeDecodeError`).
fn userdata_text(bytes: Vec<u8>) -> Option<String> {
    match String::from_utf8(bytes) {
        Ok(s) => Some(s),
        Err(e) => {
            let bytes = e.into_bytes();
            let mut out = Vec::new();
            // Bounded: user-data is at most this much once uncompressed.
            let limit = crate::jinja::MAX_OUTPUT as u64;
            let reader = flate2::read::GzDecoder::new(&bytes[..]);
            std::io::Read::read_to_end(&mut std::io::Read::take(reader, limit), &mut out).ok()?;
            String::from_utf8(out).ok()
        }
    }
}

/// `_find_instance_data_leaf_by_varname_path`: each dot-separated part is
/// looked up in the data with aliases (so `meta_data` finds `meta-data`)
/// and the value taken from the data without them. A number indexes a
/// list (22.4 crashes there with a TypeError).
fn leaf(plain: &J, aliased: &J, varname: &str) -> Result<J, String> {
    let mut response = plain;
    let mut with_aliases = aliased;
    let mut walked = String::new();
    for part in varname.split('.') {
        let missing = || {
            if walked.is_empty() {
                format!("Undefined instance-data key '{varname}'")
            } else {
                format!("instance-data '{walked}' has no '{part}'")
            }
        };
        match (with_aliases, response) {
            (J::Object(a), J::Object(r)) => {
                with_aliases = a.get(part).ok_or_else(missing)?;
                response = match r.get(part) {
                    Some(v) => v,
                    None => r
                        .iter()
                        .find(|(k, _)| jinja::variable_alias(k).as_deref() == Some(part))
                        .map(|(_, v)| v)
                        .unwrap_or(response),
                };
            }
            (J::Array(a), J::Array(r)) => {
                let i: usize = part.parse().map_err(|_| missing())?;
                with_aliases = a.get(i).ok_or_else(missing)?;
                response = r.get(i).ok_or_else(missing)?;
            }
            _ => return Err(missing()),
        }
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(part);
    }
    Ok(response.clone())
}

/// `--format`: the string rendered as a jinja template over the instance
/// data (`render_jinja_payload`), printed unless it renders to nothing.
fn render_format(fmt: &str, data: &Map<String, J>) -> i32 {
    let vars = jinja::instance_vars(&J::Object(data.clone()));
    // `-d`, as 22.4's render_jinja_payload(debug=True) logs it.
    tracing::debug!("Converted jinja variables\n{}", py::json::dumps(&vars, 1));
    match jinja::render_in(fmt, &vars, &jinja::QUERY) {
        Ok((mut text, _)) => {
            // jinja drops the format's last newline; cloud-init's
            // `jinja_render` puts it back.
            if fmt.ends_with('\n') {
                text.push('\n');
            }
            // 22.4 finds them in the rendered text, so a name runs on to
            // the next blank (`{{ nope }}x` warns of 'nopex').
            let missing = jinja::missing_names(&text);
            if !missing.is_empty() {
                eprintln!(
                    "WARNING: Could not render jinja template variables in file 'query commandline': {}",
                    missing.join(", ")
                );
            }
            if text.is_empty() {
                return 1;
            }
            println!("{text}");
            0
        }
        Err(e) => {
            eprintln!("WARNING: Ignoring jinja template for query commandline: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_names_run_to_the_next_blank() {
        assert_eq!(
            jinja::missing_names(
                "CI_MISSING_JINJA_VAR/a-b c CI_MISSING_JINJA_VAR/ CI_MISSING_JINJA_VAR/x"
            ),
            ["'a-b'", "'x'"]
        );
    }

    #[test]
    fn paths_walk_aliases_and_list_indexes() {
        let J::Object(data) = json!({"ds": {"meta-data": {"l": [1, {"x-y": 2}]}}}) else {
            unreachable!()
        };
        let plain = J::Object(jinja::convert_instance_data(&data, false));
        let aliased = J::Object(jinja::convert_instance_data(&data, true));
        assert_eq!(leaf(&plain, &aliased, "ds.meta_data.l.1.x-y"), Ok(json!(2)));
        assert_eq!(
            leaf(&plain, &aliased, "ds.meta_data.l.1"),
            Ok(json!({"x-y": 2}))
        );
        assert_eq!(
            leaf(&plain, &aliased, "ds.nope"),
            Err("instance-data 'ds' has no 'nope'".into())
        );
        assert_eq!(
            leaf(&plain, &aliased, "ds.meta_data.l.5"),
            Err("instance-data 'ds.meta_data.l' has no '5'".into())
        );
        assert_eq!(
            leaf(&plain, &aliased, "nope"),
            Err("Undefined instance-data key 'nope'".into())
        );
    }
}
