//! The packages scripts/package.sh builds (.ci/run builds them before the
//! tests): their file lists, and the .deb installed into a copy of the
//! recorder's Debian 12 root (replacing its cloud-init), where a NoCloud
//! boot through the installed `/usr/bin/cloud-init` (cloudboot, run inside
//! the root in private namespaces) must leave the same files as the same
//! boot run from the build tree with `--root`; and the .rpm installed and
//! erased in such a root with `rpm --root`, its scriptlets run inside it.

mod common;
mod modules_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::skip::{self, Need};

/// rpm itself, to read and install the .rpm (rpm2cpio comes with it).
const RPM: &[Need] = &[Need::Program("rpm", "rpm"), Need::Program("cpio", "cpio")];

fn lines(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_deb_holds_the_binary_the_services_stages_yaml_and_the_cloud_init_name() {
    let Some(deb) = skip::package("deb") else {
        return;
    };
    let list = lines(Command::new("dpkg-deb").arg("-c").arg(&deb));
    for want in [
        "-rwxr-xr-x 0/0",
        "./usr/bin/cloudboot",
        "./usr/bin/cloud-init -> cloudboot",
        "./usr/bin/cloud-init-per -> cloudboot",
        "./usr/lib/cloud-init/write-ssh-key-fingerprints -> ../../bin/cloudboot",
        "./etc/cloudboot/stages.yaml",
        "./lib/systemd/system/cloudboot-local.service",
        "./lib/systemd/system/cloudboot-final.service",
        "./lib/systemd/system/cloudboot-hotplugd.socket",
        "./lib/systemd/system/cloudboot-hotplugd.service",
        "./usr/lib/cloud-init/hook-hotplug",
        "./etc/init.d/cloudboot-local",
    ] {
        assert!(list.contains(want), "{want} not in\n{list}");
    }
    let info = lines(Command::new("dpkg-deb").arg("-I").arg(&deb));
    for want in [
        "Conflicts: cloud-init",
        "Replaces: cloud-init",
        "Provides: cloud-init",
        "postinst",
        "conffiles",
    ] {
        assert!(info.contains(want), "{want} not in\n{info}");
    }
}

#[test]
fn the_rpm_holds_the_static_binary_both_service_kinds_and_stages_yaml() {
    let Some(rpm) = skip::package("rpm") else {
        return;
    };
    if !skip::require(RPM) {
        return;
    }
    let list = lines(Command::new("rpm").arg("-qlp").arg(&rpm));
    for want in [
        "/usr/bin/cloudboot",
        "/etc/cloudboot/stages.yaml",
        "/etc/rc.d/init.d/cloudboot-local",
        "/usr/lib/systemd/system/cloudboot-local.service",
        "/usr/lib/systemd/system/cloudboot-hotplugd.socket",
        "/usr/lib/cloud-init/hook-hotplug",
    ] {
        assert!(list.lines().any(|l| l == want), "{want} not in\n{list}");
    }
    let scripts = lines(Command::new("rpm").args(["-qp", "--scripts"]).arg(&rpm));
    assert!(
        scripts.contains("ln -sf cloudboot /usr/bin/cloud-init\n"),
        "{scripts}"
    );
    assert!(
        scripts.contains("ln -s cloudboot /usr/bin/cloud-init-per"),
        "{scripts}"
    );
    assert!(scripts.contains("chkconfig --add"), "{scripts}");
    let conflicts = lines(Command::new("rpm").args(["-qp", "--conflicts"]).arg(&rpm));
    assert_eq!(conflicts.trim(), "cloud-init");
    // The init script's chkconfig line: local stage before network (10).
    let script = lines(Command::new("sh").arg("-c").arg(format!(
        "rpm2cpio {} | cpio -i --to-stdout ./etc/rc.d/init.d/cloudboot-local 2>/dev/null",
        rpm.display()
    )));
    assert!(script.contains("# chkconfig: 2345 07 93"), "{script}");
}

fn copy_root(base: &Path, to: &Path) {
    assert!(Command::new("cp")
        .args(["-a", "--reflink=auto"])
        .arg(base)
        .arg(to)
        .status()
        .unwrap()
        .success());
}

/// Puts a case's seed into a root as the recorder does.
fn seed(root: &Path, case: &str) {
    let dir = modules_common::case_dir(case);
    let s = root.join("var/lib/cloud/seed/nocloud");
    std::fs::create_dir_all(&s).unwrap();
    for f in ["meta-data", "user-data"] {
        std::fs::copy(dir.join(f), s.join(f)).unwrap();
    }
    std::fs::write(
        root.join("etc/cloud/cloud.cfg.d/90-recorder.cfg"),
        modules_common::RECORDER_CFG,
    )
    .unwrap();
}

#[test]
fn the_deb_installed_in_debian_boots_as_the_build_tree_does() {
    let Some(deb) = skip::package("deb") else {
        return;
    };
    let Some(base) = skip::debian_root() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let installed = work.path().join("installed");
    copy_root(&base, &installed);
    std::fs::copy(&deb, installed.join("tmp/cloudboot.deb")).unwrap();
    // Replace cloud-init by the package, as an operator would.
    let dpkg = Command::new("chroot")
        .arg(&installed)
        .args([
            "sh",
            "-c",
            "dpkg -r cloud-init >/dev/null && dpkg -i /tmp/cloudboot.deb",
        ])
        .output()
        .unwrap();
    assert!(
        dpkg.status.success(),
        "{}",
        String::from_utf8_lossy(&dpkg.stderr)
    );
    assert_eq!(
        std::fs::read_link(installed.join("usr/bin/cloud-init"))
            .unwrap()
            .to_str(),
        Some("cloudboot")
    );
    // cloud-init's helper went with its package; the installed binary
    // answers to the name: `once` runs the command the first time only.
    for _ in 0..2 {
        let per = Command::new("chroot")
            .arg(&installed)
            .args(["/usr/bin/cloud-init-per", "once", "pkg-test", "sh", "-c"])
            .arg("echo ran >> /var/tmp/per.log")
            .status()
            .unwrap();
        assert!(per.success());
    }
    assert_eq!(
        std::fs::read_to_string(installed.join("var/tmp/per.log")).unwrap(),
        "ran\n"
    );
    assert!(
        std::fs::read_to_string(installed.join("var/lib/cloud/sem/bootper.pkg_test.once"))
            .unwrap()
            .starts_with("0\t")
    );
    for s in [
        "cloudboot-local",
        "cloudboot",
        "cloudboot-config",
        "cloudboot-final",
    ] {
        let wants = installed.join(format!(
            "etc/systemd/system/multi-user.target.wants/{s}.service"
        ));
        assert_eq!(
            std::fs::read_link(&wants).unwrap(),
            PathBuf::from(format!("/lib/systemd/system/{s}.service"))
        );
    }
    // cloud-init's config stays (a removed package keeps its conffiles).
    assert!(installed.join("etc/cloud/cloud.cfg").exists());
    same_fingerprints_as_cloud_inits_helper(&base, &installed);

    let tree = work.path().join("tree");
    copy_root(&base, &tree);
    let case = "hostname";
    seed(&installed, case);
    seed(&tree, case);
    // The installed binary, inside the root, in private namespaces (its host
    // actions then act on those, never on this machine).
    let boot = Command::new("unshare")
        .args(["--uts", "--mount", "--pid", "--net", "--ipc", "--fork", "--", "sh", "-c"])
        .arg(
            "mount -t proc proc \"$0/proc\" && for a in 'init --local' init 'modules --mode=config' 'modules --mode=final'; do \
             chroot \"$0\" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /usr/bin/cloud-init $a >/dev/null 2>&1; done; umount \"$0/proc\"",
        )
        .arg(&installed)
        .status()
        .unwrap();
    assert!(boot.success());
    for args in [
        &["init", "--local"][..],
        &["init"],
        &["modules", "--mode=config"],
        &["modules", "--mode=final"],
    ] {
        Command::new(common::BIN)
            .arg("--root")
            .arg(&tree)
            .args(args)
            .output()
            .unwrap();
    }
    for f in [
        "etc/hostname",
        "etc/hosts",
        "etc/passwd",
        "etc/group",
        "etc/sudoers.d/90-cloud-init-users",
        "var/lib/cloud/data/instance-id",
        "var/lib/cloud/data/set-hostname",
        "var/lib/cloud/instances/iid-hostname-0001/cloud-config.txt",
        "var/lib/cloud/instances/iid-hostname-0001/user-data.txt",
    ] {
        let a = std::fs::read(installed.join(f));
        let b = std::fs::read(tree.join(f));
        assert_eq!(a.is_ok(), b.is_ok(), "{f}: present in one boot only");
        // The sudoers header carries the time of writing, which differs by
        // the seconds between the two boots.
        let undated = |bytes: Vec<u8>| {
            String::from_utf8_lossy(&bytes)
                .lines()
                .map(|l| match l.find(" on ") {
                    Some(at) if l.starts_with("# Created by cloud-init") => &l[..at],
                    _ => l,
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        let (a, b) = (
            undated(a.unwrap_or_default()),
            undated(b.unwrap_or_default()),
        );
        assert!(
            a == b,
            "{f} differs between the installed and the build-tree boot:\n--- installed\n{a}\n--- build tree\n{b}"
        );
    }
}

/// The .rpm's scriptlets and static binary, in the only root at hand (the
/// Debian one: rpm installs there with `--root`, running %post and %preun
/// inside it, as on EL): after cloud-init is removed (the packages
/// conflict), %post links `cloud-init` and `cloud-init-per` and, where
/// systemctl is (EL7+), enables the four units; the static binary runs
/// there under both names; erasing the package takes the links away.
#[test]
fn the_rpm_scriptlets_link_and_enable_and_erase_cleanly() {
    let Some(rpm) = skip::package("rpm") else {
        return;
    };
    if !skip::require(RPM) {
        return;
    }
    let Some(base) = skip::debian_root() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    copy_root(&base, &root);
    let chroot_sh = |script: &str| {
        let out = Command::new("chroot")
            .arg(&root)
            .args(["sh", "-c", script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // EL's `rpm -e cloud-init`, and a systemctl as EL7 has it (this
    // debootstrap'd root has no systemd).
    chroot_sh("dpkg -r cloud-init >/dev/null && test ! -e /usr/bin/cloud-init-per");
    std::fs::write(root.join("usr/bin/systemctl"), "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(
        root.join("usr/bin/systemctl"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    // --nodeps: this root's rpm database is empty (no /bin/sh package).
    let rpm_root = |args: &[&str]| {
        let out = Command::new("rpm")
            .arg("--root")
            .arg(&root)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "rpm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    rpm_root(&["-i", "--nodeps", rpm.to_str().unwrap()]);
    let helper = "usr/libexec/cloud-init/write-ssh-key-fingerprints";
    assert_eq!(
        std::fs::read_link(root.join(helper)).unwrap().to_str(),
        Some("/usr/bin/cloudboot")
    );
    for link in ["usr/bin/cloud-init", "usr/bin/cloud-init-per"] {
        assert_eq!(
            std::fs::read_link(root.join(link)).unwrap().to_str(),
            Some("cloudboot"),
            "{link}"
        );
    }
    for s in [
        "cloudboot-local",
        "cloudboot",
        "cloudboot-config",
        "cloudboot-final",
    ] {
        assert_eq!(
            std::fs::read_link(root.join(format!(
                "etc/systemd/system/multi-user.target.wants/{s}.service"
            )))
            .unwrap(),
            PathBuf::from(format!("/usr/lib/systemd/system/{s}.service"))
        );
        assert!(root
            .join(format!("usr/lib/systemd/system/{s}.service"))
            .is_file());
    }
    assert!(chroot_sh("/usr/bin/cloud-init --version")
        .starts_with("/usr/bin/cloud-init 22.4.2-cloudboot"));
    chroot_sh("/usr/bin/cloud-init-per once rpm-test true");
    assert!(
        std::fs::read_to_string(root.join("var/lib/cloud/sem/bootper.rpm_test.once"))
            .unwrap()
            .starts_with("0\t")
    );
    rpm_root(&["-e", "--nodeps", "cloudboot"]);
    for gone in [
        "usr/bin/cloudboot",
        "usr/bin/cloud-init",
        "usr/bin/cloud-init-per",
        "usr/libexec/cloud-init",
        "etc/systemd/system/multi-user.target.wants/cloudboot-local.service",
    ] {
        assert!(
            root.join(gone).symlink_metadata().is_err(),
            "{gone} is left"
        );
    }
}

/// keys_to_console's helper, where cloudboot's .deb replaced cloud-init's
/// package (which took 22.4's script with it): the link the .deb puts in its
/// place prints what 22.4's own script (from the Debian root as built) prints
/// in the same root, with the same host keys and a syslog socket listening.
fn same_fingerprints_as_cloud_inits_helper(base: &Path, installed: &Path) {
    let ours = "/usr/lib/cloud-init/write-ssh-key-fingerprints";
    assert_eq!(
        std::fs::read_link(installed.join(&ours[1..]))
            .unwrap()
            .to_str(),
        Some("../../bin/cloudboot")
    );
    std::fs::copy(
        base.join(&ours[1..]),
        installed.join("tmp/write-ssh-key-fingerprints-22.4"),
    )
    .unwrap();
    let keygen = Command::new("chroot")
        .arg(installed)
        .args(["ssh-keygen", "-A"])
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{keygen:?}");
    // logger's socket: its lines come back on stdout with syslog's prefix.
    let socket = installed.join("dev/log");
    let _ = std::fs::remove_file(&socket);
    let syslog = std::os::unix::net::UnixDatagram::bind(&socket).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while syslog.recv(&mut buf).is_ok() {}
    });
    // The time in syslog's prefix differs from run to run.
    let stamp = |text: String| -> String {
        text.lines()
            .map(|l| match l.strip_prefix("<14>") {
                Some(rest) if rest.len() > 16 => format!("<14>TIME{}", &rest[15..]),
                _ => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    for args in [
        ["", "ssh-dss"],
        ["ssh-rsa,ssh-ed25519", "ecdsa-sha2-nistp256"],
    ] {
        let run = |helper: &str| {
            let out = Command::new("chroot")
                .arg(installed)
                .arg(helper)
                .args(args)
                .output()
                .unwrap();
            assert!(out.status.success(), "{helper}: {out:?}");
            stamp(String::from_utf8_lossy(&out.stdout).into_owned())
        };
        let (theirs, mine) = (run("/tmp/write-ssh-key-fingerprints-22.4"), run(ours));
        assert_eq!(mine, theirs, "{args:?}");
        assert!(
            mine.contains("cloud-init: -----BEGIN SSH HOST KEY FINGERPRINTS-----")
                && mine.contains("SHA256:")
                && mine.contains("-----BEGIN SSH HOST KEY KEYS-----"),
            "{mine}"
        );
    }
}
