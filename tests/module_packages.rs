//! apt_configure and package_update_upgrade_install as a whole boot: in a
//! copy of the Debian 12 root (as `debian_root.rs` uses it), a package is
//! installed for real by apt-get from a local repository the test builds
//! (`dpkg-deb --build`, `dpkg-scanpackages`) and puts in the copy at
//! `/srv/repo`, named by user-data's `apt.sources` as a `file:` source.
//! ntp, in the config stage, installs its missing client (a stand-in
//! `chrony` package in the same repository) the same way.
//!
//! Nothing may reach the network: the copy's own sources (deb.debian.org)
//! are removed, and cloudboot boots in a network namespace of its own
//! (`unshare --net`: no interface but a loopback that is down), so the
//! only source apt-get can read is the file one.

mod common;
mod modules_common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::skip::{self, Need};
use common::BIN;
use modules_common::debian_copy::DebianCopy;

const META: &str = "instance-id: iid-packages-0001\nlocal-hostname: packages\n";

const USER_DATA: &str = r#"#cloud-config
apt:
  preserve_sources_list: true
  proxy: http://127.0.0.1:9/
  conf: |
    APT::Install-Recommends "false";
  sources:
    local:
      source: "deb [trusted=yes] file:/srv/repo ./"
    # A key only: gpg makes it a keyring where the root has gpg (Debian's
    # minimal root has not: 22.4 logs that and goes on, and so must we).
    keyonly:
      key: |
        -----BEGIN PGP PUBLIC KEY BLOCK-----
        not a key
        -----END PGP PUBLIC KEY BLOCK-----
packages:
  - cloudboot-test-hello
  - [cloudboot-test-versioned, "1.2-1"]
ntp:
  servers: [ntp.example.com]
"#;

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {out:?}");
}

/// A binary package `name` at `version` with one file,
/// `/usr/share/<name>/hello`, built into `dir`.
fn build_deb(dir: &Path, name: &str, version: &str) {
    let tree = dir.join(format!("{name}-tree"));
    fs::create_dir_all(tree.join("DEBIAN")).unwrap();
    fs::create_dir_all(tree.join(format!("usr/share/{name}"))).unwrap();
    fs::write(
        tree.join("DEBIAN/control"),
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: all\n\
             Maintainer: cloudboot tests <tests@localhost>\n\
             Description: a package the cloudboot tests install\n"
        ),
    )
    .unwrap();
    fs::write(
        tree.join(format!("usr/share/{name}/hello")),
        format!("hello from {name}\n"),
    )
    .unwrap();
    run(Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&tree)
        .arg(dir.join(format!("{name}_{version}_all.deb"))));
    fs::remove_dir_all(&tree).unwrap();
}

/// The copy, with the repository in it and no source but that one.
fn prepare(base: &Path) -> DebianCopy {
    // Each stage in a network namespace of its own: apt-get can reach
    // nothing but the file: repository.
    let copy = DebianCopy::as_recorded(base).without_network();
    copy.seed(META, USER_DATA);
    // The image's own sources name the network: gone.
    let _ = fs::remove_file(copy.path("/etc/apt/sources.list"));
    if let Ok(entries) = fs::read_dir(copy.path("/etc/apt/sources.list.d")) {
        for e in entries.flatten() {
            fs::remove_file(e.path()).unwrap();
        }
    }
    let repo = copy.path("/srv/repo");
    fs::create_dir_all(&repo).unwrap();
    build_deb(&repo, "cloudboot-test-hello", "1.0-1");
    build_deb(&repo, "cloudboot-test-versioned", "1.2-1");
    // ntp's client on Debian (a stand-in: the module only needs apt-get
    // to install it).
    build_deb(&repo, "chrony", "4.3-2");
    let out = Command::new("dpkg-scanpackages")
        .args([".", "/dev/null"])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    fs::write(repo.join("Packages"), &out.stdout).unwrap();
    copy
}

/// The instance's semaphore directory in the copy.
fn sem_dir(copy: &DebianCopy) -> PathBuf {
    copy.path("/var/lib/cloud/instances/iid-packages-0001/sem")
}

#[test]
fn a_package_is_installed_from_a_local_apt_repository_in_the_debian_root() {
    let Some(base) = skip::debian_root() else {
        return;
    };
    if !skip::require(&[
        Need::Program("dpkg-deb", "dpkg"),
        Need::Program("dpkg-scanpackages", "dpkg-dev"),
        Need::Program("unshare", "util-linux"),
    ]) {
        return;
    }
    let copy = prepare(&base);
    let (log, _) = copy.boot();

    // Installed, by dpkg's own account, with their files.
    for (pkg, version) in [
        ("cloudboot-test-hello", "1.0-1"),
        ("cloudboot-test-versioned", "1.2-1"),
    ] {
        let out = Command::new("chroot")
            .arg(copy.root())
            .args(["dpkg-query", "-W", "-f=${Status} ${Version}", pkg])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("install ok installed {version}"),
            "{pkg}\n{log}"
        );
        assert_eq!(
            copy.read(&format!("/usr/share/{pkg}/hello")),
            format!("hello from {pkg}\n")
        );
    }

    // ntp installed its client (chrony: the Debian root has none) after
    // writing its config where Debian keeps it.
    let out = Command::new("chroot")
        .arg(copy.root())
        .args(["dpkg-query", "-W", "-f=${Status}", "chrony"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "install ok installed",
        "{log}"
    );
    assert!(copy
        .read("/etc/chrony/chrony.conf")
        .contains("# servers\nserver ntp.example.com iburst\n"));
    assert!(sem_dir(&copy).join("config_ntp").is_file(), "{log}");

    // What apt_configure wrote.
    assert_eq!(
        copy.read("/etc/apt/sources.list.d/local.list"),
        "deb [trusted=yes] file:/srv/repo ./\n",
        "{log}"
    );
    assert_eq!(
        copy.read("/etc/apt/apt.conf.d/90cloud-init-aptproxy"),
        "Acquire::http::Proxy \"http://127.0.0.1:9/\";\n"
    );
    assert_eq!(
        copy.read("/etc/apt/apt.conf.d/94cloud-init-config"),
        "APT::Install-Recommends \"false\";\n"
    );
    assert!(
        !copy.path("/etc/apt/sources.list").exists(),
        "preserved (absent)"
    );

    // The semaphores: both modules, and the sources updated once.
    let sem = sem_dir(&copy);
    for s in [
        "config_apt_configure",
        "config_package_update_upgrade_install",
        "update_sources",
    ] {
        assert!(sem.join(s).is_file(), "{s}\n{log}");
    }
    assert!(!log.contains("Traceback"), "{log}");
    let status = Command::new(BIN)
        .arg("--root")
        .arg(copy.root())
        .args(["status", "--long", "--modules"])
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    // As the image's cloud.cfg spells them.
    for m in ["apt-configure", "package-update-upgrade-install"] {
        assert!(status.contains(&format!("{m}: ran")), "{status}\n{log}");
    }
}
