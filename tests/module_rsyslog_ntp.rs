//! rsyslog and ntp in a whole first boot of a copy of the Debian 12 root
//! with cloud-init 22.4 installed (as `debian_root.rs` uses it), with
//! Debian's own cloud.cfg: the files cloudboot writes are compared with
//! what cloud-init 22.4's own functions make of the same config in the
//! same copy (`cc_rsyslog.remotes_to_rsyslog_cfg`, and `templater` on the
//! copy's chrony template, as `cc_ntp` renders it). Python runs inside the
//! copy (chroot); cloud-init's boot stages never run.
//!
//! The copy gets a stand-in `chronyd`, so chrony counts as installed and
//! nothing is installed (no package manager runs: no network). The service
//! reloads are actions on the running machine: with a root other than `/`
//! they are recorded, never performed.

mod common;
mod modules_common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::*;
use modules_common::debian_copy::{copy_root, prepare_as_recorded};

const USER_DATA: &str = "#cloud-config
rsyslog:
  remotes:
    central: '@@logs.example.com:10514'
    v6: 'kern.* @[fd00::1]'
  configs:
    - content: 'local0.* /var/log/local0.log'
      filename: 50-local0.conf
ntp:
  servers: [ntp1.example.com, 192.0.2.123]
  pools: [pool.example.com]
";

/// What 22.4's own code makes of the config above, printed as JSON: the
/// remotes' entry and the rendered chrony.conf.
const DRIVE: &str = r##"
import json
from cloudinit import templater
from cloudinit.config import cc_rsyslog
remotes = {"central": "@@logs.example.com:10514", "v6": "kern.* @[fd00::1]"}
print(json.dumps({
    "remotes": cc_rsyslog.remotes_to_rsyslog_cfg(remotes, header="# begin remotes", footer="# end remotes"),
    "chrony": templater.render_from_file("/etc/cloud/templates/chrony.conf.debian.tmpl",
        {"servers": ["ntp1.example.com", "192.0.2.123"], "pools": ["pool.example.com"]}),
}))
"##;

#[test]
fn rsyslog_remotes_and_ntp_servers_in_the_debian_root() {
    let Some(base) = common::skip::debian_root() else {
        return;
    };
    let m = Machine::new();
    copy_root(&base, m.root());
    prepare_as_recorded(m.root());
    m.write("/usr/sbin/chronyd", "#!/bin/sh\nexit 0\n");
    fs::set_permissions(
        m.path("/usr/sbin/chronyd"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    m.write("/etc/chrony/chrony.conf", "# the image's own chrony.conf\n");
    m.seed(
        "instance-id: iid-rsyslog-ntp\nlocal-hostname: timekeeper\n",
        USER_DATA,
    );
    // The plan lists every file and the reloads (actions on the running
    // machine: recorded, not performed, with a root other than /).
    let plan = m.plan(&[]);
    for want in [
        "/etc/rsyslog.d/20-cloud-config.conf",
        "/etc/rsyslog.d/50-local0.conf",
        "reload rsyslog (systemctl reload-or-try-restart rsyslog)",
        "/etc/chrony/chrony.conf.dist",
        "reload or start the NTP service (systemctl reload-or-restart chrony)",
    ] {
        assert!(plan.contains(want), "{want}\n{plan}");
    }
    m.boot();

    let out = Command::new("chroot")
        .arg(m.root())
        .args(["python3", "-c", DRIVE])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let want: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    // rsyslog (network stage): the entry in its own file, the remotes in
    // the default file.
    assert_eq!(
        m.read("/etc/rsyslog.d/50-local0.conf"),
        "local0.* /var/log/local0.log\n"
    );
    assert_eq!(
        m.read("/etc/rsyslog.d/20-cloud-config.conf"),
        want["remotes"].as_str().unwrap()
    );
    assert_eq!(
        m.read("/etc/rsyslog.d/20-cloud-config.conf"),
        "# begin remotes\n*.* @@logs.example.com:10514 # central\nkern.* @[fd00::1] # v6\n# end remotes\n"
    );
    assert_eq!(m.mode("/etc/rsyslog.d/20-cloud-config.conf"), 0o644);

    // ntp (config stage): chrony, already installed, configured where
    // Debian keeps it; the image's file kept as .dist.
    assert_eq!(
        m.read("/etc/chrony/chrony.conf"),
        want["chrony"].as_str().unwrap()
    );
    assert!(m
        .read("/etc/chrony/chrony.conf")
        .contains("# pools\npool pool.example.com iburst\n# servers\nserver ntp1.example.com iburst\nserver 192.0.2.123 iburst\n"));
    assert_eq!(
        m.read("/etc/chrony/chrony.conf.dist"),
        "# the image's own chrony.conf\n"
    );

    // Both ran once for the instance, as cloud-init's semaphores say: a
    // second boot leaves the files (and the image's .dist) alone.
    for sem in ["config_rsyslog", "config_ntp"] {
        assert!(
            m.exists(&format!(
                "/var/lib/cloud/instances/iid-rsyslog-ntp/sem/{sem}"
            )),
            "{sem}"
        );
    }
    m.write("/etc/rsyslog.d/20-cloud-config.conf", "edited by hand\n");
    m.reboot();
    fs::create_dir_all(m.path("/run/systemd/system")).unwrap();
    m.boot();
    assert_eq!(
        m.read("/etc/rsyslog.d/20-cloud-config.conf"),
        "edited by hand\n"
    );
    assert_eq!(
        m.read("/etc/chrony/chrony.conf.dist"),
        "# the image's own chrony.conf\n"
    );
}
