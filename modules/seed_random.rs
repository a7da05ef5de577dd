//! seed_random (`cc_seed_random`): once per instance, in the network stage
//! (cloud-init's `cloud_init_modules`), adds seed data to the kernel's
//! entropy pool, so instances made from one image do not start from the
//! same pool, and runs a seeding command.
//!
//! Keys, all under `random_seed`, as 22.4 reads them:
//! - `file` (default `/dev/urandom`): where the seed is appended
//!   (`util.append_file`). A guest path: with `--root` it is the root's own
//!   file, never this machine's.
//! - `data`, decoded by `encoding`: `raw` (the default), `base64`/`b64`
//!   (Python's lenient `b64decode`), `gzip`/`gz` (bounded by
//!   `cloudboot.limits.write_file_bytes`, as write_files' gzip content is);
//!   the encoding is matched in any case; another is 22.4's error
//!   `Unknown random_seed encoding: NAME`.
//! - The datasource's own seed, the metadata's `random_seed` (OpenStack's
//!   and ConfigDrive's `meta_data.json`, base64-decoded by the datasource;
//!   text from NoCloud), appended after `data`.
//! - `command`: run after the file is written, with `RANDOM_SEED_FILE` set
//!   to `file` in its environment; one that is not in the root is skipped,
//!   unless `command_required`, which makes a missing (or absent) command
//!   22.4's error `handling random command [...] failed: ...`.
//!
//! How the seed is appended depends on what `file` is in the root: a
//! regular file (or none yet: created 0644, as Python's `open("ab")` under
//! umask 022) gets a file write that appends, keeping its mode and owner; a
//! device such as `/dev/urandom` cannot be replaced by a new file, so the
//! bytes are appended by `sh -c 'cat >> "$1"'` run inside the root (listed,
//! not run, in a scratch root). The seed is marked secret: plans and logs
//! give its size only, as cloud-init logs it.

use std::io::Read;
use std::path::Path;

use crate::module::prelude::*;
use crate::modules::shared::limits::write_limit;

pub struct SeedRandom;

/// `random_seed.file` when the config gives none.
const DEFAULT_FILE: &str = "/dev/urandom";

const ENCODINGS: &[&str] = &["raw", "base64", "b64", "gzip", "gz"];

static RANDOM_SEED: &[Field] = &[
    Field::opt("file", Ty::Str),
    Field::opt("data", Ty::StrOrBytes),
    Field::opt(
        "encoding",
        Ty::Strict(&Ty::Enum(ENCODINGS), Rule::OneOfStrs(ENCODINGS)),
    ),
    Field::opt("command", Ty::List(&Ty::Str)),
    Field::opt("command_required", Ty::Bool),
];

static INFO: ModuleInfo = ModuleInfo {
    name: "seed_random",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &[],
    keys: &["random_seed"],
    schema: &[Field::opt("random_seed", Ty::Map(RANDOM_SEED))],
    summary: "append seed data (config and metadata) to /dev/urandom and run a seeding command",
};

impl Module for SeedRandom {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let no_config = Value::empty_map();
        let mycfg = ctx.cfg.get("random_seed").unwrap_or(&no_config);
        let file = mycfg
            .get("file")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_FILE);

        let mut seed = Vec::new();
        if let Some(data) = mycfg.get("data").filter(|d| d.truthy()) {
            match decode(data, mycfg.get("encoding"), write_limit(ctx.cfg)) {
                Ok(bytes) => seed.extend(bytes),
                Err(e) => {
                    out.error(e);
                    return out;
                }
            }
        }
        // The datasource's seed (22.4: "set up by Azure datasource, and
        // comes already in openstack meta_data.json").
        match ctx.instance.metadata.get("random_seed") {
            None => {}
            Some(Value::Str(s)) => seed.extend_from_slice(s.as_bytes()),
            Some(Value::Bytes(b)) => seed.extend_from_slice(b),
            // util.encode_text of anything else fails as Python does.
            Some(other) => {
                out.error(format!(
                    "'{}' object has no attribute 'encode'",
                    other.type_name()
                ));
                return out;
            }
        }

        if !seed.is_empty() {
            out.note(format!(
                "{}: adding {} bytes of random seed entropy to {file}",
                ctx.name,
                seed.len()
            ));
            match append(ctx.fs, file, seed) {
                Ok(effect) => out.effects.push(effect),
                Err(e) => {
                    out.error(e);
                    return out;
                }
            }
        }

        seed_command(ctx, mycfg, file, &mut out);
        out
    }
}

/// `handle_random_seed_command`: the seeding command, if there is one and
/// the root has it.
fn seed_command(ctx: &Context, mycfg: &Value, file: &str, out: &mut ModuleOutput) {
    let command = mycfg.get("command").filter(|c| !c.is_null());
    let required = mycfg.get("command_required").is_some_and(Value::truthy);
    // 22.4 warns with the command as Python prints it, then fails.
    let failed = |why: String| {
        format!(
            "handling random command [{}] failed: {why}",
            command.map_or_else(|| "None".to_string(), Value::python_repr)
        )
    };
    let argv: Vec<String> = command
        .and_then(Value::as_seq)
        .map(|words| words.iter().map(Value::python_str).collect())
        .unwrap_or_default();
    let Some(program) = argv.first() else {
        if required {
            out.error(failed("no command found but required=true".into()));
        } else {
            out.note("no command provided");
        }
        return;
    };
    if accounts::which(ctx.fs, program).is_none() {
        if required {
            out.error(failed(format!(
                "command '{program}' not found but required=true"
            )));
        } else {
            out.note(format!("command '{program}' not found for seed_command"));
        }
        return;
    }
    out.effects.push(Effect::Run(
        Command::new(argv).env("RANDOM_SEED_FILE", file),
    ));
}

/// `_decode(data, encoding)`.
fn decode(data: &Value, encoding: Option<&Value>, gzip_limit: u64) -> Result<Vec<u8>, String> {
    let bytes = match data {
        Value::Bytes(b) => b.clone(),
        other => other.python_str().into_bytes(),
    };
    let encoding = match encoding {
        None | Some(Value::Null) => return Ok(bytes),
        Some(e) => e.python_str(),
    };
    match encoding.to_lowercase().as_str() {
        "" | "raw" => Ok(bytes),
        "base64" | "b64" => base64::decode(&bytes),
        "gzip" | "gz" => gunzip(bytes, gzip_limit),
        _ => Err(format!("Unknown random_seed encoding: {encoding}")),
    }
}

/// `util.decomp_gzip(data, quiet=False, decode=None)`, bounded: more than
/// `limit` bytes decompressed is an error naming the limit.
fn gunzip(data: Vec<u8>, limit: u64) -> Result<Vec<u8>, String> {
    // Python's gzip reads an empty stream as no data, and names the first
    // two bytes of anything that is not gzip.
    if data.is_empty() {
        return Ok(data);
    }
    if !data.starts_with(&[0x1f, 0x8b]) {
        return Err(format!(
            "Not a gzipped file ({})",
            python_bytes_repr(&data[..data.len().min(2)])
        ));
    }
    let mut out = Vec::new();
    Data::gzipped(data, limit, true)
        .reader()
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// Python's `repr()` of a short `bytes` value (`b'no'`, `b'\x1f'`): single
/// quotes unless it holds one and no double quote.
fn python_bytes_repr(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut s = format!("b{quote}");
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            c if c as char == quote => {
                s.push('\\');
                s.push(quote);
            }
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push(quote);
    s
}

/// `util.append_file(file, seed)` as an effect on the root's own `file`.
fn append(fs: &dyn FsView, file: &str, seed: Vec<u8>) -> Result<Effect, ConfigError> {
    // cloud-init runs in `/`: a relative name is under the root's `/`.
    let path = Path::new("/").join(file);
    let data = Data::secret(seed);
    Ok(match fs.stat(&path) {
        Some(st) if st.kind == FileKind::Dir => {
            return Err(ConfigError::new(
                "random_seed.file",
                format!("[Errno 21] Is a directory: {}", python_str_repr(file)),
            ))
        }
        Some(st) if st.kind == FileKind::Other => append_to_device(file, data),
        // An existing file keeps its mode and owner (`mode=None`).
        Some(st) => Effect::WriteFile {
            path,
            data,
            mode: st.mode,
            owner: Some(owner_ids(st.uid, st.gid)),
            append: Append::Always,
        },
        None => Effect::WriteFile {
            path,
            data,
            mode: 0o644,
            owner: None,
            append: Append::Always,
        },
    })
}

/// The seed appended to a device (or fifo) by a program run inside the
/// root: it is opened and appended to, as Python's `open("ab")` does,
/// where a file write would replace it with a file.
fn append_to_device(file: &str, data: Data) -> Effect {
    Effect::Run(Command {
        stdin: Some(data),
        ..Command::new(["sh", "-c", "cat >> \"$1\"", "sh", file])
    })
}

/// The owner a file has, by id (names where they are root's).
fn owner_ids(uid: u32, gid: u32) -> Owner {
    let named = |id: u32| match id {
        0 => Named::known("root", 0),
        id => Named::known(id.to_string(), id),
    };
    Owner {
        user: Some(named(uid)),
        group: Some(named(gid)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What 22.4's `handle()` did, case by case
    /// (tests/fixtures/seed_random/drive.py).
    fn expected(case: &str) -> serde_json::Value {
        let all: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/seed_random/expected.json"))
                .unwrap();
        all[case].clone()
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|c| format!("{c:02x}")).collect()
    }

    /// The seed file of the fixture's cases, an existing regular file.
    const SEED: &str = "/var/lib/seed";

    /// `drive.py`'s case: `cfg` under `random_seed` (with `file: SEED`),
    /// `metadata` as the datasource's, the file holding `before`.
    fn run_case(cfg: &str, metadata: &str, before: &str) -> Planned {
        Kit::debian12()
            .file_mode("/bin/sh", "#!/bin/sh\n", 0o755)
            .file(SEED, before)
            .cfg(&format!("random_seed:\n  file: {SEED}\n{cfg}"))
            .instance(|i| i.metadata = yaml::load(metadata.as_bytes(), "md").unwrap())
            .plan(&SeedRandom)
    }

    /// The bytes appended to SEED, and the errors and notes, against the
    /// fixture: appended bytes, the exception's message (22.4's warning,
    /// where it logs one first) and the debug lines.
    fn check(case: &str, run: &Planned) {
        let want = expected(case);
        let appended: Vec<u8> = run
            .effects()
            .iter()
            .filter_map(|e| match e {
                Effect::WriteFile {
                    path, data, append, ..
                } if path == Path::new(SEED) && append.is_append() => Some(data.bytes.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(hex(&appended), want["appended_hex"], "{case}: appended");
        let warned: Vec<&str> = want["log"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l[0] == "WARNING")
            .map(|l| l[1].as_str().unwrap())
            .collect();
        let error = match (warned.first(), want["error"][1].as_str()) {
            (Some(w), _) => Some(w.to_string()),
            (None, e) => e.map(str::to_string),
        };
        assert_eq!(run.errors().first().cloned(), error, "{case}: error");
        let debug: Vec<String> = want["log"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l[0] == "DEBUG")
            .map(|l| l[1].as_str().unwrap().replace("<TMP>/seed", SEED))
            .collect();
        assert_eq!(run.notes(), debug.as_slice(), "{case}: notes");
    }

    #[test]
    fn raw_data_then_the_metadata_seed() {
        let run = run_case(
            "  data: my random string\n  encoding: raw\n",
            "random_seed: metadata seed\n",
            "",
        );
        check("raw_and_metadata", &run);
    }

    #[test]
    fn appends_to_what_the_file_holds_keeping_its_mode() {
        let run = run_case("  data: abc\n", "{}", "old\n");
        check("default_encoding_appends", &run);
        let w = &run.written()[0];
        assert!(w.append);
        assert_eq!(w.mode, 0o644);
        assert_eq!(w.owner.as_deref(), Some("root:root"));
    }

    #[test]
    fn base64_in_any_case_and_with_blanks() {
        check(
            "base64",
            &run_case("  data: AAFiaW5hcnn/\n  encoding: base64\n", "{}", ""),
        );
        check(
            "b64_upper_case",
            &run_case("  data: aGVsbG8=\n  encoding: B64\n", "{}", ""),
        );
        check(
            "base64_with_blanks",
            &run_case("  data: \"aGVs\\n bG8=\\n\"\n  encoding: b64\n", "{}", ""),
        );
    }

    /// `gzip.compress(b"gzipped seed\n", mtime=0)`, as drive.py makes it.
    const GZ_B64: &str = "H4sIAAAAAAACA0uvyiwoSE1RKE5NTeECAKYNdmINAAAA";

    #[test]
    fn gzip_data_and_metadata_bytes() {
        check(
            "gzip_bytes",
            &run_case(
                &format!("  data: !!binary {GZ_B64}\n  encoding: gzip\n"),
                "{}",
                "",
            ),
        );
        check(
            "gz_then_metadata_bytes",
            &run_case(
                &format!("  data: !!binary {GZ_B64}\n  encoding: gz\n"),
                "random_seed: !!binary ECBtZXRh\n",
                "",
            ),
        );
    }

    #[test]
    fn the_metadata_seed_alone() {
        let run = Kit::debian12()
            .file(SEED, "x")
            .cfg(&format!("random_seed:\n  file: {SEED}\n"))
            .instance(|i| i.metadata = yaml::load(b"random_seed: !!binary AQID\n", "md").unwrap())
            .plan(&SeedRandom);
        check("metadata_only", &run);
    }

    #[test]
    fn nothing_to_add() {
        check("nothing", &run_case("", "{}", "keep"));
        check("empty_data", &run_case("  data: ''\n", "other: 1\n", ""));
    }

    #[test]
    fn bad_data_is_22_4s_error_and_nothing_is_written() {
        check(
            "unknown_encoding",
            &run_case("  data: abc\n  encoding: rot13\n", "{}", ""),
        );
        check(
            "bad_base64",
            &run_case("  data: abcde\n  encoding: base64\n", "{}", ""),
        );
        check(
            "bad_gzip",
            &run_case("  data: not gzip\n  encoding: gzip\n", "{}", ""),
        );
        check(
            "metadata_seed_not_text",
            &run_case("", "random_seed: 42\n", ""),
        );
    }

    #[test]
    fn command_required_without_one_fails_after_the_write() {
        check(
            "required_without_command",
            &run_case("  data: abc\n  command_required: true\n", "{}", ""),
        );
    }

    #[test]
    fn a_command_missing_from_the_root() {
        check(
            "empty_command_not_required",
            &run_case("  command: []\n", "{}", ""),
        );
        check(
            "missing_command_required",
            &run_case(
                "  command: [no-such-seed-tool, --x]\n  command_required: true\n",
                "{}",
                "",
            ),
        );
        check(
            "missing_command_not_required",
            &run_case("  command: [no-such-seed-tool]\n", "{}", ""),
        );
    }

    #[test]
    fn the_command_runs_with_random_seed_file_after_the_write() {
        let cmd = r#"printf "%s" "$RANDOM_SEED_FILE" > "$RANDOM_SEED_FILE.env""#;
        let run = run_case(
            &format!("  data: abc\n  command: [sh, -c, '{cmd}']\n"),
            "{}",
            "",
        );
        check("command_gets_the_file", &run);
        assert!(matches!(run.effects()[0], Effect::WriteFile { .. }));
        let Effect::Run(c) = &run.effects()[1] else {
            panic!("{:?}", run.effects());
        };
        assert_eq!(c.argv, ["sh", "-c", cmd]);
        // drive.py's command saw the file's path (its temp name there).
        assert_eq!(
            expected("command_gets_the_file")["command_saw_RANDOM_SEED_FILE"],
            "<TMP>/seed"
        );
        assert_eq!(c.env, [("RANDOM_SEED_FILE".to_string(), SEED.to_string())]);
        assert_eq!(c.on_failure, OnFailure::Fatal);
    }

    #[test]
    fn a_failing_command_fails_the_module_when_it_runs() {
        let run = run_case("  command: [sh, -c, exit 3]\n", "{}", "");
        // 22.4 raises ProcessExecutionError; here the run's exit fails it.
        assert!(expected("command_fails")["error"][0] == "ProcessExecutionError");
        assert!(run.errors().is_empty());
        assert_eq!(run.commands(), [["sh", "-c", "exit 3"]]);
    }

    #[test]
    fn dev_urandom_is_appended_to_by_a_program_in_the_root() {
        // The kit's overlay has no devices: a device seen through a real
        // root is `FileKind::Other`; the effect for it is checked here.
        let e = append_to_device("/dev/urandom", Data::secret(b"abc".to_vec()));
        let Effect::Run(c) = &e else { panic!("{e:?}") };
        assert_eq!(c.argv, ["sh", "-c", "cat >> \"$1\"", "sh", "/dev/urandom"]);
        let stdin = c.stdin.as_ref().unwrap();
        assert_eq!(stdin.bytes, b"abc");
        assert!(stdin.secret);
        assert_eq!(
            e.summary(),
            "run sh -c 'cat >> \"$1\"' sh /dev/urandom < <redacted>"
        );
    }

    #[test]
    fn the_default_file_in_a_root_without_it_is_the_roots_own() {
        // A scratch root with no /dev/urandom: the root's own path gets a
        // file, as cloud-init chrooted there would make one.
        let run = Kit::debian12()
            .cfg("random_seed:\n  data: abc\n")
            .plan(&SeedRandom);
        let w = &run.written()[0];
        assert_eq!(w.path, Path::new("/dev/urandom"));
        assert!(w.append);
        assert_eq!((w.mode, w.content.as_str()), (0o644, "abc"));
        assert_eq!(
            run.notes()[0],
            "seed_random: adding 3 bytes of random seed entropy to /dev/urandom"
        );
        assert!(run.effects()[0].summary().contains("secret"));
    }

    #[test]
    fn a_directory_is_pythons_error() {
        let run = Kit::debian12()
            .dir("/var/seed")
            .cfg("random_seed:\n  file: /var/seed\n  data: abc\n  command: [sh]\n")
            .plan(&SeedRandom);
        assert_eq!(run.errors(), ["[Errno 21] Is a directory: '/var/seed'"]);
        assert!(run.effects().is_empty());
    }

    #[test]
    fn gzip_past_the_limit_is_an_error_naming_it() {
        let b64 = GZ_B64;
        let run = Kit::debian12()
            .cfg(&format!(
                "cloudboot: {{limits: {{write_file_bytes: 5}}}}\nrandom_seed:\n  file: {SEED}\n  data: !!binary {b64}\n  encoding: gzip\n"
            ))
            .plan(&SeedRandom);
        assert!(
            run.errors()[0].contains("larger than the limit of 5 bytes"),
            "{:?}",
            run.errors()
        );
        assert!(run.effects().is_empty());
    }

    #[test]
    fn bytes_repr_is_pythons() {
        assert_eq!(python_bytes_repr(b"no"), "b'no'");
        assert_eq!(python_bytes_repr(b"\x1f\n"), "b'\\x1f\\n'");
        assert_eq!(python_bytes_repr(b"'\\"), "b\"'\\\\\"");
        assert_eq!(python_bytes_repr(b"'\""), "b'\\'\"'");
    }
}
