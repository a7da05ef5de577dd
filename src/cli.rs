//! The command line: cloud-init's verbs, options, help, usage errors and exit
//! codes, plus cloudboot's own global options and verbs (`plan`, `boot`, ...).
//!
//! Installed as `/usr/bin/cloud-init`, cloudboot answers the same commands a
//! systemd unit or SysV script gives cloud-init (`init --local`, `init`,
//! `modules --mode=config`, ...), read as cloud-init's argparse reads them
//! ([`crate::argparse`]): global options before the verb, each verb with its
//! own options and `--help`. The help texts of cloud-init's verbs are
//! cloud-init's own.

use std::fs;
use std::path::{Path, PathBuf};

use crate::argparse::{os_error, Arg, Matches, Nargs, Parser};
use crate::boot::{Engine, Options};
use crate::exec::Runner;
use crate::paths::{Paths, LOG_FILE, OUTPUT_LOG_FILE, STAGES_YAML};
use crate::plan::PlanTarget;
use crate::report::{self, StageReport};
use crate::rootfs::{FsView, RealFs, Root};
use crate::schedule::{Frequency, Stage};
use crate::stages::{self, StageMap};
use crate::target::{apply_all, LiveTarget, Target};
use crate::value::python_str_repr;
use crate::{logging, py, status};

/// cloud-init's command line (its options and help in its words, in its
/// order), then cloudboot's own options and verbs.
fn command_line(prog: &str) -> Parser {
    Parser::new(prog)
        .arg(Arg::version(
            &["--version", "-v"],
            // 22.4's "%(prog)s VERSION" (see VERSION_STRING for its shape).
            &format!("{prog} {}", crate::VERSION_STRING),
            "Show program's version number and exit.",
        ))
        .arg(
            Arg::append(
                &["--file", "-f"],
                "Use additional yaml configuration files.",
            )
            .dest("files")
            .check(readable_file),
        )
        .arg(Arg::flag(
            &["--debug", "-d"],
            "Show additional pre-action logging (default: False).",
        ))
        .arg(Arg::flag(
            &["--force"],
            "Force running even if no datasource is found (use at your own risk).",
        ))
        .arg(
            Arg::value(
                &["--root"],
                "The machine to configure is DIR (default: /): every path is read and \
                 written under it, nothing outside it is touched.",
            )
            .metavar("DIR")
            .check(existing_dir),
        )
        .arg(
            Arg::value(
                &["--stages"],
                "The stage map to use (default: the root's /etc/cloudboot/stages.yaml, \
                 else the built-in one).",
            )
            .metavar("FILE"),
        )
        .arg(
            Arg::append(
                &["--device"],
                "A device or image file (on this machine) to look for a seed on first; \
                 may be given more than once.",
            )
            .dest("devices")
            .metavar("PATH")
            .check(existing_path),
        )
        .arg(Arg::flag(
            &["--mount-fallback"],
            "Mount a device that cannot be read in place (live root only).",
        ))
        .subcommands("Subcommands", "subcommand")
        .command(
            "init",
            "Initialize cloud-init and perform initial modules.",
            |p| {
                p.arg(Arg::flag(
                    &["--local", "-l"],
                    "Start in local mode (default: False).",
                ))
            },
        )
        .command(
            "modules",
            "Activate modules using a given configuration key.",
            |p| {
                p.arg(
                    Arg::value(
                        &["--mode", "-m"],
                        "Module configuration name to use (default: config).",
                    )
                    .choices(&["init", "config", "final"])
                    .default("config"),
                )
            },
        )
        .command("single", "Run a single module.", |p| {
            p.arg(Arg::value(&["--name", "-n"], "Module name to run.").required())
                .arg(
                    Arg::value(&["--frequency"], "Module frequency for this run.")
                        .choices(&["instance", "always", "once"]),
                )
                .arg(Arg::flag(&["--report"], "Enable reporting."))
                .arg(
                    Arg::positional(
                        "module_args",
                        Nargs::Any,
                        "Any additional arguments to pass to this module.",
                    )
                    .metavar("argument"),
                )
        })
        .command(
            "query",
            "Query standardized instance metadata from the command line.",
            crate::query::args,
        )
        .command(
            "cloud-id",
            "Report the canonical cloud-id for this instance (the cloud-id program).",
            crate::cloud_id::args,
        )
        .command(
            "dhclient-hook",
            "Run the dhclient hook to record network info.",
            crate::dhclient_hook::args,
        )
        .command("features", "List defined features.", |p| p)
        .command(
            "analyze",
            "Devel tool: Analyze cloud-init logs and data.",
            analyze_args,
        )
        .command("devel", "Run development tools.", |p| {
            p.subcommands("Subcommands", "subcommand")
                .command(
                    "hotplug-hook",
                    "Handle reconfiguration on hotplug events.",
                    |p| {
                        p.description("Handle reconfiguration on hotplug events.")
                            .arg(
                                Arg::value(&["-s", "--subsystem"], "subsystem to act on")
                                    .choices(&["net"])
                                    .required(),
                            )
                            .subcommands("Hotplug Action", "hotplug_action")
                            .command(
                                "query",
                                "Query if hotplug is enabled for given subsystem.",
                                |p| p,
                            )
                            .command("handle", "Handle the hotplug event.", |p| {
                                p.arg(
                                    Arg::value(
                                        &["-d", "--devpath"],
                                        "Sysfs path to hotplugged device",
                                    )
                                    .metavar("PATH")
                                    .required(),
                                )
                                .arg(
                                    Arg::value(&["-u", "--udevaction"], "Specify action to take.")
                                        .choices(&["add", "remove"])
                                        .required(),
                                )
                            })
                    },
                )
                .command(
                    "net-convert",
                    crate::net_convert::HELP,
                    crate::net_convert::args,
                )
                .command("render", crate::render::HELP, crate::render::args)
                .command(
                    "make-mime",
                    "Generate multi-part mime messages for user-data.",
                    make_mime_args,
                )
                // cloudboot's own; not in the help, which is 22.4's.
                .hidden_command(
                    "parse-yaml",
                    "Print cloudboot's reading of a YAML file as JSON.",
                    |p| {
                        p.arg(Arg::positional(
                            "FILE",
                            Nargs::One,
                            "The YAML file to read (- for stdin).",
                        ))
                    },
                )
        })
        .command(
            "collect-logs",
            "Collect and tar all cloud-init debug info.",
            crate::collect_logs::args,
        )
        .command(
            "clean",
            "Remove logs and artifacts so cloud-init can re-run.",
            |p| {
                p.arg(Arg::flag(&["-l", "--logs"], "Remove cloud-init logs.").dest("remove_logs"))
                    .arg(Arg::flag(
                        &["--machine-id"],
                        "Remove /etc/machine-id for golden image creation. Next boot \
                         generates a new machine-id.",
                    ))
                    .arg(Arg::flag(
                        &["-r", "--reboot"],
                        "Reboot system after logs are cleaned so cloud-init re-runs.",
                    ))
                    .arg(
                        Arg::flag(
                            &["-s", "--seed"],
                            "Remove cloud-init seed directory /var/lib/cloud/seed.",
                        )
                        .dest("remove_seed"),
                    )
            },
        )
        .command(
            "status",
            "Report cloud-init status or wait on completion.",
            |p| {
                p.arg(
                    Arg::value(
                        &["--format"],
                        "Specify output format for cloud-id (default: tabular)",
                    )
                    .choices(&["json", "tabular", "yaml"])
                    .default("tabular"),
                )
                .arg(Arg::flag(
                    &["-l", "--long"],
                    "Report long format of statuses including run stage name and error \
                     messages",
                ))
                .arg(Arg::flag(
                    &["-w", "--wait"],
                    "Block waiting on cloud-init to complete",
                ))
                // cloudboot's own, hidden: `status --help` stays 22.4's.
                .arg(
                    Arg::flag(
                        &["--modules"],
                        "Also list each stage's modules (ran, skipped or failed, and \
                         why) and the warnings it found (cloudboot only)",
                    )
                    .hidden(),
                )
            },
        )
        .command(
            "schema",
            "Validate cloud-config files using jsonschema.",
            |p| {
                p.arg(Arg::value(
                    &["-c", "--config-file"],
                    "Path of the cloud-config yaml file to validate",
                ))
                .arg(Arg::flag(
                    &["--system"],
                    "Validate the system cloud-config userdata",
                ))
                .arg(Arg::values(
                    &["-d", "--docs"],
                    "Print schema module docs. Choices: all or space-delimited cc_names.",
                ))
                .arg(Arg::flag(
                    &["--annotate"],
                    "Annotate existing cloud-config file with errors",
                ))
                // cloudboot's own: validates a datasource description (a
                // file for /etc/cloudboot/datasources.d). Hidden, so that
                // help and usage errors are 22.4's.
                .arg(Arg::value(&["--datasource"], "").hidden())
            },
        )
        .command(
            "plan",
            "Show what a boot would do, stage by stage; change nothing.",
            |p| {
                p.arg(
                    Arg::value(&["--stage"], "The stage to plan (default: all).")
                        .choices(&["local", "network", "config", "final", "all"])
                        .default("all"),
                )
                .arg(
                    Arg::value(&["--format"], "Output format (default: text).")
                        .choices(&["text", "json"])
                        .default("text"),
                )
            },
        )
        .command(
            "boot",
            "Run all four stages in order and report what they did.",
            |p| {
                p.arg(
                    Arg::value(
                        &["--seed"],
                        "Install this NoCloud seed directory (meta-data, user-data, ...) \
                         in the root first.",
                    )
                    .metavar("DIR")
                    .check(existing_dir),
                )
            },
        )
        .command(
            "install",
            "Put cloudboot in cloud-init's place in the root: the binary, \
             /usr/bin/cloud-init and the four stage services.",
            |p| {
                p.arg(
                    Arg::value(&["--init"], "The init system (default: detected).")
                        .choices(&["systemd", "sysv", "upstart"]),
                )
                .arg(Arg::flag(
                    &["--uninstall"],
                    "Put back what install changed.",
                ))
                .arg(Arg::flag(
                    &["--dry-run"],
                    "Print what would be written; change nothing.",
                ))
                .arg(Arg::flag(
                    &["--files-only"],
                    "Write the service files alone (for packages).",
                ))
            },
        )
        .command(
            "doctor",
            "Find the problems an image carries that make its first boot on a new \
             cloud fail (reads only).",
            |p| {
                image_args(p).arg(
                    Arg::value(&["--format"], "Output format (default: text).")
                        .choices(&["text", "json"])
                        .default("text"),
                )
            },
        )
        .command(
            "seal",
            "Prepare an image for templating: make the fixes doctor finds (state, \
             machine-id, host keys, stale network files, fstab, init order).",
            |p| {
                image_args(p)
                    .arg(Arg::flag(
                        &["--dry-run"],
                        "Print the fixes as a plan, with diffs; change nothing.",
                    ))
                    .arg(Arg::flag(
                        &["--force"],
                        "Seal the running system (/) itself.",
                    ))
            },
        )
        .raw_command(
            "per",
            "Run a command once, once per instance or always, as cloud-init-per does \
             (see per --help).",
        )
        .command("net", "Network config tools.", |p| {
            p.subcommands("Subcommands", "subcommand").command(
                "render",
                "Render a network config into a directory (no machine involved).",
                |p| {
                    p.arg(
                        Arg::value(&["--input", "-i"], "The network config to render.")
                            .metavar("FILE")
                            .required(),
                    )
                    .arg(
                        Arg::value(
                            &["--kind", "-k"],
                            "Its format: network_data.json, v1, v2, eni or auto \
                             (default: auto, guessed from the content).",
                        )
                        .metavar("KIND")
                        .default("auto"),
                    )
                    .arg(
                        Arg::value(
                            &["--renderer", "-O"],
                            "The renderer (default: the distro's).",
                        )
                        .choices(&[
                            "sysconfig",
                            "eni",
                            "networkd",
                            "netplan",
                            "network-manager",
                        ]),
                    )
                    .arg(
                        Arg::value(
                            &["--distro", "-D"],
                            "The distro to render for (centos, centos6, rhel7, debian, \
                             ubuntu18, ...).",
                        )
                        .metavar("NAME"),
                    )
                    .arg(
                        Arg::append(
                            &["--mac", "-m"],
                            "An interface that exists, as NAME,MAC; may be given more \
                             than once.",
                        )
                        .metavar("NAME,MAC")
                        .check(mac_pair),
                    )
                    .arg(
                        Arg::value(&["--output", "-d"], "The directory to render into.")
                            .metavar("DIR")
                            .required(),
                    )
                },
            )
        })
}

/// `cloud-init query`'s options (`cmd/query.py:get_parser`).
/// The options doctor and seal share: the image's root, and the cloud it
/// is moving to.
fn image_args(p: Parser) -> Parser {
    p.arg(
        Arg::value(
            &["--root"],
            "The image's root directory (default: the global --root, else /).",
        )
        .metavar("DIR")
        .check(existing_dir),
    )
    .arg(
        Arg::value(
            &["--cloud"],
            "The datasource of the cloud the image is moving to (e.g. ConfigDrive, \
             Ec2, OpenStack): datasource_list is checked against it.",
        )
        .metavar("NAME"),
    )
}

/// `cloud-init analyze`'s verbs and options (`analyze/__main__.py:get_parser`,
/// its help texts verbatim), and cloudboot's `plot`.
fn analyze_args(p: Parser) -> Parser {
    // 22.4's help texts, trailing blanks and all.
    const IN: &str = "specify where to read input.";
    const IN_: &str = "specify where to read input. ";
    const OUT: &str = "specify where to write output.";
    const OUT_: &str = "specify where to write output. ";
    fn io(p: Parser, input_help: &str, output_help: &str) -> Parser {
        p.arg(
            Arg::value(&["-i", "--infile"], input_help)
                .dest("infile")
                .default(LOG_FILE),
        )
        .arg(
            Arg::value(&["-o", "--outfile"], output_help)
                .dest("outfile")
                .default("-"),
        )
    }
    p.subcommands("Subcommands", "subcommand")
        .command(
            "blame",
            "Print list of executed stages ordered by time to init",
            |p| io(p, IN, OUT_),
        )
        .command(
            "show",
            "Print list of in-order events during execution",
            |p| {
                let format = Arg::value(&["-f", "--format"], "specify formatting of output.")
                    .dest("print_format")
                    .default(crate::analyze::records::SHOW_FORMAT);
                io(p.arg(format), IN, OUT)
            },
        )
        .command("dump", "Dump cloud-init events in JSON format", |p| {
            io(p, IN_, OUT_)
        })
        .command(
            "boot",
            "Print list of boot times for kernel and cloud-init",
            |p| io(p, IN_, OUT),
        )
        // cloudboot's own: works, but left out of analyze's help and usage,
        // which are 22.4's byte for byte (the README documents it).
        .hidden_command(
            "plot",
            "Draw the stages and each module as bars on a time axis, as SVG (cloudboot only)",
            |p| io(p, IN, OUT),
        )
}

/// `analyze VERB`: the log is the root's unless `-i` names another file.
fn cmd_analyze(args: &Args, m: &Matches) -> i32 {
    let Some((verb, sub)) = m.command() else {
        unreachable!("the parser insists on an analyze subcommand");
    };
    let infile = match sub.value("infile") {
        Some(f) if f == LOG_FILE && args.root != Path::new("/") => {
            args.root.join(LOG_FILE.trim_start_matches('/'))
        }
        Some(f) => PathBuf::from(f),
        None => PathBuf::from(LOG_FILE),
    };
    crate::analyze::run(&crate::analyze::Request {
        verb,
        infile: &infile.to_string_lossy(),
        outfile: sub.value("outfile").unwrap_or("-"),
        format: sub
            .value("print_format")
            .unwrap_or(crate::analyze::records::SHOW_FORMAT),
    })
}

/// `--file`: opened as argparse's `FileType("rb")` opens it.
fn readable_file(path: &str) -> Result<(), String> {
    fs::File::open(path)
        .map(drop)
        .map_err(|e| format!("can't open '{path}': {}", os_error(&e, path)))
}

/// `--root`, `boot --seed`: a directory that exists (never created).
fn existing_dir(path: &str) -> Result<(), String> {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(format!("{} is not a directory", python_str_repr(path))),
        Err(e) => Err(missing_or(&e, "no such directory", path)),
    }
}

/// `--device`: a device node or image file that exists. Not opened here:
/// opening a drive can have effects of its own.
fn existing_path(path: &str) -> Result<(), String> {
    fs::metadata(path)
        .map(drop)
        .map_err(|e| missing_or(&e, "no such file or device", path))
}

/// "no such ...: 'PATH'" when it is not there, else why it cannot be used.
fn missing_or(e: &std::io::Error, missing: &str, path: &str) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        format!("{missing}: {}", python_str_repr(path))
    } else {
        format!("can't use {}: {}", python_str_repr(path), os_error(e, path))
    }
}

/// `net render --mac NAME,MAC`.
fn mac_pair(value: &str) -> Result<(), String> {
    crate::net::preview::parse_mac_pair(value)
        .map(drop)
        .ok_or_else(|| format!("expected NAME,MAC, not '{value}'"))
}

/// The global options, as the verbs use them.
struct Args {
    root: PathBuf,
    stages: Option<PathBuf>,
    files: Vec<PathBuf>,
    devices: Vec<PathBuf>,
    mount_fallback: bool,
    force: bool,
}

impl Args {
    fn from(m: &Matches) -> Args {
        let paths = |dest: &str| m.values(dest).iter().map(PathBuf::from).collect();
        Args {
            root: PathBuf::from(m.value("root").unwrap_or("/")),
            stages: m.value("stages").map(PathBuf::from),
            files: paths("files"),
            devices: paths("devices"),
            mount_fallback: m.flag("mount_fallback"),
            force: m.flag("force"),
        }
    }
}

/// The program name 22.4's messages show: its `prog` is Python's
/// `sys.argv[0]`, the path the kernel ran the script by, which for a
/// command found through `PATH` is the shell's full path
/// (`/usr/bin/cloud-init`), and otherwise the path as typed
/// (`./cloud-init`). A binary gets the bare name from the shell, so the
/// `PATH` search is made again here.
pub fn shown_prog(called_as: &str) -> String {
    if called_as.is_empty() || called_as.contains('/') {
        return called_as.to_string();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let dir = if dir.as_os_str().is_empty() {
            std::path::PathBuf::from(".")
        } else {
            dir
        };
        let candidate = dir.join(called_as);
        let runnable = std::fs::metadata(&candidate).is_ok_and(|m| {
            use std::os::unix::fs::PermissionsExt;
            m.is_file() && m.permissions().mode() & 0o111 != 0
        });
        if runnable {
            return candidate.to_string_lossy().into_owned();
        }
    }
    called_as.to_string()
}

/// Entry point: `prog` is the name it was called by (argv[0], as argparse
/// shows it); returns the process exit code.
pub fn main(prog: &str, argv: Vec<String>) -> i32 {
    let matches = match command_line(prog).parse(&argv) {
        Ok(m) => m,
        Err(exit) => return exit.report(),
    };
    let Some((command, sub)) = matches.command() else {
        unreachable!("the parser insists on a subcommand");
    };
    let args = Args::from(&matches);
    logging::init(matches.flag("debug") || (command == "query" && sub.flag("debug")));
    match command {
        "init" => run_live(
            &args,
            if sub.flag("local") {
                Stage::Local
            } else {
                Stage::Network
            },
            false,
        ),
        "modules" => match sub.value("mode") {
            Some("init") => run_live(&args, Stage::Network, true),
            Some("final") => run_live(&args, Stage::Final, false),
            _ => run_live(&args, Stage::Config, false),
        },
        "single" => cmd_single(&args, sub),
        "status" => status::run(&args.root, sub),
        "clean" => cmd_clean(&args, sub),
        "query" => crate::query::run(&args.root, sub),
        "cloud-id" => crate::cloud_id::run(&args.root, sub),
        "plan" => cmd_plan(&args, sub),
        "schema" => cmd_schema(&args, sub),
        "boot" => cmd_boot(&args, sub),
        "analyze" => cmd_analyze(&args, sub),
        "dhclient-hook" => crate::dhclient_hook::run(
            &args.root,
            sub.value("event").unwrap_or_default(),
            sub.value("interface").unwrap_or_default(),
        ),
        "features" => crate::features::run(),
        "collect-logs" => crate::collect_logs::main(&args.root, sub, &argv),
        "devel" => cmd_devel(&args, sub),
        "net" => cmd_net(sub),
        "install" => cmd_install(&args, sub),
        "doctor" | "seal" => cmd_image(&args, command, sub),
        "per" => crate::per::main("cloudboot per", sub.raw()),
        other => unreachable!("'{other}' is a subcommand of the parser but has no handler"),
    }
}

/// The stage map, or `None` after saying why it cannot be used: an invalid
/// map stops everything before it starts.
fn checked_stage_map(args: &Args, root: &Root) -> Option<StageMap> {
    stage_map(args, root)
        .map_err(|e| eprintln!("cloudboot: {e}"))
        .ok()
}

/// Loads the stage map: `--stages`, else the root's /etc/cloudboot/stages.yaml,
/// else the built-in one. A `--stages` file that cannot be used is refused
/// (the person who named it is there to read why); the root's own file is
/// read at boot, where refusing would leave the machine without users,
/// keys or network: its error is said, and the built-in map is used (a
/// stages.yaml of a newer cloudboot naming a module this one lacks, say).
fn stage_map(args: &Args, root: &Root) -> Result<StageMap, String> {
    if let Some(p) = &args.stages {
        let text = fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let name = p.display().to_string();
        return StageMap::load(&text, &name, &stages::lookup).map_err(|e| e.to_string());
    }
    let fs = RealFs { root: root.clone() };
    let Some(text) = fs.read_string(Path::new(STAGES_YAML)) else {
        return Ok(StageMap::builtin());
    };
    match StageMap::load(&text, STAGES_YAML, &stages::lookup) {
        Ok(map) => Ok(map),
        Err(e) => {
            eprintln!("cloudboot: {e}; the built-in stage map is used instead");
            tracing::error!("{e}; the built-in stage map is used instead");
            Ok(StageMap::builtin())
        }
    }
}

/// A live target for `root`, with the log files opened.
fn live_target(root: &Root) -> LiveTarget {
    if let Err(e) = logging::open_file(root, Path::new(LOG_FILE)) {
        tracing::warn!(
            "cannot open {LOG_FILE} in {}: {e}",
            root.host_path().display()
        );
    }
    // Scripts' output can hold secrets (and set_passwords prints random
    // passwords to the console): never world-readable.
    let output = root.open_append(Path::new(OUTPUT_LOG_FILE), 0o640).ok();
    fix_log_owner(root, &[Path::new(LOG_FILE), Path::new(OUTPUT_LOG_FILE)]);
    LiveTarget::new(root.clone(), Runner::new(root.clone(), output, true))
}

/// cloud-init's `syslog_fix_perms` default (`syslog:adm`, `root:adm`,
/// `root:wheel`, `root:root`): the first owner that exists in the root gets
/// the log files, so the `adm` group can read them as on a cloud-init system.
fn fix_log_owner(root: &Root, logs: &[&Path]) {
    let fs = RealFs { root: root.clone() };
    // /etc/passwd and /etc/group read once for all candidates.
    let accounts = crate::module::Accounts::default();
    let owner = [
        ("syslog", "adm"),
        ("root", "adm"),
        ("root", "wheel"),
        ("root", "root"),
    ]
    .into_iter()
    .find_map(|(user, group)| {
        let uid = match user {
            "root" => Some(0),
            u => accounts.id(&fs, "/etc/passwd", u),
        };
        let gid = match group {
            "root" => Some(0),
            g => accounts.id(&fs, "/etc/group", g),
        };
        Some((Some(uid?), Some(gid?)))
    });
    for log in logs {
        let _ = root.set_owner_mode(log, owner, None);
    }
}

fn options(args: &Args) -> Options {
    Options {
        files: args.files.clone(),
        force: args.force,
        devices: args.devices.clone(),
        mount_fallback: args.mount_fallback,
    }
}

/// The exit code of a stage, `boot` or `plan` that found `errors`: 0 for
/// none, else 1.
///
/// 22.4's `main` exits with the stage's number of errors (`status_wrapper`
/// returns `len(errors)`; `sys.exit(n)` leaves `n & 0xff` to the shell), so
/// two errors exit 2, argparse's usage-error code, and 256 exit 0. Units
/// and scripts only ask zero or not (systemd marks the unit failed either
/// way), so cloudboot answers 1 for any number of errors and keeps 2 for
/// usage errors; the errors themselves are in status.json and the log.
///
/// Every code the command line exits with:
///
/// | code | meaning |
/// |------|---------|
/// | 0 | done; `status`: not run, running, done or disabled; `single`: ran, or already ran per its semaphore |
/// | 1 | failed: a stage, `boot` or `plan` with errors; `status`: error; `single`: the module failed or does not exist; `query`, `schema`, `clean`, `analyze`, `devel`, `net`, `install` errors; `doctor`/`seal`: findings left |
/// | 2 | usage error (argparse's: an unknown option, a missing or bad value), `seal --root /` without `--force`; `cloud-id`: disabled (22.4's code) |
/// | 3 | `cloud-id`: not run (22.4's code); `doctor`/`seal`: the image cannot be read |
/// | other | `per`: the command's own exit code (126/127 when it cannot be run) |
fn exit_code(errors: usize) -> i32 {
    if errors == 0 {
        0
    } else {
        1
    }
}

/// Runs one stage live; exit code 1 if it had errors ([`exit_code`]). Each error was
/// logged where it was found; the stage's record in status.json lists them.
fn run_live(args: &Args, stage: Stage, modules_only: bool) -> i32 {
    let root = Root::new(&args.root);
    let Some(map) = checked_stage_map(args, &root) else {
        return 1;
    };
    let mut target = live_target(&root);
    let mut engine = Engine::new(&mut target, map, options(args));
    let report = engine.run_stage_as(stage, modules_only);
    // The stage's own memory and CPU time, for the benches (the programs
    // it ran apart).
    if let Some(u) = crate::host::own_usage() {
        tracing::debug!(
            "cloudboot's peak memory in this stage: {} KiB; its CPU time: user {:.1} ms, system {:.1} ms",
            u.peak_kib,
            u.user_s * 1e3,
            u.system_s * 1e3
        );
    }
    exit_code(report.errors.len())
}

/// `single`: one module, as the engine runs it; [`crate::single`] says
/// what happened and decides the exit code as 22.4 does.
fn cmd_single(args: &Args, m: &Matches) -> i32 {
    let name = m.value("name").expect("--name is required by the parser");
    let freq = m.value("frequency").and_then(Frequency::parse_short);
    let module_args = m.values("module_args").to_vec();
    let root = Root::new(&args.root);
    let Some(map) = checked_stage_map(args, &root) else {
        return 1;
    };
    let mut target = live_target(&root);
    let mut engine = Engine::new(&mut target, map, options(args));
    if m.flag("report") {
        crate::events::begin_single(name);
    }
    let (code, report) = engine.single(name, freq, module_args);
    crate::events::end_stage();
    crate::single::report(name, code, &report)
}

fn cmd_clean(args: &Args, m: &Matches) -> i32 {
    let root = Root::new(&args.root);
    let mut target = LiveTarget::new(root.clone(), Runner::new(root.clone(), None, true));
    let effects = crate::clean::Clean {
        logs: m.flag("remove_logs"),
        seed: m.flag("remove_seed"),
        machine_id: m.flag("machine_id"),
        reboot: m.flag("reboot"),
    }
    .effects(target.fs());
    let applied = apply_all(&mut target, &effects);
    for e in &applied.errors {
        eprintln!("Error:\n{e}");
    }
    if applied.errors.is_empty() {
        0
    } else {
        1
    }
}

/// `cloud-init schema`: "Valid cloud-config: FILE" and exit 0, or
/// "Error:" and the problems on stderr and exit 1, worded and annotated
/// as 22.4 does ([`crate::schema::strict::report`]). `--docs` prints
/// modules' docs from the registry instead.
fn cmd_schema(args: &Args, m: &Matches) -> i32 {
    let fail = |msg: String| {
        eprintln!("Error:\n{msg}");
        1
    };
    if let Some(file) = m.value("datasource") {
        let text = match fs::read(file) {
            Ok(t) => t,
            Err(e) => return fail(format!("{file}: {e}")),
        };
        return match crate::datasource::declared::Declared::parse(file, &text) {
            Ok(d) => {
                println!(
                    "Valid datasource description: {file} (datasource {})",
                    d.name()
                );
                0
            }
            Err(refused) => {
                let lines: Vec<String> = refused.into_iter().map(|r| r.0).collect();
                fail(format!(
                    "Datasource description errors:\n{}",
                    lines.join("\n")
                ))
            }
        };
    }
    let docs = m.values("docs");
    if !docs.is_empty() {
        if m.value("config_file").is_some() || m.flag("system") {
            return fail("Expected one of --config-file, --system or --docs arguments".into());
        }
        if m.flag("annotate") {
            return fail("Invalid flag combination. Cannot use --annotate with --docs".into());
        }
        return match crate::docs::module_docs(docs) {
            Ok(text) => {
                println!("{text}");
                0
            }
            Err(e) => fail(e.to_string()),
        };
    }
    let (content, name) = match (m.value("config_file"), m.flag("system")) {
        (Some(f), false) => match fs::read(f) {
            Ok(c) => (c, f.to_string()),
            Err(_) => return fail(format!("Configfile {f} does not exist")),
        },
        (None, true) => {
            let fs = RealFs {
                root: Root::new(&args.root),
            };
            let p = Paths::default().instance_link().join("cloud-config.txt");
            match fs.read(&p) {
                Ok(c) => (c, "system userdata".to_string()),
                Err(e) => return fail(format!("{}: {e}", p.display())),
            }
        }
        _ => return fail("Expected one of --config-file, --system or --docs arguments".into()),
    };
    if !content.starts_with(b"#cloud-config") {
        return fail(format!(
            "Cloud config schema errors: format-l1.c1: File {name} needs to begin with \"#cloud-config\""
        ));
    }
    let doc = match crate::yaml::load(&content, &name) {
        Ok(doc) => doc,
        Err(e) => {
            return fail(format!(
                "Cloud config schema errors: format-l{}.c{}: File {name} is not valid yaml. {}",
                e.line.unwrap_or(1),
                e.column.unwrap_or(1),
                e.message
            ))
        }
    };
    let (code, out, err) = crate::schema::strict::report(
        &doc,
        &content,
        &name,
        m.flag("annotate"),
        &crate::modules::schemas(),
    );
    print!("{out}");
    eprint!("{err}");
    code
}

/// `plan`: what a boot would do, stage by stage. Exits as a boot would:
/// 1 if it found errors ([`exit_code`]).
fn cmd_plan(args: &Args, m: &Matches) -> i32 {
    let stages = match m.value("stage").map(Stage::parse) {
        Some(Some(stage)) => vec![stage],
        _ => Stage::ALL.to_vec(),
    };
    let root = Root::new(&args.root);
    let Some(map) = checked_stage_map(args, &root) else {
        return 1;
    };
    let mut target = PlanTarget::new(root);
    let mut engine = Engine::new(&mut target, map, options(args));
    let reports: Vec<StageReport> = stages.into_iter().map(|s| engine.run_stage(s)).collect();
    if m.value("format") == Some("json") {
        println!(
            "{}",
            py::json::dumps(&report::render_json(&reports, true), 2)
        );
    } else {
        print!("{}", report::render_text(&reports, true));
    }
    exit_code(reports.iter().map(|r| r.errors.len()).sum())
}

fn cmd_boot(args: &Args, m: &Matches) -> i32 {
    let root = Root::new(&args.root);
    if let Some(dir) = m.value("seed") {
        if let Err(e) = install_seed(&root, Path::new(dir)) {
            eprintln!("cloudboot boot: cannot install seed {dir}: {e}");
            return 1;
        }
    }
    let Some(map) = checked_stage_map(args, &root) else {
        return 1;
    };
    let mut target = live_target(&root);
    let mut engine = Engine::new(&mut target, map, options(args));
    let mut errors = 0;
    let mut reports = Vec::new();
    for stage in Stage::ALL {
        let r = engine.run_stage(stage);
        errors += r.errors.len();
        reports.push(r);
    }
    print!("{}", report::render_text(&reports, false));
    println!(
        "boot of {} finished: {} error{}",
        root.host_path().display(),
        errors,
        if errors == 1 { "" } else { "s" }
    );
    exit_code(errors)
}

/// `devel make-mime`: see [`crate::make_mime`];
/// `devel parse-yaml FILE`: cloudboot's reading of a YAML file, as JSON;
/// `devel hotplug-hook -s net query|handle`: whether network hotplug is on.
fn cmd_devel(args: &Args, m: &Matches) -> i32 {
    match m.command() {
        Some(("hotplug-hook", sub)) => {
            let root = Root::new(&args.root);
            let fs = RealFs { root };
            match sub.command() {
                Some(("query", _)) => crate::hotplug::query(&fs, &Paths::default()),
                Some(("handle", h)) => {
                    let devpath = h.value("devpath").expect("required by the parser");
                    let action = h
                        .value("udevaction")
                        .and_then(crate::hotplug::Action::parse)
                        .expect("the parser allows add and remove only");
                    crate::hotplug::handle(&fs.root, &Paths::default(), devpath, action)
                }
                _ => 2,
            }
        }
        Some(("net-convert", sub)) => crate::net_convert::run(&args.root, sub),
        Some(("render", sub)) => crate::render::run(
            &args.root,
            sub.value("user_data")
                .expect("user_data is required by the parser"),
            sub.value("instance_data"),
            sub.flag("debug"),
        ),
        Some(("make-mime", sub)) => crate::make_mime::run(
            sub.values("files"),
            sub.flag("list_types"),
            sub.flag("force"),
        ),
        Some(("parse-yaml", sub)) => {
            let file = sub.value("FILE").expect("FILE is required by the parser");
            crate::devel::parse_yaml(Path::new(file))
        }
        other => unreachable!("devel has no subcommand {other:?}"),
    }
}

/// 22.4's `devel make-mime` arguments (`make_mime.get_parser`).
fn make_mime_args(p: Parser) -> Parser {
    p.description("Generate multi-part mime messages for user-data.")
        .epilog(
            "Example: make-mime -a config.yaml:cloud-config -a script.sh:x-shellscript > user-data",
        )
        .arg(
            Arg::append(
                &["-a", "--attach"],
                "attach the given file as the specified content-type",
            )
            .dest("files")
            .metavar("<file>:<content-type>"),
        )
        .arg(Arg::flag(
            &["-l", "--list-types"],
            "List support cloud-init content types.",
        ))
        .arg(Arg::flag(
            &["-f", "--force"],
            "Ignore unknown content-type warnings",
        ))
}

/// `doctor` and `seal`, on the root given to the verb or the global one.
fn cmd_image(args: &Args, verb: &str, m: &Matches) -> i32 {
    let root = Root::new(
        m.value("root")
            .map(PathBuf::from)
            .unwrap_or(args.root.clone()),
    );
    let options = crate::doctor::Options {
        cloud: m.value("cloud").map(str::to_string),
    };
    if verb == "doctor" {
        crate::doctor::run(&root, options, m.value("format") == Some("json"))
    } else {
        crate::seal::run(
            &root,
            options,
            m.flag("dry_run"),
            m.flag("force") || args.force,
        )
    }
}

fn cmd_install(args: &Args, m: &Matches) -> i32 {
    use crate::install;
    let init = m
        .value("init")
        .and_then(crate::distro::init_system::Init::parse);
    let root = Root::new(&args.root);
    let fs = RealFs { root: root.clone() };
    let effects = if m.flag("files_only") {
        // The service files alone, as packages ship them.
        let init = init.unwrap_or_else(|| crate::distro::init_system::detect(&fs));
        install::service_files(init, crate::distro::init_system::initd_dir(&fs))
            .into_iter()
            .map(|(path, content, mode)| {
                crate::effect::Effect::write(path, crate::effect::Data::public(content), mode)
            })
            .collect()
    } else if m.flag("uninstall") {
        match install::uninstall(&fs) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("cloudboot install --uninstall: {e}");
                return 1;
            }
        }
    } else {
        let init = init.unwrap_or_else(|| crate::distro::init_system::detect(&fs));
        let exe = match std::env::current_exe().and_then(fs::read) {
            Ok(exe) => exe,
            Err(e) => {
                eprintln!("cloudboot install: cannot read this cloudboot binary: {e}");
                return 1;
            }
        };
        println!("init system: {}", init.as_str());
        install::install(&fs, init, &exe).0
    };
    if m.flag("dry_run") {
        for e in &effects {
            println!("{}", e.summary());
        }
        return 0;
    }
    let mut target = LiveTarget::new(root.clone(), Runner::new(root, None, true));
    let applied = apply_all(&mut target, &effects);
    for r in &applied.records {
        println!("{}", r.summary);
    }
    for e in &applied.errors {
        eprintln!("cloudboot install: {e}");
    }
    if applied.errors.is_empty() {
        0
    } else {
        1
    }
}

fn cmd_net(m: &Matches) -> i32 {
    use crate::net::preview;
    let Some(("render", m)) = m.command() else {
        unreachable!("net has one subcommand, render");
    };
    let req = preview::Request {
        input: PathBuf::from(m.value("input").expect("--input is required by the parser")),
        kind: m.value("kind").unwrap_or_default().to_string(),
        renderer: m.value("renderer").map(str::to_string),
        distro: m.value("distro").map(str::to_string),
        macs: m
            .values("mac")
            .iter()
            .filter_map(|v| preview::parse_mac_pair(v))
            .collect(),
        output: preview::output_dir(Path::new(
            m.value("output")
                .expect("--output is required by the parser"),
        )),
    };
    match preview::render(&req) {
        Ok(done) => {
            println!("renderer: {}", done.renderer);
            for (path, mode, len) in &done.written {
                println!("write {} ({mode:04o}, {len} bytes)", path.display());
            }
            for path in &done.removed {
                println!("remove {}", path.display());
            }
            for w in &done.warnings {
                println!("warning: {w}");
            }
            0
        }
        Err(e) => {
            eprintln!("cloudboot net render: {e}");
            1
        }
    }
}

/// Copies a NoCloud seed directory into the root's `seed/nocloud`. A seed
/// without `meta-data` and `user-data` (NoCloud needs both) is refused,
/// naming what is missing, before anything is copied.
fn install_seed(root: &Root, dir: &Path) -> std::io::Result<()> {
    for required in ["meta-data", "user-data"] {
        let p = dir.join(required);
        if !p.is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "{} is missing (a NoCloud seed needs meta-data and user-data)",
                    p.display()
                ),
            ));
        }
    }
    let dest = Paths::default().seed_dir("nocloud");
    for name in ["meta-data", "user-data", "vendor-data", "network-config"] {
        let src = dir.join(name);
        if src.is_file() {
            root.write_bytes(&dest.join(name), &fs::read(&src)?, 0o600, None)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value as J;

    /// A command's parser is made only when the command is given: each
    /// one, and each of theirs, can be made (no option named twice).
    /// A list in 22.4's parsed namespace as cloudboot keeps it: make-mime's
    /// `-a FILE:TYPE` is (file, FILE, TYPE) there; cloudboot keeps the argument.
    fn namespace_values(a: &[J]) -> Vec<String> {
        a.iter()
            .map(|v| match v {
                J::Array(t) => format!("{}:{}", t[1].as_str().unwrap(), t[2].as_str().unwrap()),
                v => v.as_str().unwrap().to_string(),
            })
            .collect()
    }

    #[test]
    fn every_commands_parser_can_be_made() {
        fn count(p: &Parser) -> usize {
            p.command_parsers().iter().map(|c| 1 + count(c)).sum()
        }
        // init, modules, single, query, ... and the verbs under them.
        assert!(count(&command_line("cloudboot")) >= 20);
    }

    /// The global options; everything else in argparse's namespace is the
    /// verb's.
    const GLOBAL: [&str; 4] = ["files", "debug", "force", "subcommand"];

    /// Every command line of cloud-init 22.4's tree
    /// (tests/fixtures/cli/tree-cases.json) that 22.4 accepts and
    /// cloudboot's parser accepts (tests/cli_tree.rs checks which are
    /// refused) is read to the values argparse gave. Its namespace is flat:
    /// a key is looked for in the verb's matches and those under it.
    #[test]
    fn the_trees_accepted_command_lines_mean_what_they_mean_to_cloud_init() {
        let fixture: J =
            serde_json::from_str(include_str!("../tests/fixtures/cli/tree-cases.json")).unwrap();
        // The parser opens --file: the files a case names are there.
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        fs::write(dir.path().join("extra.cfg"), "").unwrap();
        let mut checked = 0;
        for case in fixture["cases"].as_array().unwrap() {
            let Some(ns) = case["ns"].as_object() else {
                continue;
            };
            let ns: serde_json::Map<String, J> =
                serde_json::from_str(&serde_json::to_string(ns).unwrap().replace("{DIR}", d))
                    .unwrap();
            let argv: Vec<String> = case["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().replace("{DIR}", d))
                .collect();
            let Ok(m) = command_line("/usr/bin/cloud-init").parse(&argv) else {
                continue;
            };
            let mut levels = vec![&m];
            let mut names = vec![];
            while let Some((name, sub)) = levels.last().unwrap().command() {
                names.push(name.to_string());
                levels.push(sub);
            }
            for (key, want) in &ns {
                let label = format!("{argv:?}: {key}");
                match want {
                    J::String(s) if ["subcommand", "hotplug_action"].contains(&key.as_str()) => {
                        assert!(names.contains(s), "{label}: {names:?}")
                    }
                    J::Bool(b) => assert_eq!(levels.iter().any(|l| l.flag(key)), *b, "{label}"),
                    J::String(s) => assert_eq!(
                        levels.iter().rev().find_map(|l| l.value(key)),
                        Some(s.as_str()),
                        "{label}"
                    ),
                    J::Array(a) => {
                        let want = namespace_values(a);
                        let got = levels
                            .iter()
                            .rev()
                            .map(|l| l.values(key))
                            .find(|v| !v.is_empty());
                        assert_eq!(got.unwrap_or_default(), want, "{label}")
                    }
                    J::Null => assert!(
                        levels
                            .iter()
                            .all(|l| l.value(key).is_none() && !l.flag(key)),
                        "{label} should not be set"
                    ),
                    J::Number(_) => {} // a count (collect-logs -v)
                    other => panic!("unexpected value {other} for {label}"),
                }
            }
            checked += 1;
        }
        assert!(
            checked >= 80,
            "only {checked} accepted command lines checked"
        );
    }

    /// Every command line cloud-init 22.4 accepts in
    /// tests/fixtures/cli/argparse.json is read to the values argparse
    /// itself gave (the refused ones are checked against the binary, in
    /// tests/cli_args.rs).
    #[test]
    fn accepted_command_lines_mean_what_they_mean_to_cloud_init() {
        let fixture: J =
            serde_json::from_str(include_str!("../tests/fixtures/cli/argparse.json")).unwrap();
        let mut checked = 0;
        for case in fixture["cases"].as_array().unwrap() {
            let Some(ns) = case["ns"].as_object() else {
                continue;
            };
            let argv: Vec<String> = case["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect();
            let m = command_line("/usr/bin/cloud-init")
                .parse(&argv)
                .unwrap_or_else(|e| panic!("{argv:?} refused: {e:?}"));
            let (command, sub) = m.command().unwrap();
            for (key, want) in ns {
                let at = if GLOBAL.contains(&key.as_str()) {
                    &m
                } else {
                    sub
                };
                match want {
                    J::String(s) if key == "subcommand" => assert_eq!(command, s, "{argv:?}"),
                    J::Bool(b) => assert_eq!(at.flag(key), *b, "{argv:?}: {key}"),
                    J::String(s) => assert_eq!(at.value(key), Some(s.as_str()), "{argv:?}: {key}"),
                    J::Array(a) => {
                        let want = namespace_values(a);
                        assert_eq!(at.values(key), want, "{argv:?}: {key}")
                    }
                    J::Null => assert!(
                        at.value(key).is_none() && !at.flag(key),
                        "{argv:?}: {key} should not be set"
                    ),
                    other => panic!("unexpected value {other} for {key}"),
                }
            }
            checked += 1;
        }
        assert!(
            checked >= 20,
            "only {checked} accepted command lines checked"
        );
    }
}
