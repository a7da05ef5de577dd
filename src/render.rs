//! `cloud-init devel render USER_DATA [-i INSTANCE_DATA] [-d]`, as 22.4's
//! `cloudinit/cmd/devel/render.py`: a `## template: jinja` user-data file
//! rendered over the instance data (the one jinja engine,
//! [`crate::jinja`]), printed as it renders (no newline added). Every
//! failure is an `ERROR:` line on stderr and exit 1, in 22.4's words;
//! where 22.4 stops with a traceback (a template jinja cannot parse), one
//! `ERROR:` line says why instead, with the same exit code.

use std::path::{Path, PathBuf};

use serde_json::Value as J;

use crate::argparse::{Arg, Nargs, Parser};
use crate::jinja;
use crate::paths::Paths;
use crate::rootfs::{FsView, RealFs, Root};
use crate::templater;

/// The verb's line in `devel --help`.
pub const HELP: &str = "Debug jinja template rendering of user-data.";

/// 22.4's `render.get_parser`.
pub fn args(p: Parser) -> Parser {
    p.arg(Arg::positional(
        "user_data",
        Nargs::One,
        "Path to the user-data file to render",
    ))
    .arg(Arg::value(
        &["-i", "--instance-data"],
        "Optional path to instance-data.json file. Defaults to /run/cloud-init/instance-data.json",
    ))
    .arg(Arg::flag(
        &["-d", "--debug"],
        "Add verbose messages during template render",
    ))
}

/// Runs the verb: 0 with the rendered text on stdout, else 1.
pub fn run(root: &Path, user_data: &str, instance_data: Option<&str>, debug: bool) -> i32 {
    let fs = RealFs {
        root: Root::new(root),
    };
    match render(
        &fs,
        crate::exec::privileged(),
        user_data,
        instance_data,
        debug,
    ) {
        Ok(text) => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            // A closed stdout is no error of the template's.
            let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
            0
        }
        Err(e) => {
            eprintln!("ERROR: {e}");
            1
        }
    }
}

/// `render_template`: the rendered text, or the `ERROR:` line's text.
fn render(
    fs: &RealFs,
    root_user: bool,
    user_data: &str,
    instance_data: Option<&str>,
    debug: bool,
) -> Result<String, String> {
    // `-i` is a path on this machine, as 22.4 opens it; the default is in
    // the root.
    let (file, given) = match instance_data {
        Some(f) => (PathBuf::from(f), true),
        None => {
            let paths = Paths::default();
            let redacted = paths.runpath("instance-data.json");
            let sensitive = paths.runpath("instance-data-sensitive.json");
            if !root_user {
                (redacted, false)
            } else if fs.exists(&sensitive) {
                (sensitive, false)
            } else {
                eprintln!(
                    "WARNING: Missing root-readable {}. Using redacted {} instead.",
                    sensitive.display(),
                    redacted.display()
                );
                (redacted, false)
            }
        }
    };
    let exists = if given {
        file.exists()
    } else {
        fs.exists(&file)
    };
    if !exists {
        return Err(format!(
            "Missing instance-data.json file: {}",
            file.display()
        ));
    }
    // Bounded as user-data is: a larger file is not read whole.
    let payload = read_bounded(Path::new(user_data))?;
    let not_jinja = || {
        "Cannot render from instance data due to exception: \
         NotJinjaError('Payload is not a jinja template')"
            .to_string()
    };
    let body = match templater::detect(&payload) {
        Ok((templater::Kind::Jinja, body, _)) => body,
        // 22.4's detect_template raises a ValueError here: a traceback.
        Err(e) => return Err(e.to_string()),
        Ok(_) => return Err(not_jinja()),
    };
    let load_failed = || {
        "Cannot render from instance data due to exception: \
         JinjaLoadError('Loading Jinja instance data failed')"
            .to_string()
    };
    let bytes = if given {
        std::fs::read(&file)
    } else {
        fs.read(&file)
    };
    let bytes = match bytes {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(format!(
                "Cannot render from instance data due to exception: \
                 JinjaLoadError(\"Cannot render jinja template vars. No read permission on '{}'. Try sudo\")",
                file.display()
            ))
        }
        Err(_) => return Err(load_failed()),
    };
    let data = match serde_json::from_slice::<J>(&bytes) {
        Ok(J::Object(m)) => m,
        _ => return Err(load_failed()),
    };
    let vars = jinja::instance_vars(&J::Object(data));
    if debug {
        eprintln!(
            "DEBUG: Converted jinja variables\n{}",
            crate::py::json::dumps(&vars, 1)
        );
    }
    match jinja::render(body, &vars) {
        Ok((text, _)) => {
            let missing = jinja::missing_names(&text);
            if !missing.is_empty() {
                eprintln!(
                    "WARNING: Could not render jinja template variables in file '{user_data}': {}",
                    missing.join(", ")
                );
            }
            if text.is_empty() {
                return Err(format!("Unable to render user-data file: {user_data}"));
            }
            Ok(text)
        }
        Err(e) => {
            eprintln!("WARNING: Ignoring jinja template for {user_data}: {e}");
            Err(format!("Unable to render user-data file: {user_data}"))
        }
    }
}

/// The file's text, at most [`jinja::MAX_OUTPUT`] bytes of it read.
/// 22.4's `open().read()` failing (no file, a directory, not UTF-8) is its
/// "Missing user-data file" (the last with a traceback first); a larger
/// file is cloudboot's refusal, by name.
fn read_bounded(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let missing = || format!("Missing user-data file: {}", path.display());
    let f = std::fs::File::open(path).map_err(|_| missing())?;
    if f.metadata().map_err(|_| missing())?.is_dir() {
        return Err(missing());
    }
    let mut bytes = Vec::new();
    f.take(jinja::MAX_OUTPUT as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| missing())?;
    if bytes.len() > jinja::MAX_OUTPUT {
        return Err(format!(
            "{}: user-data larger than {} MiB, which cloudboot refuses",
            path.display(),
            jinja::MAX_OUTPUT >> 20
        ));
    }
    String::from_utf8(bytes).map_err(|_| missing())
}
