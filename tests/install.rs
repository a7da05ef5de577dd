//! `cloudboot install`: the stage services for systemd, SysV (CentOS 6's
//! chkconfig) and upstart, ordered as the boot needs them; cloud-init's own
//! services turned off; `--uninstall` puts the root back as it was.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::Machine;

fn executable(m: &Machine, guest: &str, content: &str) {
    m.write(guest, content);
    std::fs::set_permissions(m.path(guest), std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn link(m: &Machine, guest: &str, target: &str) {
    let p = m.path(guest);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, p).unwrap();
}

/// A CentOS 6 root as chkconfig left it: network at S10, NetworkManager at
/// S23, and cloud-init 0.7.5's four scripts enabled.
fn centos6() -> Machine {
    let m = Machine::new();
    m.write("/etc/redhat-release", "CentOS release 6.10 (Final)\n");
    executable(
        &m,
        "/usr/bin/cloud-init",
        "#!/usr/bin/python\n# cloud-init 0.7.5\n",
    );
    for (name, start, stop) in [
        ("network", 10, 90),
        ("NetworkManager", 23, 84),
        ("cloud-init-local", 8, 92),
        ("cloud-init", 25, 75),
        ("cloud-config", 26, 74),
        ("cloud-final", 98, 2),
    ] {
        executable(&m, &format!("/etc/rc.d/init.d/{name}"), "#!/bin/sh\n");
        for level in 0..=6 {
            let l = if (2..=5).contains(&level) {
                format!("/etc/rc.d/rc{level}.d/S{start:02}{name}")
            } else {
                format!("/etc/rc.d/rc{level}.d/K{stop:02}{name}")
            };
            link(&m, &l, &format!("../init.d/{name}"));
        }
    }
    m
}

/// The start order of runlevel 3, as `rc` runs it: S links sorted by name.
fn rc3_order(m: &Machine) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(m.path("/etc/rc.d/rc3.d"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('S'))
        .collect();
    names.sort();
    names
}

#[test]
fn sysv_local_stage_starts_before_network_and_networkmanager() {
    let m = centos6();
    let before = m.snapshot();
    let out = m.run_ok(&["install"], 0);
    assert!(out.contains("init system: sysv"), "{out}");
    let script = m.read("/etc/rc.d/init.d/cloudboot-local");
    assert!(script.contains("# chkconfig: 2345 07 93\n"), "{script}");
    assert!(
        script.contains("/usr/bin/cloudboot init --local"),
        "{script}"
    );
    assert!(m
        .read("/etc/rc.d/init.d/cloudboot")
        .contains("# chkconfig: 2345 26 74\n"));
    assert_eq!(m.mode("/etc/rc.d/init.d/cloudboot-local"), 0o755);
    let order = rc3_order(&m);
    let pos = |n: &str| {
        order
            .iter()
            .position(|o| o.ends_with(n) && o[3..] == *n)
            .unwrap_or_else(|| panic!("{n} not in {order:?}"))
    };
    assert!(pos("cloudboot-local") < pos("network"), "{order:?}");
    assert!(pos("network") < pos("NetworkManager"), "{order:?}");
    assert!(pos("NetworkManager") < pos("cloudboot"), "{order:?}");
    assert!(pos("cloudboot") < pos("cloudboot-config"), "{order:?}");
    assert_eq!(order.last().unwrap(), "S99cloudboot-final");
    // cloud-init's scripts are off (`chkconfig off`: their S links are K links).
    assert!(
        !order.iter().any(|o| o.contains("cloud-init")
            || o.contains("cloud-config")
            || o.contains("cloud-final")),
        "{order:?}"
    );
    assert!(m.exists("/etc/rc.d/rc3.d/K92cloud-init-local"));
    // The compatibility name, and the old cloud-init kept.
    assert_eq!(
        std::fs::read_link(m.path("/usr/bin/cloud-init"))
            .unwrap()
            .to_str(),
        Some("cloudboot")
    );
    assert!(m
        .read("/usr/bin/cloud-init.cloudboot-saved")
        .contains("cloud-init 0.7.5"));
    // No cloud-init-per or cloud-id on this image: cloudboot answers to
    // the names.
    for helper in ["/usr/bin/cloud-init-per", "/usr/bin/cloud-id"] {
        assert_eq!(
            std::fs::read_link(m.path(helper)).unwrap().to_str(),
            Some("cloudboot"),
            "{helper}"
        );
    }
    assert_eq!(m.mode("/usr/bin/cloudboot"), 0o755);
    // The installed binary is this one, and answers as cloud-init would be asked.
    let v = std::process::Command::new(m.path("/usr/bin/cloud-init"))
        .arg("--version")
        .output()
        .unwrap();
    // cloud-init's "PROG VERSION", the version naming cloudboot.
    assert!(String::from_utf8_lossy(&v.stdout).contains("/usr/bin/cloud-init 22.4.2-cloudboot"));

    m.run_ok(&["install", "--uninstall"], 0);
    let after = m.snapshot();
    let changed: Vec<_> = before
        .iter()
        .filter(|(k, v)| after.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .chain(
            after
                .keys()
                .filter(|k| !before.contains_key(*k) && !k.starts_with("var"))
                .cloned(),
        )
        .collect();
    assert!(changed.is_empty(), "not restored: {changed:?}");
}

#[test]
fn systemd_units_are_ordered_as_cloud_inits_and_verify() {
    let m = Machine::new();
    executable(&m, "/lib/systemd/systemd", "");
    // The hotplug service's shell, as every image has it.
    executable(&m, "/bin/sh", "");
    std::fs::create_dir_all(m.path("/etc/systemd/system")).unwrap();
    for unit in [
        "cloud-init-local.service",
        "cloud-init.service",
        "cloud-config.service",
        "cloud-final.service",
        "cloud-init-hotplugd.socket",
    ] {
        m.write(&format!("/lib/systemd/system/{unit}"), "[Unit]\n");
    }
    let out = m.run_ok(&["install"], 0);
    assert!(out.contains("init system: systemd"), "{out}");
    let local = m.read("/etc/systemd/system/cloudboot-local.service");
    for fact in [
        "DefaultDependencies=no\n",
        "Before=network-pre.target\n",
        "Before=NetworkManager.service\n",
        "Before=sysinit.target\n",
        "ExecStart=/usr/bin/cloudboot init --local\n",
    ] {
        assert!(local.contains(fact), "{fact}\n{local}");
    }
    let net = m.read("/etc/systemd/system/cloudboot.service");
    for fact in [
        "After=cloudboot-local.service\n",
        "After=systemd-networkd-wait-online.service\n",
        "Before=network-online.target\n",
        "Before=sshd.service\n",
    ] {
        assert!(net.contains(fact), "{fact}\n{net}");
    }
    assert!(m
        .read("/etc/systemd/system/cloudboot-config.service")
        .contains("After=network-online.target"));
    assert!(m
        .read("/etc/systemd/system/cloudboot-final.service")
        .contains("After=multi-user.target\n"));
    assert!(m.exists("/etc/systemd/system/multi-user.target.wants/cloudboot-final.service"));
    // Network hotplug: the hook the udev rule runs, the socket on its FIFO
    // (enabled), the service that handles one event.
    assert_eq!(m.mode("/usr/lib/cloud-init/hook-hotplug"), 0o755);
    let socket = m.read("/etc/systemd/system/cloudboot-hotplugd.socket");
    assert!(
        socket.contains("ListenFIFO=/run/cloud-init/share/hook-hotplug-cmd\n"),
        "{socket}"
    );
    assert!(m.exists("/etc/systemd/system/sockets.target.wants/cloudboot-hotplugd.socket"));
    let service = m.read("/etc/systemd/system/cloudboot-hotplugd.service");
    assert!(
        service.contains("exec /usr/bin/cloudboot devel hotplug-hook $args"),
        "{service}"
    );
    // cloud-init's units are masked, its hotplug socket too (cloudboot's
    // listens on the same FIFO).
    for unit in [
        "cloud-init-local.service",
        "cloud-final.service",
        "cloud-init-hotplugd.socket",
    ] {
        assert_eq!(
            std::fs::read_link(m.path(&format!("/etc/systemd/system/{unit}")))
                .unwrap()
                .to_str(),
            Some("/dev/null")
        );
    }
    // systemd itself checks them, when it is here: against this machine's
    // unit files, copied into the root.
    if common::skip::require_for(
        "systemd-analyze verify",
        &[
            common::skip::Need::Program("systemd-analyze", "systemd"),
            common::skip::Need::File("/lib/systemd/system/sysinit.target", "systemd"),
        ],
    ) {
        let copy = std::process::Command::new("cp")
            .arg("-an")
            .arg("/lib/systemd/system/.")
            .arg(m.path("/lib/systemd/system"))
            .status()
            .unwrap();
        assert!(copy.success());
        let verify = std::process::Command::new("systemd-analyze")
            .arg("verify")
            .arg(format!("--root={}", m.root().display()))
            .args([
                "cloudboot-local.service",
                "cloudboot.service",
                "cloudboot-config.service",
                "cloudboot-final.service",
                "cloudboot-hotplugd.socket",
                "cloudboot-hotplugd.service",
            ])
            .env("SYSTEMD_LOG_LEVEL", "warning")
            .output()
            .unwrap();
        assert!(
            verify.status.success() && verify.stderr.is_empty(),
            "systemd-analyze verify: {}",
            String::from_utf8_lossy(&verify.stderr)
        );
    }
    m.run_ok(&["install", "--uninstall"], 0);
    assert!(!m.exists("/etc/systemd/system/cloudboot-local.service"));
    assert!(!m.exists("/etc/systemd/system/cloud-init-local.service"));
    assert!(!m.exists("/usr/bin/cloud-init"));
    assert!(!m.exists("/usr/bin/cloud-init-per"));
    assert!(!m.exists("/usr/bin/cloud-id"));
    assert!(!m.exists("/usr/lib/cloud-init/hook-hotplug"));
    assert!(!m.exists("/etc/systemd/system/cloudboot-hotplugd.socket"));
    assert!(!m.exists("/etc/systemd/system/sockets.target.wants/cloudboot-hotplugd.socket"));
}

/// What udev runs on a hotplug event, run for real: the installed hook,
/// with the events' variables, hands the event to the handler (a recorder
/// standing in for `/usr/bin/cloud-init` and `/usr/bin/cloudboot`) with
/// 22.4's arguments. Through the socket's FIFO when it listens (read by the
/// installed service's own command line), by itself otherwise; nothing
/// before the boot has finished. In a private mount namespace: `/run`
/// is a tmpfs there and the recorder is bound over `/usr/bin/cloud-init`
/// (the service's `/usr/bin/cloudboot` is pointed at the scratch root's
/// recorder), so nothing of the host's is run or written.
#[test]
fn the_hotplug_hook_hands_the_event_to_the_handler_as_22_4s_does() {
    use common::skip::{require, Need};
    if !require(&[
        Need::Root("to mount in a private mount namespace"),
        Need::Program("unshare", "util-linux"),
        Need::File("/usr/bin/cloud-init", "cloud-init"),
    ]) {
        return;
    }
    let m = Machine::new();
    executable(&m, "/lib/systemd/systemd", "");
    std::fs::create_dir_all(m.path("/etc/systemd/system")).unwrap();
    m.run_ok(&["install"], 0);
    let hook = m.path("/usr/lib/cloud-init/hook-hotplug");
    let service = m.read("/etc/systemd/system/cloudboot-hotplugd.service");
    let exec_start = service
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap()
        .to_string();
    let recorder = m.path("/recorder");
    std::fs::write(&recorder, "#!/bin/sh\necho \"$0 $*\" >> /run/handled\n").unwrap();
    std::fs::set_permissions(&recorder, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The same recorder under the name the service runs, so that what it
    // records says which program was called.
    let recorder_as_cloudboot = m.path("/usr/bin/cloudboot");
    std::fs::create_dir_all(recorder_as_cloudboot.parent().unwrap()).unwrap();
    std::fs::write(
        &recorder_as_cloudboot,
        "#!/bin/sh\necho \"/usr/bin/cloudboot $*\" >> /run/handled\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &recorder_as_cloudboot,
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let script = format!(
        r#"set -e
mount -t tmpfs none /run
mount --bind {rec} /usr/bin/cloud-init
export SUBSYSTEM=net DEVPATH=/devices/virtual/net/eth9 ACTION=add
# Before the boot has finished: nothing.
sh {hook}
sleep 0.3
[ ! -e /run/handled ] || {{ echo handled early; exit 1; }}
mkdir -p /run/cloud-init/share
touch /run/cloud-init/result.json
# No socket: the hook runs the handler itself.
sh {hook}
for i in 1 2 3 4 5 6 7 8 9 10; do [ -s /run/handled ] && break; sleep 0.2; done
echo "direct: $(cat /run/handled)"
rm /run/handled
# The socket's FIFO: the service's command reads one event from it.
mkfifo -m 0600 /run/cloud-init/share/hook-hotplug-cmd
exec 3<>/run/cloud-init/share/hook-hotplug-cmd
ACTION=remove sh {hook}
{exec_start}
for i in 1 2 3 4 5 6 7 8 9 10; do [ -s /run/handled ] && break; sleep 0.2; done
echo "socket: $(cat /run/handled)"
"#,
        rec = recorder.display(),
        hook = hook.display(),
        // The service's program is the recorder too (named so in what it
        // records): nothing is created in the host's /usr/bin.
        exec_start = exec_start.replace("/bin/sh -c '", "sh -c '").replace(
            "exec /usr/bin/cloudboot ",
            &format!("exec {} ", recorder_as_cloudboot.display())
        ),
    );
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            "direct: /usr/bin/cloud-init devel hotplug-hook --subsystem=net handle --devpath=/devices/virtual/net/eth9 --udevaction=add\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "socket: /usr/bin/cloudboot devel hotplug-hook --subsystem=net handle --devpath=/devices/virtual/net/eth9 --udevaction=remove\n"
        ),
        "{stdout}"
    );
}

#[test]
fn upstart_jobs_start_on_cloud_inits_events() {
    let m = Machine::new();
    executable(&m, "/sbin/initctl", "");
    m.write(
        "/etc/init/cloud-init-local.conf",
        "start on mounted MOUNTPOINT=/\n",
    );
    m.write("/etc/init/cloud-final.conf", "start on stopped rc\n");
    let out = m.run_ok(&["install"], 0);
    assert!(out.contains("init system: upstart"), "{out}");
    let local = m.read("/etc/init/cloudboot-local.conf");
    assert!(
        local.contains("start on mounted MOUNTPOINT=/ and mounted MOUNTPOINT=/run\n"),
        "{local}"
    );
    assert!(local.contains("task\n") && local.contains("exec /usr/bin/cloudboot init --local\n"));
    assert!(m
        .read("/etc/init/cloudboot.conf")
        .contains("static-network-up"));
    assert!(m
        .read("/etc/init/cloudboot-final.conf")
        .contains("stopped rc RUNLEVEL=[2345]"));
    assert_eq!(m.read("/etc/init/cloud-init-local.override"), "manual\n");
    assert_eq!(m.read("/etc/init/cloud-final.override"), "manual\n");
    assert!(!m.exists("/etc/init/cloud-config.override"));
}

#[test]
fn dry_run_changes_nothing() {
    let m = centos6();
    let before = m.snapshot();
    let out = m.run_ok(&["install", "--dry-run"], 0);
    assert!(
        out.contains("write /etc/rc.d/init.d/cloudboot-local (0755"),
        "{out}"
    );
    assert_eq!(m.snapshot(), before);
}

/// The LSB headers Debian's insserv orders by. `networking` runs in rcS
/// there, so the local stage must be an rcS script that starts before it;
/// each later stage requires the one before it, so that startpar never
/// runs two at once (tests/vm.rs boots this on a sysvinit guest).
#[test]
fn debian_sysv_scripts_put_the_local_stage_in_rcs_before_networking() {
    let m = Machine::new();
    m.write("/etc/debian_version", "12.8\n");
    std::fs::create_dir_all(m.path("/etc/init.d")).unwrap();
    m.run_ok(&["install", "--init", "sysv", "--files-only"], 0);
    let header = |name: &str, field: &str| -> String {
        let script = m.read(&format!("/etc/init.d/{name}"));
        script
            .lines()
            .find_map(|l| l.strip_prefix(&format!("# {field}:")))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("{name} has no {field}:\n{script}"))
    };
    assert_eq!(header("cloudboot-local", "Default-Start"), "S");
    assert_eq!(header("cloudboot-local", "X-Start-Before"), "networking");
    assert!(!m.read("/etc/init.d/cloudboot-local").contains("chkconfig"));
    for (stage, previous) in [
        ("cloudboot", "cloudboot-local"),
        ("cloudboot-config", "cloudboot"),
        ("cloudboot-final", "cloudboot-config"),
    ] {
        assert_eq!(header(stage, "Default-Start"), "2 3 4 5");
        let required = header(stage, "Required-Start");
        assert!(
            required.split_whitespace().any(|r| r == previous),
            "{stage} must require {previous}: {required}"
        );
    }
    assert!(header("cloudboot", "Required-Start").contains("$network"));
}
