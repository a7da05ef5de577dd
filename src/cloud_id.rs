//! `cloud-id` (22.4's `cmd/cloud_id.py`): the canonical cloud id of this
//! instance from `instance-data.json`, as a verb (`cloudboot cloud-id`) and
//! under its own name (a `cloud-id` link to the binary). Output and exit
//! codes are 22.4's, since scripts parse them: the id alone; `-l` the id and
//! the region, tab-separated; `-j` the `v1` keys with `cloud_id`, as
//! Python's sorted `json.dumps(indent=1)`; `disabled` (exit 2) or `not run`
//! (exit 3) before anything else; exit 1 when instance-data cannot be read.

use std::path::{Path, PathBuf};

use crate::argparse::{Arg, Matches, Parser};
use crate::instance_data::canonical_cloud_id;
use crate::paths::Paths;
use crate::rootfs::{FsView, RealFs, Root};

const DESCRIPTION: &str = "Report the canonical cloud-id for this instance";
const UNKNOWN: &str = "unknown";

/// The arguments, shared by the verb and the `cloud-id` program.
pub fn args(p: Parser) -> Parser {
    p.description(DESCRIPTION)
        .arg(Arg::flag(
            &["-j", "--json"],
            "Report all standardized cloud-id information as json.",
        ))
        .arg(Arg::flag(
            &["-l", "--long"],
            "Report extended cloud-id information as tab-delimited string.",
        ))
        .arg(Arg::value(
            &["-i", "--instance-data"],
            "Path to instance-data.json file. Default is /run/cloud-init/instance-data.json",
        ))
}

/// The program `cloud-id` (the binary called by that name). It also takes
/// cloudboot's `--root DIR`, before or among its own flags.
pub fn main(prog: &str, argv: &[String]) -> i32 {
    let parser = args(Parser::new(prog)).arg(
        Arg::value(
            &["--root"],
            "The machine to report on is DIR (default: /); cloudboot only.",
        )
        .metavar("DIR"),
    );
    let m = match parser.parse(argv) {
        Ok(m) => m,
        Err(exit) => return exit.report(),
    };
    let root = m.value("root").unwrap_or("/");
    run(Path::new(root), &m)
}

/// Answers for the machine under `root`.
pub fn run(root: &Path, m: &Matches) -> i32 {
    let fs = RealFs {
        root: Root::new(root),
    };
    let paths = Paths::default();
    if let s @ ("disabled" | "not run") = crate::status::details(&fs, &paths).status {
        println!("{s}");
        return if s == "disabled" { 2 } else { 3 };
    }
    // `-i` names a file on this machine; the default is the root's.
    let (shown, bytes) = match m.value("instance_data") {
        Some(f) => (f.to_string(), std::fs::read(f).ok()),
        None => {
            let p: PathBuf = paths.runpath("instance-data.json");
            (p.display().to_string(), fs.read(&p).ok())
        }
    };
    let Some(bytes) = bytes else {
        eprintln!(
            "Error:\nFile not found '{shown}'. Provide a path to instance data json file using --instance-data"
        );
        return 1;
    };
    let data: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("Error:\nFile '{shown}' is not valid json. {e}");
            return 1;
        }
    };
    let mut v1 = data
        .get("v1")
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    // `v1.get(key, "unknown")`: a key present as null is Python's None.
    let field = |k: &str| match v1.get(k) {
        None => Some(UNKNOWN.to_string()),
        Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    let region = field("region");
    let cloud_id = canonical_cloud_id(
        field("cloud_name").as_deref().unwrap_or(""),
        region.as_deref(),
        field("platform").as_deref().unwrap_or("None"),
    );
    let region = region.unwrap_or_else(|| "None".into());
    if m.flag("json") {
        eprintln!("DEPRECATED: Use: cloud-init query v1");
        if let Some(o) = v1.as_object_mut() {
            o.insert("cloud_id".into(), cloud_id.into());
        }
        println!("{}", crate::py::json::dumps(&v1, 1));
    } else if m.flag("long") {
        println!("{cloud_id}\t{region}");
    } else {
        println!("{cloud_id}");
    }
    0
}
