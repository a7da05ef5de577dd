//! `cloudboot devel ...`: tools for people working on cloudboot itself.
//!
//! `devel parse-yaml FILE` prints what cloudboot's YAML loader makes of a
//! file, as one line of JSON, so it can be compared with PyYAML's
//! `yaml.safe_load` (see `tests/fixtures/yaml/generate.py`). JSON cannot say
//! everything YAML can, so: bytes are `{"$binary": "<base64>"}`, NaN and the
//! infinities `{"$float": "nan"}`, timestamps `{"$timestamp": "<as written>"}`,
//! a non-string key is its own JSON text (`1` → `"1"`, `true` → `"true"`),
//! `!!set` a mapping to null, `!!omap`/`!!pairs` a list of `[key, value]`.

use std::io::Read;
use std::path::Path;

use crate::yaml;

/// Loads `path` (`-` for standard input) and prints it; the exit code is 0,
/// or 1 (with the error, line and column on standard error) if the document
/// is one PyYAML refuses, or cannot be read.
pub fn parse_yaml(path: &Path) -> i32 {
    let (bytes, name) = if path == Path::new("-") {
        let mut buf = Vec::new();
        if let Err(e) = std::io::stdin().read_to_end(&mut buf) {
            eprintln!("cloudboot devel parse-yaml: <stdin>: {e}");
            return 1;
        }
        (buf, "<stdin>".to_string())
    } else {
        match std::fs::read(path) {
            Ok(b) => (b, path.display().to_string()),
            Err(e) => {
                eprintln!("cloudboot devel parse-yaml: {}: {e}", path.display());
                return 1;
            }
        }
    };
    match yaml::load(&bytes, &name) {
        Ok(value) => {
            println!("{}", value.to_json());
            0
        }
        Err(e) => {
            eprintln!("cloudboot devel parse-yaml: {e}");
            1
        }
    }
}
