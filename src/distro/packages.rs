//! The package manager, as cloud-init 22.4's distro classes drive it
//! (`install_packages`, `package_command`, `update_package_sources`):
//!
//! - Debian and Ubuntu (`debian.py`): `apt-get` with its `--option` flags,
//!   `--assume-yes --quiet` (`system_info.apt_get_command`), behind
//!   `eatmydata` when the root has it (`system_info.apt_get_wrapper`,
//!   `enabled: auto`), under `DEBIAN_FRONTEND=noninteractive`; `upgrade` is
//!   `dist-upgrade` (`system_info.apt_get_upgrade_subcommand`); a package
//!   with a version is `name=version`. Installing updates the package
//!   sources first (once per instance).
//! - The RHEL family (`rhel.py`): `dnf` when the root has it, else `yum -t`
//!   (tolerant of already-installed packages), then `-y`; a package with a
//!   version is `name-version`. Installing does not update the sources.
//! - `update_package_sources`: `apt-get update` or `makecache`, once per
//!   instance, as 22.4's `Runners` runs it: the semaphore `update_sources`
//!   in the instance's `sem/` directory, written before the command runs
//!   (so a failed update is not retried on a later run of the instance).
//!
//! Every apt-get command waits, as debian.py's `_wait_for_apt_command`
//! does, up to 30 seconds for other processes to release apt's and dpkg's
//! locks ([`APT_LOCK_FILES`]; the executor does the waiting, see
//! [`LockWait`]).
//!
//! The methods read the root through the [`FsView`] they are given and
//! return effects; the programs run inside the target root.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::accounts::which;
use super::Distro;
use crate::effect::{Command, Data, Effect, LockWait};
use crate::paths::Paths;
use crate::rootfs::FsView;
use crate::schedule::Frequency;
use crate::semaphore::Semaphore;
use crate::value::{python_float_repr, Value};

/// debian.py's `APT_GET_COMMAND`.
pub const APT_GET_COMMAND: [&str; 5] = [
    "apt-get",
    "--option=Dpkg::Options::=--force-confold",
    "--option=Dpkg::options::=--force-unsafe-io",
    "--assume-yes",
    "--quiet",
];

/// debian.py's `APT_LOCK_FILES`: what `_wait_for_apt_command` waits on.
pub const APT_LOCK_FILES: [&str; 4] = [
    "/var/lib/dpkg/lock-frontend",
    "/var/lib/dpkg/lock",
    "/var/cache/apt/archives/lock",
    "/var/lib/apt/lists/lock",
];

/// debian.py's `APT_LOCK_WAIT_TIMEOUT`.
pub const APT_LOCK_WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// The name 22.4's `Runners` gives `update_package_sources`' semaphore
/// (canonicalised to `update_sources` on disk).
pub const UPDATE_SOURCES_SEM: &str = "update-sources";

/// What the package methods refuse.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PackageError {
    /// `util.expand_package_list`'s `RuntimeError`s, naming the config key
    /// (`packages[2]`).
    #[error("{key}: {message}")]
    BadSpec { key: String, message: &'static str },
    /// A distro whose package manager cloudboot does not drive.
    #[error("cloudboot does not manage packages on distro '{0}' (cloud-init's class for it is not implemented)")]
    Unsupported(String),
}

impl PackageError {
    /// The config key the error is about (empty when none).
    pub fn key(&self) -> &str {
        match self {
            PackageError::BadSpec { key, .. } => key,
            PackageError::Unsupported(_) => "",
        }
    }
}

/// One package to act on: a name, or a name and the version
/// `[name, version]` asks for (`util.expand_package_list`).
#[derive(Clone, Debug, PartialEq)]
pub struct PackageSpec {
    pub name: String,
    pub version: Option<String>,
}

impl PackageSpec {
    /// A package by name, any version.
    pub fn name(name: impl Into<String>) -> PackageSpec {
        PackageSpec {
            name: name.into(),
            version: None,
        }
    }

    /// The packages a config value lists, as `util.expand_package_list`
    /// reads them: a string, or a list of strings and `[name]` /
    /// `[name, version]` lists (an empty or false version means any).
    /// `key` names the value in errors (`packages` gives `packages[1]`).
    pub fn list(key: &str, value: &Value) -> Result<Vec<PackageSpec>, PackageError> {
        let one = std::slice::from_ref(value);
        let items = match value {
            Value::Seq(items) => items.as_slice(),
            _ => one,
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let key = match value {
                    Value::Seq(_) => format!("{key}[{i}]"),
                    _ => key.to_string(),
                };
                PackageSpec::one(&key, item)
            })
            .collect()
    }

    fn one(key: &str, item: &Value) -> Result<PackageSpec, PackageError> {
        let bad = |message| PackageError::BadSpec {
            key: key.to_string(),
            message,
        };
        match item {
            Value::Str(name) => Ok(PackageSpec::name(name)),
            Value::Seq(pair) => {
                if pair.is_empty() || pair.len() > 2 {
                    return Err(bad("Invalid package & version tuple."));
                }
                // A name that is not a string would reach apt-get as
                // Python's str() of it in 22.4 only with a version; a
                // number or a list is no package name either way.
                let name = pair[0]
                    .as_str()
                    .ok_or(bad("Invalid package & version tuple."))?;
                let version = pair.get(1).filter(|v| v.truthy()).map(Value::python_str);
                Ok(PackageSpec {
                    name: name.to_string(),
                    version,
                })
            }
            _ => Err(bad("Invalid package type.")),
        }
    }

    /// The argument the package manager takes: the name, or the name and
    /// version joined by `sep` (`=` for apt, `-` for yum and dnf).
    fn arg(&self, sep: &str) -> String {
        match &self.version {
            Some(v) => format!("{}{sep}{v}", self.name),
            None => self.name.clone(),
        }
    }
}

/// Where and how `update_package_sources` records that it ran for this
/// instance: 22.4's `update-sources` semaphore in the instance's `sem/`
/// directory, with cloud-init's `"<pid>: <time>\n"` content.
#[derive(Clone, Debug, PartialEq)]
pub struct SourcesMark {
    sem: Semaphore,
    content: String,
}

impl SourcesMark {
    /// The mark of instance `iid`, written by process `pid` at `now`
    /// (a module passes `ctx.paths`, `ctx.iid()`, `ctx.host.pid()`,
    /// `ctx.host.now()`).
    pub fn new(paths: &Paths, iid: &str, pid: u32, now: SystemTime) -> SourcesMark {
        let secs = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        SourcesMark {
            sem: Semaphore::new(paths, UPDATE_SOURCES_SEM, Frequency::Instance, iid)
                .expect("a per-instance semaphore has a directory"),
            content: format!("{pid}: {}\n", python_float_repr(secs)),
        }
    }

    /// The semaphore file (`.../instances/<iid>/sem/update_sources`).
    pub fn path(&self) -> &PathBuf {
        &self.sem.path
    }

    /// The sources were already updated for this instance (the file, or
    /// its dashed twin, exists).
    pub fn done(&self, fs: &dyn FsView) -> bool {
        self.sem.ran(fs).is_some()
    }
}

/// The package managers 22.4's classes drive.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Manager {
    Apt,
    /// dnf, or yum where the root has no dnf.
    Rpm,
}

impl Distro {
    fn package_manager(&self) -> Result<Manager, PackageError> {
        match self.osfamily() {
            Ok("debian") => Ok(Manager::Apt),
            Ok("redhat") => Ok(Manager::Rpm),
            _ => Err(PackageError::Unsupported(self.name.clone())),
        }
    }

    /// `distro.package_command(command, args, pkgs)`: the command that runs
    /// the package manager's `command` (`install`, `upgrade`, `update`,
    /// `makecache`, ...) with extra manager options `args` on packages
    /// `pkgs`, inside the root. On Debian it carries
    /// `DEBIAN_FRONTEND=noninteractive`; a failure is fatal to the effects
    /// after it (set [`Command::on_failure`] to change that).
    pub fn package_command(
        &self,
        fs: &dyn FsView,
        command: &str,
        args: &[String],
        pkgs: &[PackageSpec],
    ) -> Result<Command, PackageError> {
        Ok(match self.package_manager()? {
            Manager::Apt => {
                let mut argv = self.apt_get_prefix(fs);
                argv.extend(args.iter().cloned());
                argv.push(match command {
                    "upgrade" => self.option_str("apt_get_upgrade_subcommand", "dist-upgrade"),
                    other => other.to_string(),
                });
                argv.extend(pkgs.iter().map(|p| p.arg("=")));
                Command::new(argv)
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .lock_wait(LockWait {
                        files: APT_LOCK_FILES.iter().map(PathBuf::from).collect(),
                        timeout: APT_LOCK_WAIT_TIMEOUT,
                    })
            }
            Manager::Rpm => {
                let mut argv: Vec<String> = match which(fs, "dnf") {
                    Some(_) => vec!["dnf".into()],
                    None => vec!["yum".into(), "-t".into()],
                };
                argv.push("-y".into());
                argv.extend(args.iter().cloned());
                argv.push(command.into());
                argv.extend(pkgs.iter().map(|p| p.arg("-")));
                Command::new(argv)
            }
        })
    }

    /// `distro.update_package_sources()`: `apt-get update` (Debian) or
    /// `makecache` (RHEL), once per instance. Empty when `mark` says it
    /// already ran; else the semaphore is written, then the command runs.
    pub fn update_package_sources(
        &self,
        fs: &dyn FsView,
        mark: &SourcesMark,
    ) -> Result<Vec<Effect>, PackageError> {
        let command = match self.package_manager()? {
            Manager::Apt => "update",
            Manager::Rpm => "makecache",
        };
        if mark.done(fs) {
            return Ok(Vec::new());
        }
        Ok(vec![
            Effect::write(
                mark.path().clone(),
                Data::public(mark.content.clone()),
                0o644,
            ),
            Effect::Run(self.package_command(fs, command, &[], &[])?),
        ])
    }

    /// `distro.install_packages(pkglist)`: installs `pkgs` inside the root.
    /// On Debian and Ubuntu the package sources are updated first, once per
    /// instance (see [`Distro::update_package_sources`]); the RHEL family
    /// installs at once, as 22.4 does. Every command is fatal to the effects
    /// after it: a failed update leaves the install undone.
    pub fn install_packages(
        &self,
        fs: &dyn FsView,
        mark: &SourcesMark,
        pkgs: &[PackageSpec],
    ) -> Result<Vec<Effect>, PackageError> {
        let mut effects = match self.package_manager()? {
            Manager::Apt => self.update_package_sources(fs, mark)?,
            Manager::Rpm => Vec::new(),
        };
        effects.push(Effect::Run(self.package_command(
            fs,
            "install",
            &[],
            pkgs,
        )?));
        Ok(effects)
    }

    /// `distro.get_primary_arch()` on Debian (`dpkg --print-architecture`):
    /// the architecture dpkg calls the machine cloudboot was built for,
    /// which is the machine the root runs on (cloudboot does not run the
    /// command: a plan must not).
    pub fn dpkg_architecture(&self) -> &'static str {
        match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "i386",
            "aarch64" => "arm64",
            "arm" => "armhf",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64el",
            "powerpc64" => "ppc64",
            "powerpc" => "powerpc",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            "loongarch64" => "loong64",
            other => other,
        }
    }

    /// `apt_get_wrapper` (eatmydata when present) and `apt_get_command`.
    fn apt_get_prefix(&self, fs: &dyn FsView) -> Vec<String> {
        let wrapper = self.system_info.get("apt_get_wrapper");
        let wrapper_cmd = wrapper
            .and_then(|w| w.get("command"))
            .map(command_words)
            .unwrap_or_else(|| vec!["eatmydata".into()]);
        let enabled = wrapper
            .and_then(|w| w.get("enabled"))
            .cloned()
            .unwrap_or_else(|| Value::Str("auto".into()));
        // `_get_wrapper_prefix`: on when true, or `auto` and the wrapper's
        // program is in the root.
        let auto = enabled.python_str().to_lowercase() == "auto"
            && wrapper_cmd
                .first()
                .is_some_and(|p| !p.is_empty() && which(fs, p).is_some());
        let mut argv = if crate::py::truth::is_true(&enabled) || auto {
            wrapper_cmd
        } else {
            Vec::new()
        };
        match self.system_info.get("apt_get_command") {
            Some(v) => argv.extend(list_words(v)),
            None => argv.extend(APT_GET_COMMAND.iter().map(|s| s.to_string())),
        }
        argv
    }

    /// `get_option(name, default)` of a string option.
    fn option_str(&self, name: &str, default: &str) -> String {
        self.system_info
            .get(name)
            .map(Value::python_str)
            .unwrap_or_else(|| default.to_string())
    }
}

/// A wrapper command: a string is one word (`[str(cmd)]`), a list its items.
fn command_words(v: &Value) -> Vec<String> {
    match v {
        Value::Seq(items) => items.iter().map(Value::python_str).collect(),
        other => vec![other.python_str()],
    }
}

/// `list(value)`: a list's items, a string's characters (as Python's
/// `list()` of a string gives them).
fn list_words(v: &Value) -> Vec<String> {
    match v {
        Value::Seq(items) => items.iter().map(Value::python_str).collect(),
        Value::Str(s) => s.chars().map(String::from).collect(),
        other => vec![other.python_str()],
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::plan::{EmptyRoot, Node, Overlay};

    const DEBIAN: &str = "ID=debian\nVERSION_ID=\"12\"\n";
    const CENTOS: &str = "ID=\"centos\"\nVERSION_ID=\"7\"\n";

    /// A root with `os_release` and the programs `bins` (in /usr/bin).
    fn root(os_release: &str, bins: &[&str]) -> Overlay<EmptyRoot> {
        let mut fs = Overlay::empty();
        let mut put = |path: &str, data: &str, mode| {
            let node = Node::File {
                data: data.as_bytes().to_vec(),
                mode,
                uid: 0,
                gid: 0,
                owner: None,
            };
            fs.put(Path::new(path), node).unwrap();
        };
        put("/etc/os-release", os_release, 0o644);
        for b in bins {
            put(&format!("/usr/bin/{b}"), "", 0o755);
        }
        fs
    }

    fn distro(fs: &dyn FsView, cfg: &str) -> Distro {
        Distro::detect(fs, &crate::yaml::load(cfg.as_bytes(), "t").unwrap())
    }

    fn specs(yaml: &str) -> Result<Vec<PackageSpec>, PackageError> {
        PackageSpec::list(
            "packages",
            &crate::yaml::load(yaml.as_bytes(), "t").unwrap(),
        )
    }

    fn mark() -> SourcesMark {
        SourcesMark::new(&Paths::default(), "iid-1", 42, SystemTime::UNIX_EPOCH)
    }

    fn argv(e: &Effect) -> Vec<String> {
        match e {
            Effect::Run(c) => c.argv.clone(),
            other => vec![other.summary()],
        }
    }

    const APT: [&str; 5] = APT_GET_COMMAND;

    #[test]
    fn specs_expand_as_expand_package_list() {
        assert_eq!(
            specs("[a, [b], [c, '1.2'], [d, null], [e, 2.0]]").unwrap(),
            [
                PackageSpec::name("a"),
                PackageSpec::name("b"),
                PackageSpec {
                    name: "c".into(),
                    version: Some("1.2".into())
                },
                PackageSpec::name("d"),
                PackageSpec {
                    name: "e".into(),
                    version: Some("2.0".into())
                },
            ]
        );
        assert_eq!(specs("solo").unwrap(), [PackageSpec::name("solo")]);
        assert_eq!(
            specs("[a, [b, '1', x]]").unwrap_err().to_string(),
            "packages[1]: Invalid package & version tuple."
        );
        assert_eq!(
            specs("[a, []]").unwrap_err().to_string(),
            "packages[1]: Invalid package & version tuple."
        );
        assert_eq!(
            specs("[{a: 1}]").unwrap_err().to_string(),
            "packages[0]: Invalid package type."
        );
        assert_eq!(specs("[1]").unwrap_err().key(), "packages[0]");
    }

    #[test]
    fn apt_get_with_its_options_and_eatmydata_when_the_root_has_it() {
        let fs = root(DEBIAN, &[]);
        let d = distro(&fs, "{}");
        let pkgs = specs("[a, [b, '1.0']]").unwrap();
        let c = d.package_command(&fs, "install", &[], &pkgs).unwrap();
        let mut want: Vec<&str> = APT.to_vec();
        want.extend(["install", "a", "b=1.0"]);
        assert_eq!(c.argv, want);
        assert_eq!(c.env, [("DEBIAN_FRONTEND".into(), "noninteractive".into())]);
        let wait = c.lock_wait.as_ref().unwrap();
        assert_eq!(wait.files[0], Path::new("/var/lib/dpkg/lock-frontend"));
        assert_eq!(wait.timeout, Duration::from_secs(30));

        let fs = root(DEBIAN, &["eatmydata"]);
        let c = d.package_command(&fs, "upgrade", &[], &[]).unwrap();
        let mut want = vec!["eatmydata"];
        want.extend(APT);
        want.push("dist-upgrade");
        assert_eq!(c.argv, want);

        // system_info overrides: wrapper off, own command and subcommand.
        let d = distro(
            &fs,
            "system_info: {apt_get_wrapper: {enabled: false}, apt_get_command: [apt-get, -y], apt_get_upgrade_subcommand: upgrade}",
        );
        let c = d
            .package_command(&fs, "upgrade", &["--fix".into()], &[])
            .unwrap();
        assert_eq!(c.argv, ["apt-get", "-y", "--fix", "upgrade"]);
    }

    #[test]
    fn dnf_where_present_else_yum_tolerant() {
        let pkgs = specs("[a, [b, '1.0']]").unwrap();
        let fs = root(CENTOS, &[]);
        let d = distro(&fs, "{}");
        let c = d.package_command(&fs, "install", &[], &pkgs).unwrap();
        assert_eq!(c.argv, ["yum", "-t", "-y", "install", "a", "b-1.0"]);
        assert!(c.env.is_empty() && c.lock_wait.is_none());
        let fs = root(CENTOS, &["dnf"]);
        let c = d.package_command(&fs, "install", &[], &pkgs).unwrap();
        assert_eq!(c.argv, ["dnf", "-y", "install", "a", "b-1.0"]);
    }

    #[test]
    fn sources_are_updated_once_per_instance_before_a_debian_install() {
        let mut fs = root(DEBIAN, &[]);
        let d = distro(&fs, "{}");
        let pkgs = specs("[a]").unwrap();
        let e = d.install_packages(&fs, &mark(), &pkgs).unwrap();
        assert_eq!(e.len(), 3, "{e:?}");
        assert_eq!(
            e[0].path(),
            Some(Path::new(
                "/var/lib/cloud/instances/iid-1/sem/update_sources"
            ))
        );
        match &e[0] {
            Effect::WriteFile { data, .. } => assert_eq!(data.bytes, b"42: 0.0\n"),
            other => panic!("{other:?}"),
        }
        assert_eq!(argv(&e[1]).last().unwrap(), "update");
        assert_eq!(argv(&e[2])[APT.len()..], ["install", "a"]);
        // Once the semaphore is there: only the install.
        fs.put(
            Path::new("/var/lib/cloud/instances/iid-1/sem/update_sources"),
            Node::File {
                data: b"1: 2.0\n".to_vec(),
                mode: 0o644,
                uid: 0,
                gid: 0,
                owner: None,
            },
        )
        .unwrap();
        let e = d.install_packages(&fs, &mark(), &pkgs).unwrap();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(d.update_package_sources(&fs, &mark()).unwrap().is_empty());
    }

    #[test]
    fn rhel_installs_without_updating_and_makecache_updates() {
        let fs = root(CENTOS, &[]);
        let d = distro(&fs, "{}");
        let e = d
            .install_packages(&fs, &mark(), &specs("[a]").unwrap())
            .unwrap();
        assert_eq!(
            e.iter().map(argv).collect::<Vec<_>>(),
            [["yum", "-t", "-y", "install", "a"]]
        );
        let e = d.update_package_sources(&fs, &mark()).unwrap();
        assert_eq!(argv(&e[1]), ["yum", "-t", "-y", "makecache"]);
    }

    #[test]
    fn other_distros_are_refused_by_name() {
        let fs = root("ID=alpine\n", &[]);
        let d = distro(&fs, "{}");
        assert_eq!(
            d.install_packages(&fs, &mark(), &[]).unwrap_err(),
            PackageError::Unsupported("alpine".into())
        );
    }

    /// The distro-method cases of what 22.4's own classes ran
    /// (tests/fixtures/package_update_upgrade_install, see its README).
    #[test]
    fn every_recorded_distro_call_is_what_cloud_init_22_4_ran() {
        use serde_json::Value as J;
        let cases: Vec<J> = serde_json::from_str(include_str!(
            "../../tests/fixtures/package_update_upgrade_install/expected.json"
        ))
        .unwrap();
        let strs = |v: &J| -> Vec<String> {
            v.as_array()
                .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
                .unwrap_or_default()
        };
        let mut checked = 0;
        for case in cases.iter().filter(|c| c.get("call").is_some()) {
            let name = case["name"].as_str().unwrap();
            let os = match case["distro"].as_str().unwrap() {
                "debian" => DEBIAN,
                _ => CENTOS,
            };
            let bins = strs(&case["bins"]);
            let mut fs = root(os, &bins.iter().map(String::as_str).collect::<Vec<_>>());
            let sems = strs(&case["sems"]);
            let given = case.get("given_sems").is_some();
            if given {
                fs.put(
                    Path::new("/var/lib/cloud/instances/iid-1/sem/update_sources"),
                    Node::File {
                        data: Vec::new(),
                        mode: 0o644,
                        uid: 0,
                        gid: 0,
                        owner: None,
                    },
                )
                .unwrap();
            }
            let system_info = serde_json::to_string(&case["system_info"]).unwrap();
            let d = distro(
                &fs,
                &format!(
                    "system_info: {}\n",
                    if system_info == "null" {
                        "{}".into()
                    } else {
                        system_info
                    }
                ),
            );
            let (func, args) = (&case["call"][0], &case["call"][1]);
            let pkgs_of = |v: &J| {
                let yaml = serde_json::to_string(v).unwrap();
                specs(if yaml == "null" { "[]" } else { &yaml })
            };
            let result = match func.as_str().unwrap() {
                "package_command" => {
                    let extra = match &args[1] {
                        J::String(s) => vec![s.clone()],
                        J::Array(_) => strs(&args[1]),
                        _ => Vec::new(),
                    };
                    pkgs_of(&args[2]).and_then(|p| {
                        d.package_command(&fs, args[0].as_str().unwrap(), &extra, &p)
                            .map(|c| vec![Effect::Run(c)])
                    })
                }
                "install_packages" => {
                    pkgs_of(&args[0]).and_then(|p| d.install_packages(&fs, &mark(), &p))
                }
                "update_package_sources" => d.update_package_sources(&fs, &mark()),
                other => panic!("{other}"),
            };
            match (&case["error"], result) {
                (J::String(e), Err(got)) => {
                    assert!(
                        e.ends_with(&got.to_string()[got.key().len() + 2..]),
                        "{name}: {got}"
                    )
                }
                (J::Null, Ok(effects)) => {
                    let mut runs = Vec::new();
                    let mut wrote_sem = false;
                    for e in &effects {
                        match e {
                            Effect::Run(c) => {
                                let frontend = c
                                    .env
                                    .iter()
                                    .find(|(k, _)| k == "DEBIAN_FRONTEND")
                                    .map(|(_, v)| J::String(v.clone()))
                                    .unwrap_or(J::Null);
                                runs.push(
                                    serde_json::json!({"argv": c.argv, "frontend": frontend}),
                                );
                            }
                            Effect::WriteFile { .. } => wrote_sem = true,
                            other => panic!("{name}: {other:?}"),
                        }
                    }
                    assert_eq!(J::Array(runs), case["ops"], "{name}");
                    // The semaphore is written exactly when 22.4 left one it
                    // was not given.
                    assert_eq!(wrote_sem, !given && !sems.is_empty(), "{name}");
                }
                (want, got) => panic!("{name}: want {want}, got {got:?}"),
            }
            checked += 1;
        }
        assert_eq!(checked, 24);
    }
}
