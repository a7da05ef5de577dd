//! `cloudboot install`: puts cloudboot in cloud-init's place on an image.
//!
//! The binary goes to `/usr/bin/cloudboot`, `/usr/bin/cloud-init` becomes a
//! link to it (a cloud-init already there is kept as
//! `/usr/bin/cloud-init.cloudboot-saved` for `--uninstall`), so does
//! `/usr/bin/cloud-init-per` and `/usr/bin/cloud-id` where cloud-init's are not there, and the
//! four stages get services of the image's init system:
//!
//! - **systemd**: `cloudboot-local`, `cloudboot`, `cloudboot-config`,
//!   `cloudboot-final` in `/etc/systemd/system`, ordered as cloud-init's own
//!   units (local before `network-pre.target` and NetworkManager without
//!   default dependencies; the network stage after the network is up and
//!   before `network-online.target`, sshd and user sessions; config after
//!   `network-online.target`; final after `multi-user.target`), enabled by
//!   links in `multi-user.target.wants`; cloud-init's units, when present,
//!   are masked.
//! - **SysV** (RHEL/CentOS 6 and other chkconfig systems): init scripts
//!   with chkconfig priorities that put the local stage (S07) before
//!   `network` (S10) and `NetworkManager` (S23), which 0.7.5's packaging
//!   gets wrong; the network stage after both (S26), config S27, final S99;
//!   enabled with the rc links chkconfig would make. Debian-family SysV gets
//!   LSB headers (`X-Start-Before: networking`) and `update-rc.d`.
//!   cloud-init's scripts, when present, are turned off the way `chkconfig
//!   off` does (their S links become K links).
//! - **upstart** (Ubuntu 14.04 era): jobs in `/etc/init` started on the
//!   events cloud-init's jobs use; cloud-init's jobs get `.override`
//!   files saying `manual`.
//!
//! Everything is effects, so `--dry-run` shows it, and a record of what was
//! changed (`/var/lib/cloudboot/install.json`) lets `--uninstall` put
//! things back.

use std::path::{Path, PathBuf};

use crate::distro::init_system::{self, initd_dir};
use crate::distro::init_system::{Init, SysvFlavour};
use crate::effect::{Command, Data, Effect, OnFailure};
use crate::rootfs::FsView;

pub const BIN: &str = "/usr/bin/cloudboot";
pub const COMPAT: &str = "/usr/bin/cloud-init";
pub const SAVED: &str = "/usr/bin/cloud-init.cloudboot-saved";
/// cloud-init's helper for bootcmd and boothooks ([`crate::per`]).
pub const PER_HELPER: &str = "/usr/bin/cloud-init-per";
/// cloud-init's programs cloudboot answers to by name, where the image
/// lacks them: the helper, and `cloud-id` ([`crate::cloud_id`]).
pub const HELPERS: [&str; 2] = [PER_HELPER, "/usr/bin/cloud-id"];
pub const RECORD: &str = "/var/lib/cloudboot/install.json";

/// The four stages: service name, description, command line.
const STAGES: [(&str, &str, &str); 4] = [
    (
        "cloudboot-local",
        "cloudboot: local stage (datasource, network config; before networking)",
        "init --local",
    ),
    (
        "cloudboot",
        "cloudboot: network stage (metadata service, user-data, init modules)",
        "init",
    ),
    (
        "cloudboot-config",
        "cloudboot: config stage (config modules)",
        "modules --mode=config",
    ),
    (
        "cloudboot-final",
        "cloudboot: final stage (scripts, final message)",
        "modules --mode=final",
    ),
];

/// cloud-init's own services, per init system. Its hotplug socket is
/// masked too: cloudboot's listens on the same FIFO.
const CLOUD_INIT_SYSTEMD: &[&str] = &[
    "cloud-init-local.service",
    "cloud-init.service",
    "cloud-config.service",
    "cloud-final.service",
    "cloud-init-hotplugd.socket",
    "cloud-init-hotplugd.service",
];

/// Network hotplug's delivery, as 22.4's package ships it: the udev rule
/// that install_hotplug writes runs `<libexecdir>/hook-hotplug`, which
/// (once the boot has finished) hands the event to `cloud-init devel
/// hotplug-hook` through this FIFO; a socket unit listens on it and starts
/// the handler as a service, outside udev's worker (which kills what a
/// `RUN` program leaves behind). Where there is no socket (SysV, upstart),
/// the hook runs the handler itself, detached.
pub const HOTPLUG_FIFO: &str = "/run/cloud-init/share/hook-hotplug-cmd";
pub const HOTPLUG_SOCKET: &str = "cloudboot-hotplugd.socket";
pub const HOTPLUG_SERVICE: &str = "cloudboot-hotplugd.service";

/// `hook-hotplug`: POSIX sh, 22.4's arguments.
pub fn hotplug_hook() -> String {
    [
        "#!/bin/sh",
        "# Installed by cloudboot install: udev's network hotplug rule",
        "# (10-cloud-init-hook-hotplug.rules, written by install_hotplug) runs it",
        "# for each NIC added or removed. Until the boot has finished",
        "# (result.json), the boot itself configures the NICs.",
        "[ -e /run/cloud-init/result.json ] || exit 0",
        "args=\"--subsystem=${SUBSYSTEM} handle --devpath=${DEVPATH} --udevaction=${ACTION}\"",
        &format!("if [ -p {HOTPLUG_FIFO} ]; then"),
        &format!("    # {HOTPLUG_SOCKET} listens: it starts the handler as a service."),
        &format!("    exec 3<>{HOTPLUG_FIFO}"),
        "    echo \"$args\" >&3",
        "else",
        "    # No socket (SysV, upstart): the handler runs on its own.",
        &format!("    setsid {COMPAT} devel hotplug-hook $args </dev/null >/dev/null 2>&1 &"),
        "fi",
        "",
    ]
    .join("\n")
}

/// The socket unit listening on [`HOTPLUG_FIFO`].
pub fn hotplug_socket_unit() -> String {
    format!(
        "# Installed by cloudboot install; `cloudboot install --uninstall` removes it.\n\
         [Unit]\n\
         Description=cloudboot: network hotplug events (hook-hotplug writes them here)\n\
         \n\
         [Socket]\n\
         ListenFIFO={HOTPLUG_FIFO}\n\
         SocketMode=0600\n\
         \n\
         [Install]\n\
         WantedBy=sockets.target\n"
    )
}

/// The service the socket starts: one event a start, read from the FIFO.
pub fn hotplug_service_unit() -> String {
    format!(
        "# Installed by cloudboot install; `cloudboot install --uninstall` removes it.\n\
         [Unit]\n\
         Description=cloudboot: network hotplug handler (devel hotplug-hook)\n\
         After={HOTPLUG_SOCKET}\n\
         Requires={HOTPLUG_SOCKET}\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart=/bin/sh -c 'read args <&3; echo \"args=$args\"; exec {BIN} devel hotplug-hook $args; exit 0'\n\
         SyslogIdentifier=cloudboot-hotplugd\n\
         TimeoutStopSec=5\n"
    )
}

const CLOUD_INIT_SYSV: &[&str] = &[
    "cloud-init-local",
    "cloud-init",
    "cloud-config",
    "cloud-final",
];
const CLOUD_INIT_UPSTART: &[&str] = &[
    "cloud-init-local",
    "cloud-init",
    "cloud-init-nonet",
    "cloud-config",
    "cloud-final",
    "cloud-init-container",
    "cloud-log-shutdown",
];

/// The systemd unit of stage `i`, ordered as cloud-init 22.4's units are.
pub fn systemd_unit(i: usize) -> String {
    let (_, desc, args) = STAGES[i];
    let ordering = match i {
        0 => {
            "DefaultDependencies=no\n\
              Wants=network-pre.target\n\
              After=systemd-remount-fs.service\n\
              Before=NetworkManager.service\n\
              Before=network-pre.target\n\
              Before=shutdown.target\n\
              Before=sysinit.target\n\
              Conflicts=shutdown.target\n\
              RequiresMountsFor=/var/lib/cloud\n"
        }
        1 => {
            "DefaultDependencies=no\n\
              Wants=cloudboot-local.service\n\
              Wants=sshd-keygen.service\n\
              Wants=sshd.service\n\
              After=cloudboot-local.service\n\
              After=systemd-networkd-wait-online.service\n\
              After=networking.service\n\
              After=network.service\n\
              After=NetworkManager-wait-online.service\n\
              Before=network-online.target\n\
              Before=sshd-keygen.service\n\
              Before=sshd.service\n\
              Before=sysinit.target\n\
              Before=shutdown.target\n\
              Conflicts=shutdown.target\n\
              Before=systemd-user-sessions.service\n"
        }
        2 => {
            "After=network-online.target cloudboot.service\n\
              Wants=network-online.target\n"
        }
        _ => {
            "After=network-online.target cloudboot-config.service rc-local.service\n\
              After=multi-user.target\n\
              Wants=network-online.target cloudboot-config.service\n"
        }
    };
    let extra = if i == 3 {
        "KillMode=process\nTasksMax=infinity\n"
    } else {
        ""
    };
    format!(
        "# Installed by cloudboot install; `cloudboot install --uninstall` removes it.\n\
         [Unit]\n\
         Description={desc}\n\
         {ordering}\
         ConditionPathExists=!/etc/cloud/cloud-init.disabled\n\
         ConditionKernelCommandLine=!cloud-init=disabled\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         ExecStart={BIN} {args}\n\
         RemainAfterExit=yes\n\
         TimeoutSec=0\n\
         {extra}\
         # Output needs to appear in the instance's console output\n\
         StandardOutput=journal+console\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n"
    )
}

/// chkconfig start priorities: local before network (10) and
/// NetworkManager (23); the network stage after both.
pub const SYSV_START: [u32; 4] = [7, 26, 27, 99];
/// Stop priorities (`100 - start`, as chkconfig scripts usually pair them).
pub const SYSV_STOP: [u32; 4] = [93, 74, 73, 1];

/// The SysV script of stage `i`.
///
/// On Debian `networking` runs in runlevel S (`S10networking` in rcS.d), so
/// a local stage in runlevels 2-5 can never start before it: the local
/// stage is an rcS script (`Default-Start: S`) that starts before
/// `networking`, and each later stage requires the one before it, so
/// insserv puts the network stage after `$network` and startpar never runs
/// two stages at once. (Debian's own cloud-init scripts put all four in
/// 2-5, after the network is up.) On RHEL the chkconfig line decides: the
/// local stage (S07) before `network` (S10) and `NetworkManager` (S23),
/// the network stage after both (S26), config S27, final S99.
pub fn sysv_script(i: usize, flavour: SysvFlavour) -> String {
    let (name, desc, args) = STAGES[i];
    let headers = match flavour {
        SysvFlavour::Debian => {
            // The final stage runs last, as Debian's cloud-final does
            // (`$all`), beside rc.local.
            let (required, should, before, start) = match i {
                0 => ("$local_fs", "udev", "networking", "S"),
                1 => (
                    "$local_fs $remote_fs $network cloudboot-local",
                    "",
                    "ssh",
                    "2 3 4 5",
                ),
                2 => ("$local_fs $remote_fs cloudboot", "", "", "2 3 4 5"),
                _ => ("$all cloudboot-config", "", "", "2 3 4 5"),
            };
            let mut h = format!(
                "### BEGIN INIT INFO\n\
                 # Provides:          {name}\n\
                 # Required-Start:    {required}\n\
                 # Required-Stop:\n"
            );
            if !should.is_empty() {
                h += &format!("# Should-Start:      {should}\n");
            }
            if !before.is_empty() {
                h += &format!("# X-Start-Before:    {before}\n");
            }
            // Nothing to do at shutdown: no Default-Stop runlevels.
            h += &format!(
                "# Default-Start:     {start}\n\
                 # Default-Stop:\n\
                 # Short-Description: {desc}\n\
                 ### END INIT INFO\n"
            );
            h
        }
        SysvFlavour::Chkconfig => {
            // chkconfig also reads LSB headers (EL6); they say the same
            // order as the priorities.
            let (required, before) = match i {
                0 => ("$local_fs", "network NetworkManager"),
                1 => ("$local_fs $network cloudboot-local", "sshd"),
                2 => ("$local_fs $network $remote_fs cloudboot", ""),
                _ => ("$local_fs $network $remote_fs $syslog cloudboot-config", ""),
            };
            let before = if before.is_empty() {
                String::new()
            } else {
                format!("# X-Start-Before:    {before}\n")
            };
            format!(
                "# chkconfig: 2345 {start:02} {stop:02}\n\
                 # description: {desc}\n\
                 #\n\
                 ### BEGIN INIT INFO\n\
                 # Provides:          {name}\n\
                 # Required-Start:    {required}\n\
                 # Required-Stop:\n\
                 {before}\
                 # Default-Start:     2 3 4 5\n\
                 # Default-Stop:      0 1 6\n\
                 # Short-Description: {desc}\n\
                 ### END INIT INFO\n",
                start = SYSV_START[i],
                stop = SYSV_STOP[i],
            )
        }
    };
    format!(
        "#!/bin/sh\n\
         # Installed by cloudboot install; `cloudboot install --uninstall` removes it.\n\
         #\n\
         {headers}\
         \n\
         case \"$1\" in\n\
         \x20   start)\n\
         \x20       {BIN} {args}\n\
         \x20       ;;\n\
         \x20   stop|status|restart|reload|force-reload)\n\
         \x20       exit 0\n\
         \x20       ;;\n\
         \x20   *)\n\
         \x20       echo \"Usage: $0 start\" >&2\n\
         \x20       exit 3\n\
         \x20       ;;\n\
         esac\n"
    )
}

/// The upstart job of stage `i`, on cloud-init's events.
pub fn upstart_job(i: usize) -> String {
    let (_, desc, args) = STAGES[i];
    let start_on = match i {
        0 => "mounted MOUNTPOINT=/ and mounted MOUNTPOINT=/run",
        1 => "mounted MOUNTPOINT=/ and stopped cloudboot-local and static-network-up",
        2 => "filesystem and stopped cloudboot",
        _ => "stopped rc RUNLEVEL=[2345] and stopped cloudboot-config",
    };
    format!(
        "# Installed by cloudboot install; `cloudboot install --uninstall` removes it.\n\
         description \"{desc}\"\n\
         start on {start_on}\n\
         task\n\
         console output\n\
         exec {BIN} {args}\n"
    )
}

/// The service files alone (path, content, mode), for packages: systemd
/// units go to `/lib/systemd/system` (the package's place; `install` puts
/// them in `/etc/systemd/system`), SysV scripts to `initd`, upstart jobs to
/// `/etc/init`.
pub fn service_files(init: Init, initd: &str) -> Vec<(String, String, u32)> {
    let mut files: Vec<(String, String, u32)> = (0..STAGES.len())
        .map(|i| {
            let name = STAGES[i].0;
            match init {
                Init::Systemd => (
                    format!("/lib/systemd/system/{name}.service"),
                    systemd_unit(i),
                    0o644,
                ),
                Init::Sysv => (
                    format!("{initd}/{name}"),
                    sysv_script(i, SysvFlavour::of_initd(initd)),
                    0o755,
                ),
                Init::Upstart => (format!("/etc/init/{name}.conf"), upstart_job(i), 0o644),
            }
        })
        .collect();
    // Network hotplug's hook, where the rule of a package-installed image
    // looks for it (EL's packages link it into /usr/libexec/cloud-init),
    // and on systemd its socket and service.
    files.push((
        "/usr/lib/cloud-init/hook-hotplug".into(),
        hotplug_hook(),
        0o755,
    ));
    if init == Init::Systemd {
        files.push((
            format!("/lib/systemd/system/{HOTPLUG_SOCKET}"),
            hotplug_socket_unit(),
            0o644,
        ));
        files.push((
            format!("/lib/systemd/system/{HOTPLUG_SERVICE}"),
            hotplug_service_unit(),
            0o644,
        ));
    }
    files
}

/// What `install` changed, so that `--uninstall` can undo it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    pub init: String,
    /// Files and links cloudboot created.
    pub created: Vec<PathBuf>,
    /// cloud-init's rc links renamed (old, new), to rename back.
    pub renamed: Vec<(PathBuf, PathBuf)>,
    /// Whether `/usr/bin/cloud-init` was saved aside.
    pub saved_cloud_init: bool,
    /// Directories cloudboot's files made (outermost first); `--uninstall`
    /// removes one only when nothing but cloudboot's files is in it.
    pub created_dirs: Vec<PathBuf>,
}

impl Record {
    pub fn to_json(&self) -> String {
        let paths = |v: &[PathBuf]| {
            v.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
        };
        let j = serde_json::json!({
            "init": self.init,
            "created": paths(&self.created),
            "renamed": self.renamed.iter().map(|(a, b)| [a.display().to_string(), b.display().to_string()]).collect::<Vec<_>>(),
            "saved_cloud_init": self.saved_cloud_init,
            "created_dirs": paths(&self.created_dirs),
        });
        serde_json::to_string_pretty(&j).unwrap_or_default() + "\n"
    }

    pub fn from_json(text: &str) -> Option<Record> {
        let j: serde_json::Value = serde_json::from_str(text).ok()?;
        let strings = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        Some(Record {
            created_dirs: strings(&j["created_dirs"])
                .into_iter()
                .map(PathBuf::from)
                .collect(),
            init: j["init"].as_str()?.to_string(),
            created: strings(&j["created"])
                .into_iter()
                .map(PathBuf::from)
                .collect(),
            renamed: j["renamed"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|p| {
                            let p = strings(p);
                            (p.len() == 2).then(|| (PathBuf::from(&p[0]), PathBuf::from(&p[1])))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            saved_cloud_init: j["saved_cloud_init"].as_bool().unwrap_or(false),
        })
    }
}

/// The effects of `install`, and the record of them. `binary` is the
/// cloudboot executable to copy in.
pub fn install(fs: &dyn FsView, init: Init, binary: &[u8]) -> (Vec<Effect>, Record) {
    let mut effects = Vec::new();
    let mut rec = Record {
        init: init.as_str().to_string(),
        ..Default::default()
    };
    let write =
        |effects: &mut Vec<Effect>, rec: &mut Record, path: &str, content: Data, mode: u32| {
            effects.push(Effect::write(path, content, mode));
            rec.created.push(PathBuf::from(path));
        };
    write(
        &mut effects,
        &mut rec,
        BIN,
        Data::public(binary.to_vec()),
        0o755,
    );
    // The compatibility name: an existing cloud-init (a Python script, or a
    // link to one) is kept aside for --uninstall.
    if fs.lstat(Path::new(SAVED)).is_none() {
        if let Some(copy) = copy_of(fs, Path::new(COMPAT), Path::new(SAVED)) {
            effects.push(copy);
            rec.saved_cloud_init = true;
        }
    }
    effects.push(Effect::Symlink {
        path: COMPAT.into(),
        target: "cloudboot".into(),
    });
    // cloud-init's own helper programs work on the same state and stay
    // where the cloud-init package does; where they are gone, cloudboot
    // answers to their names.
    for helper in HELPERS {
        if fs.lstat(Path::new(helper)).is_none() {
            effects.push(Effect::Symlink {
                path: helper.into(),
                target: "cloudboot".into(),
            });
            rec.created.push(helper.into());
        }
    }
    // Network hotplug's hook: cloud-init's own, where it is installed,
    // writes to the same FIFO and is kept.
    let hook = crate::distro::hotplug_hook_path(fs);
    if fs.lstat(Path::new(hook)).is_none() {
        // Its directory may not be there (an image without cloud-init).
        for dir in Path::new(hook).ancestors().skip(1) {
            if dir.as_os_str() == "/" || fs.lstat(dir).is_some() {
                break;
            }
            rec.created_dirs.insert(0, dir.to_path_buf());
        }
        write(
            &mut effects,
            &mut rec,
            hook,
            Data::public(hotplug_hook()),
            0o755,
        );
    }
    match init {
        Init::Systemd => {
            for (i, (name, _, _)) in STAGES.iter().enumerate() {
                let unit = format!("/etc/systemd/system/{name}.service");
                write(
                    &mut effects,
                    &mut rec,
                    &unit,
                    Data::public(systemd_unit(i)),
                    0o644,
                );
                let wants = format!("/etc/systemd/system/multi-user.target.wants/{name}.service");
                effects.push(Effect::Symlink {
                    path: wants.clone().into(),
                    target: unit.into(),
                });
                rec.created.push(wants.into());
            }
            let socket = format!("/etc/systemd/system/{HOTPLUG_SOCKET}");
            write(
                &mut effects,
                &mut rec,
                &socket,
                Data::public(hotplug_socket_unit()),
                0o644,
            );
            let service = format!("/etc/systemd/system/{HOTPLUG_SERVICE}");
            write(
                &mut effects,
                &mut rec,
                &service,
                Data::public(hotplug_service_unit()),
                0o644,
            );
            let wants = format!("/etc/systemd/system/sockets.target.wants/{HOTPLUG_SOCKET}");
            effects.push(Effect::Symlink {
                path: wants.clone().into(),
                target: socket.into(),
            });
            rec.created.push(wants.into());
        }
        Init::Sysv => {
            let debian = init_system::links_by_update_rc_d(fs);
            let initd = initd_dir(fs);
            let rcdir = |level: u32| init_system::rc_dir(fs, &level.to_string());
            for (i, (name, _, _)) in STAGES.iter().enumerate() {
                let script = format!("{initd}/{name}");
                write(
                    &mut effects,
                    &mut rec,
                    &script,
                    Data::public(sysv_script(i, SysvFlavour::of_initd(initd))),
                    0o755,
                );
                if debian {
                    // insserv orders Debian's rc links from the LSB headers.
                    effects.push(Effect::Run(
                        Command::new(["update-rc.d", name, "defaults"])
                            .on_failure(OnFailure::Report),
                    ));
                    continue;
                }
                // The links `chkconfig --add` makes from the chkconfig line.
                for level in 0..=6u32 {
                    let (kind, prio) = if (2..=5).contains(&level) {
                        ('S', SYSV_START[i])
                    } else {
                        ('K', SYSV_STOP[i])
                    };
                    let link = format!("{}/{kind}{prio:02}{name}", rcdir(level));
                    effects.push(Effect::Symlink {
                        path: link.clone().into(),
                        target: format!("../init.d/{name}").into(),
                    });
                    rec.created.push(link.into());
                }
            }
        }
        Init::Upstart => {
            for (i, (name, _, _)) in STAGES.iter().enumerate() {
                let job = format!("/etc/init/{name}.conf");
                write(
                    &mut effects,
                    &mut rec,
                    &job,
                    Data::public(upstart_job(i)),
                    0o644,
                );
            }
        }
    }
    effects.extend(cloud_init_off(fs, init, &mut rec));
    effects.push(Effect::write(RECORD, Data::public(rec.to_json()), 0o644));
    (effects, rec)
}

/// Turns cloud-init's own services off, as `install` does once cloudboot's
/// are in place (and `seal` does where both are enabled): systemd units
/// masked (a link to /dev/null in /etc/systemd/system), SysV S links
/// renamed to K links (`chkconfig cloud-init off`), upstart jobs given an
/// `.override` that says `manual`. `rec` notes what it made and renamed.
pub fn cloud_init_off(fs: &dyn FsView, init: Init, rec: &mut Record) -> Vec<Effect> {
    let mut effects = Vec::new();
    match init {
        Init::Systemd => {
            for unit in CLOUD_INIT_SYSTEMD {
                let shipped = ["/lib/systemd/system", "/usr/lib/systemd/system"]
                    .iter()
                    .any(|d| fs.exists(&Path::new(d).join(unit)));
                let mask = format!("/etc/systemd/system/{unit}");
                if shipped && fs.lstat(Path::new(&mask)).is_none() {
                    effects.push(Effect::Symlink {
                        path: mask.clone().into(),
                        target: "/dev/null".into(),
                    });
                    rec.created.push(mask.into());
                }
            }
        }
        Init::Sysv => {
            // `chkconfig cloud-init off`: S links become K links.
            for level in 0..=6u32 {
                let dir = init_system::rc_dir(fs, &level.to_string());
                for entry in fs.list_dir(Path::new(&dir)).unwrap_or_default() {
                    let Some(rest) = entry.strip_prefix('S') else {
                        continue;
                    };
                    let name = rest.trim_start_matches(|c: char| c.is_ascii_digit());
                    if CLOUD_INIT_SYSV.contains(&name) {
                        let prio = &rest[..rest.len() - name.len()];
                        let stop: u32 = 100u32.saturating_sub(prio.parse().unwrap_or(0));
                        let from = PathBuf::from(format!("{dir}/{entry}"));
                        let to = PathBuf::from(format!("{dir}/K{stop:02}{name}"));
                        if let Some(copy) = copy_of(fs, &from, &to) {
                            effects.push(copy);
                            effects.push(Effect::Remove { path: from.clone() });
                            rec.renamed.push((from, to));
                        }
                    }
                }
            }
        }
        Init::Upstart => {
            for job in CLOUD_INIT_UPSTART {
                if fs.exists(&Path::new("/etc/init").join(format!("{job}.conf"))) {
                    let ov = format!("/etc/init/{job}.override");
                    if fs.lstat(Path::new(&ov)).is_none() {
                        effects.push(Effect::write(&ov, Data::public("manual\n"), 0o644));
                        rec.created.push(PathBuf::from(ov));
                    }
                }
            }
        }
    }
    effects
}

/// An effect that makes `to` what `from` is now: the same link target, or
/// the same bytes and mode (`None` when `from` is absent).
fn copy_of(fs: &dyn FsView, from: &Path, to: &Path) -> Option<Effect> {
    let st = fs.lstat(from)?;
    if st.kind == crate::rootfs::Kind::Symlink {
        return Some(Effect::Symlink {
            path: to.to_path_buf(),
            target: fs.read_link(from).ok()?,
        });
    }
    Some(Effect::write(
        to,
        Data::public(fs.read(from).ok()?),
        st.mode,
    ))
}

/// Why `install --uninstall` has nothing to undo: its record ([`RECORD`]).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum UninstallError {
    #[error("{} not found: cloudboot install was not run on this root", RECORD)]
    NoRecord,
    #[error("{} is not readable", RECORD)]
    BadRecord,
}

/// The effects of `install --uninstall`, from the record `install` left.
pub fn uninstall(fs: &dyn FsView) -> Result<Vec<Effect>, UninstallError> {
    let text = fs
        .read_string(Path::new(RECORD))
        .ok_or(UninstallError::NoRecord)?;
    let rec = Record::from_json(&text).ok_or(UninstallError::BadRecord)?;
    let mut effects: Vec<Effect> = rec
        .created
        .iter()
        .rev()
        .map(|p| Effect::Remove { path: p.clone() })
        .collect();
    for (from, to) in &rec.renamed {
        if let Some(copy) = copy_of(fs, to, from) {
            effects.push(copy);
            effects.push(Effect::Remove { path: to.clone() });
        }
    }
    effects.push(Effect::Remove {
        path: COMPAT.into(),
    });
    if rec.saved_cloud_init {
        if let Some(copy) = copy_of(fs, Path::new(SAVED), Path::new(COMPAT)) {
            effects.push(copy);
        }
        effects.push(Effect::Remove { path: SAVED.into() });
    }
    // The directories install made, innermost first, each only when all it
    // holds is going too (something put there since stays, with them).
    let mut gone: std::collections::HashSet<PathBuf> = rec.created.iter().cloned().collect();
    for dir in rec.created_dirs.iter().rev() {
        let entries = fs.list_dir(dir).unwrap_or_default();
        if entries.iter().all(|e| gone.contains(&dir.join(e))) {
            effects.push(Effect::Remove { path: dir.clone() });
            gone.insert(dir.clone());
        }
    }
    effects.push(Effect::Remove {
        path: RECORD.into(),
    });
    Ok(effects)
}
