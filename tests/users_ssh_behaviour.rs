//! users_groups and ssh beyond the recorded cases: what cloud-init 22.4's
//! code does (distros/__init__.py, cc_users_groups.py, cc_ssh.py,
//! ssh_util.py) for the keys and situations the recordings do not cover.
//! Each scenario starts from the recorder's Debian files (the `ssh` case's
//! scratch root) with its own seed.

mod common;
mod modules_common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::Machine;
use modules_common::*;

const META: &str = "instance-id: iid-behaviour-1\nlocal-hostname: behave\n";

fn machine(user_data: &str) -> Machine {
    let m = machine_for("ssh");
    m.seed(META, user_data);
    m
}

/// The effects users_groups and ssh plan, as `plan --format json` lists them.
fn effects(m: &Machine) -> Vec<serde_json::Value> {
    let out = m.plan(&["--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut all = Vec::new();
    for stage in plan["stages"].as_array().unwrap() {
        for module in stage["modules"].as_array().into_iter().flatten() {
            let name = module["name"].as_str().unwrap_or_default();
            if matches!(name, "users-groups" | "ssh") {
                all.extend(module["effects"].as_array().cloned().unwrap_or_default());
            }
        }
    }
    all
}

/// The plan's module report (result, errors, notes) of `name`.
fn module(m: &Machine, name: &str) -> serde_json::Value {
    let out = m.plan(&["--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    for stage in plan["stages"].as_array().unwrap() {
        for module in stage["modules"].as_array().into_iter().flatten() {
            if module["name"] == name {
                return module.clone();
            }
        }
    }
    panic!("no module {name} in the plan")
}

/// The commands of users_groups (`users`) or ssh (`ssh`).
fn commands_of(m: &Machine, which: &str) -> Vec<String> {
    let name = if which == "users" {
        "users-groups"
    } else {
        which
    };
    module(m, name)["effects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "run")
        .map(|e| {
            e["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| shlex_quote(a.as_str().unwrap()))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn commands(m: &Machine) -> Vec<String> {
    effects(m)
        .iter()
        .filter(|e| e["action"] == "run")
        .map(|e| {
            e["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| shlex_quote(a.as_str().unwrap()))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// The last planned write of `path`: content, mode, owner. A plan does not
/// print a file others may not read (authorized_keys is 0600): its content
/// is what a live run of the same stages writes, in a copy of the root.
fn write_of(m: &Machine, path: &str) -> Option<(String, String, Option<String>)> {
    effects(m)
        .iter()
        .rev()
        .find(|e| e["path"] == path && matches!(e["action"].as_str(), Some("write" | "append")))
        .map(|e| {
            let mut content = e["content"].as_str().unwrap_or_default().to_string();
            if content == "<redacted>" {
                content = written_by_a_live_run(m, path);
            }
            (
                content,
                e["mode"].as_str().unwrap_or_default().to_string(),
                e["owner"].as_str().map(str::to_string),
            )
        })
}

/// `path` after `init --local` and `init` in a copy of `m`'s root.
fn written_by_a_live_run(m: &Machine, path: &str) -> String {
    let copy = Machine::new();
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", m.root().display()))
        .arg(copy.root())
        .status()
        .unwrap();
    assert!(status.success());
    copy.run_ok(&["init", "--local"], 0);
    copy.run(&["init"]);
    copy.read(path)
}

fn boot_init(m: &Machine) {
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
}

fn executable(m: &Machine, guest: &str) {
    m.write(guest, "#!/bin/sh\nexit 0\n");
    fs::set_permissions(m.path(guest), fs::Permissions::from_mode(0o755)).unwrap();
}

const KEY_A: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJUnng0wlJnpPgw04wmLYneZ/YRyqGix+JbVNfFb6WAi a@test";
const KEY_B: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM5pdUP461pjn8iY0roCrrRYVEbryqmx12t0wyEI6rGN b@test";

#[test]
fn selinux_relabels_what_is_written_only_where_it_is_on() {
    let ud =
        format!("#cloud-config\nssh_authorized_keys: ['{KEY_A}']\nssh_genkeytypes: [ed25519]\n");
    let m = machine(&ud);
    let plain = commands(&m);
    assert!(
        !plain.iter().any(|c| c.starts_with("restorecon")),
        "{plain:?}"
    );
    // selinuxfs mounted in the root, and restorecon there.
    m.write("/sys/fs/selinux/enforce", "1");
    executable(&m, "/usr/sbin/restorecon");
    let cmds = commands(&m);
    for want in [
        "restorecon /etc/sudoers.d/90-cloud-init-users",
        "restorecon /home/debian/.ssh",
        "restorecon /home/debian/.ssh/authorized_keys",
        "restorecon -R /home/debian/.ssh",
        "restorecon -R /etc/ssh",
        "restorecon /root/.ssh",
        "restorecon -R /root/.ssh",
    ] {
        assert!(cmds.iter().any(|c| c == want), "{want} in {cmds:#?}");
    }
    // The relabel comes after the write.
    let pos = |w: &str| cmds.iter().position(|c| c == w).unwrap();
    assert!(
        pos("ssh-keygen -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key")
            < pos("restorecon -R /etc/ssh")
    );
}

#[test]
fn sudoers_gets_the_includedir_cloud_init_adds() {
    let ud = "#cloud-config\nusers: [{name: ann, sudo: 'ALL=(ALL) ALL', lock_passwd: false}]\n";
    // No include line: appended, the file keeps its mode.
    let m = machine(ud);
    m.write("/etc/sudoers", "root ALL=(ALL) ALL\n");
    fs::set_permissions(m.path("/etc/sudoers"), fs::Permissions::from_mode(0o440)).unwrap();
    boot_init(&m);
    let text = m.read("/etc/sudoers");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "root ALL=(ALL) ALL");
    assert_eq!(lines[1], "");
    assert!(lines[2].starts_with("# Added by cloud-init v. "), "{text}");
    assert_eq!(lines[3], "#includedir /etc/sudoers.d");
    assert_eq!(lines.len(), 4);
    assert!(text.ends_with("#includedir /etc/sudoers.d\n"));
    assert_eq!(m.mode("/etc/sudoers"), 0o440);
    assert_eq!(m.mode("/etc/sudoers.d"), 0o750);
    let rules = m.read("/etc/sudoers.d/90-cloud-init-users");
    assert!(
        rules.ends_with("\n\n# User rules for ann\nann ALL=(ALL) ALL\n"),
        "{rules}"
    );
    assert_eq!(m.mode("/etc/sudoers.d/90-cloud-init-users"), 0o440);

    // `@includedir` with a trailing slash counts: nothing is added.
    let m = machine(ud);
    m.write("/etc/sudoers", "@includedir   /etc/sudoers.d/\n");
    boot_init(&m);
    assert_eq!(m.read("/etc/sudoers"), "@includedir   /etc/sudoers.d/\n");

    // No /etc/sudoers at all: cloud-init writes one.
    let m = machine(ud);
    fs::remove_file(m.path("/etc/sudoers")).unwrap();
    boot_init(&m);
    let text = m.read("/etc/sudoers");
    assert!(text.starts_with(
        "# See sudoers(5) for more information on \"#include\" directives:\n\n# Added by cloud-init v. "
    ));
    assert!(text.ends_with("\n#includedir /etc/sudoers.d\n"));
    assert_eq!(m.mode("/etc/sudoers"), 0o440);
}

#[test]
fn an_existing_user_is_not_added_again_but_gets_the_rest() {
    let ud = format!(
        "#cloud-config\nusers:\n - name: ann\n   groups: [wheel]\n   sudo: 'ALL=(ALL) ALL'\n   ssh_authorized_keys: ['{KEY_A}']\n   plain_text_passwd: s3cret-pw\n"
    );
    let m = machine(&ud);
    let passwd = m.read("/etc/passwd");
    m.write(
        "/etc/passwd",
        &format!("{passwd}ann:x:1500:100::/home/ann:/bin/sh\n"),
    );
    let cmds = commands_of(&m, "users");
    assert_eq!(
        cmds,
        ["chpasswd", "passwd -l ann"],
        "no useradd, no groupadd wheel"
    );
    let (content, mode, owner) = write_of(&m, "/home/ann/.ssh/authorized_keys").unwrap();
    assert_eq!(
        (content.as_str(), mode.as_str()),
        (format!("{KEY_A}\n").as_str(), "0600")
    );
    // The existing user's owner is known now: uid 1500, primary group users.
    assert_eq!(owner.as_deref(), Some("ann:users"));
    assert!(!m.plan(&[]).contains("s3cret-pw"));
    boot_init(&m);
    if common::skip::require_for(
        "the owners on disk",
        &[common::skip::Need::Root("to give files to other users")],
    ) {
        use std::os::unix::fs::MetadataExt;
        let md = fs::metadata(m.path("/home/ann/.ssh/authorized_keys")).unwrap();
        assert_eq!((md.uid(), md.gid()), (1500, 100));
        let md = fs::metadata(m.path("/home/ann/.ssh")).unwrap();
        assert_eq!((md.uid(), md.gid(), md.mode() & 0o7777), (1500, 100, 0o700));
    }
}

#[test]
fn ssh_redirect_user_puts_the_cloud_keys_behind_a_login_message() {
    let meta = format!("{META}public-keys: ['{KEY_B}']\n");
    let ud = "#cloud-config\nusers: [default, {name: legacy, ssh_redirect_user: true}]\n";
    let m = machine(ud);
    m.seed(&meta, ud);
    let (content, _, owner) = write_of(&m, "/home/legacy/.ssh/authorized_keys").unwrap();
    assert_eq!(
        content,
        format!(
            "no-port-forwarding,no-agent-forwarding,no-X11-forwarding,command=\"echo 'Please login as the user \\\"debian\\\" rather than the user \\\"legacy\\\".';echo;sleep 10;exit 142\" {KEY_B}\n"
        )
    );
    assert_eq!(owner.as_deref(), Some("legacy:legacy"));
    // Without a default user: a warning, no keys.
    let ud = "#cloud-config\nusers: [{name: legacy, ssh_redirect_user: true}]\n";
    let m = machine(ud);
    m.seed(&meta, ud);
    assert!(write_of(&m, "/home/legacy/.ssh/authorized_keys").is_none());
    let notes = module(&m, "users-groups")["notes"].to_string();
    assert!(
        notes.contains("Ignoring ssh_redirect_user: True for legacy. No default_user defined."),
        "{notes}"
    );
    // With keys of its own: the user is not made, the module fails.
    let ud = format!("#cloud-config\nusers: [default, {{name: legacy, ssh_redirect_user: true, ssh_authorized_keys: ['{KEY_A}']}}]\n");
    let m = machine(&ud);
    let report = module(&m, "users-groups");
    assert_eq!(report["result"], "failed");
    assert!(report["errors"].to_string().contains(
        "Not creating user legacy. ssh_redirect_user cannot be provided with ssh_import_id or ssh_authorized_keys"
    ));
}

#[test]
fn users_groups_options_and_refusals() {
    // Every useradd option in sorted key order, flags, snap users, usermod
    // for existing members, deprecated forms.
    let ud = "#cloud-config
groups: {wheel: [root, ghost]}
users:
  - name: full
    uid: 3001
    expiredate: '2030-01-01'
    inactive: '7'
    selinux_user: staff_u
    no_log_init: true
    no_user_group: true
    primary_group: users
    groups: 'adm, wheel'
    lock_passwd: false
    create_groups: false
  - name: snappy
    snapuser: joe@example.com
    known: true
  - {name: sudoless, sudo: false, lock_passwd: false}
";
    let m = machine(ud);
    assert_eq!(
        commands_of(&m, "users"),
        [
            "groupadd wheel",
            "usermod -a -G wheel root",
            "useradd full --expiredate 2030-01-01 --groups adm,wheel --inactive 7 --no-log-init --no-user-group --gid users --selinux-user staff_u --uid 3001 -m",
            "snap create-user --sudoer --json --known joe@example.com",
            "useradd sudoless -m",
        ]
    );
    let notes = module(&m, "users-groups")["notes"].to_string();
    assert!(
        notes.contains("Unable to add group member 'ghost' to group 'wheel'; user does not exist.")
    );
    assert!(notes.contains("DEPRECATED: The user sudoless has a 'sudo' config value of 'false'"));

    // Keys with no home: refused, and the users after it are not made.
    let ud = format!("#cloud-config\nusers:\n - {{name: svc, system: true, ssh_authorized_keys: ['{KEY_A}']}}\n - name: after\n");
    let m = machine(&ud);
    let report = module(&m, "users-groups");
    assert_eq!(report["result"], "failed");
    assert!(report["errors"].to_string().contains(
        "Not creating user svc. Key(s) ssh_authorized_keys cannot be provided with system"
    ));
    assert!(commands_of(&m, "users")
        .iter()
        .all(|c| !c.contains("after")));

    // passwd -l where the root has passwd, usermod --lock where it has only
    // usermod, and a failure where it has neither but runs programs.
    let ud = "#cloud-config\nusers: [{name: locked}]\n";
    let m = machine(ud);
    executable(&m, "/bin/sh");
    executable(&m, "/usr/sbin/usermod");
    assert_eq!(
        commands_of(&m, "users"),
        ["useradd locked -m", "usermod --lock locked"]
    );
    executable(&m, "/usr/bin/passwd");
    assert_eq!(
        commands_of(&m, "users"),
        ["useradd locked -m", "passwd -l locked"]
    );
    let m = machine(ud);
    executable(&m, "/bin/sh");
    let report = module(&m, "users-groups");
    assert_eq!(report["result"], "failed");
    assert!(report["errors"].to_string().contains(
        "Unable to lock user account 'locked'. No tools available.   Tried: ['passwd', 'usermod']."
    ));
}

#[test]
fn root_and_default_user_keys_follow_disable_root_and_allow_public_ssh_keys() {
    let meta = format!("{META}public-keys: ['{KEY_B}']\n");
    let own_opts = format!("no-pty {KEY_A}");
    // disable_root false: root's keys lose their own options (cloud-init
    // parses them with options="").
    let ud = format!("#cloud-config\ndisable_root: false\nssh_authorized_keys: ['{own_opts}']\nallow_public_ssh_keys: false\n");
    let m = machine(&ud);
    m.seed(&meta, &ud);
    let (root, _, _) = write_of(&m, "/root/.ssh/authorized_keys").unwrap();
    assert_eq!(root, format!("{KEY_A}\n"));
    let (user, _, owner) = write_of(&m, "/home/debian/.ssh/authorized_keys").unwrap();
    assert_eq!(user, format!("{own_opts}\n"));
    assert_eq!(owner.as_deref(), Some("debian:debian"));
    // A custom disable_root_opts with $USER; public keys allowed.
    let ud =
        "#cloud-config\ndisable_root_opts: 'no-pty,command=\"echo use $USER not $DISABLE_USER\"'\n";
    let m = machine(ud);
    m.seed(&meta, ud);
    let (root, _, _) = write_of(&m, "/root/.ssh/authorized_keys").unwrap();
    assert_eq!(
        root,
        format!("no-pty,command=\"echo use debian not root\" {KEY_B}\n")
    );
    // Keys already in the file stay; the same blob is replaced in place.
    let m = machine(ud);
    m.seed(&meta, ud);
    m.write(
        "/root/.ssh/authorized_keys",
        &format!("# kept\nssh-rsa AAAAkept kept\n{KEY_B}\n"),
    );
    fs::set_permissions(
        m.path("/root/.ssh/authorized_keys"),
        fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let (root, mode, _) = write_of(&m, "/root/.ssh/authorized_keys").unwrap();
    assert_eq!(
        root,
        format!(
            "# kept\nssh-rsa AAAAkept kept\nno-pty,command=\"echo use debian not root\" {KEY_B}\n"
        )
    );
    assert_eq!(mode, "0640", "an existing file keeps its mode");
}

#[test]
fn authorized_keys_file_checks_fall_back_as_cloud_init_does() {
    // A world-writable directory fails StrictModes: ~/.ssh/authorized_keys,
    // which cloud-init then writes without its checks (0644, root's, and a
    // 0755 ~/.ssh).
    let ud = format!("#cloud-config\nssh_authorized_keys: ['{KEY_A}']\n");
    let m = machine(&ud);
    let cfg = m.read("/etc/ssh/sshd_config");
    m.write(
        "/etc/ssh/sshd_config",
        &format!("{cfg}AuthorizedKeysFile /srv/keys/%u\n"),
    );
    fs::create_dir_all(m.path("/srv/keys")).unwrap();
    fs::set_permissions(m.path("/srv/keys"), fs::Permissions::from_mode(0o777)).unwrap();
    let (content, mode, owner) = write_of(&m, "/home/debian/.ssh/authorized_keys").unwrap();
    assert_eq!(
        (content, mode, owner),
        (format!("{KEY_A}\n"), "0644".into(), None)
    );
    // The directory is checked before the file would be made: none.
    assert!(write_of(&m, "/srv/keys/debian").is_none());
    boot_init(&m);
    assert_eq!(m.mode("/home/debian/.ssh"), 0o755);
    assert_eq!(m.mode("/home/debian/.ssh/authorized_keys"), 0o644);
    // StrictModes no: the same directory is fine.
    let m = machine(&ud);
    m.write(
        "/etc/ssh/sshd_config",
        &format!("{cfg}AuthorizedKeysFile /srv/keys/%u\nStrictModes no\n"),
    );
    fs::create_dir_all(m.path("/srv/keys")).unwrap();
    fs::set_permissions(m.path("/srv/keys"), fs::Permissions::from_mode(0o777)).unwrap();
    let (_, mode, owner) = write_of(&m, "/srv/keys/debian").unwrap();
    assert_eq!(
        (mode.as_str(), owner.as_deref()),
        ("0600", Some("debian:debian"))
    );
}

#[test]
fn host_certificates_without_sshd_config_d_edit_sshd_config() {
    let ud = "#cloud-config\nssh_keys:\n  rsa_certificate: ssh-rsa-cert-v01@openssh.com AAAAfake cert\n  ecdsa-sk_private: nope\n  bogus: x\n";
    let m = machine(ud);
    m.write(
        "/etc/ssh/sshd_config",
        "  Port 22\n# comment\nSubsystem\tsftp\t/usr/lib/openssh/sftp-server\nLonely\nHostCertificate /old\n",
    );
    let (content, mode, _) = write_of(&m, "/etc/ssh/sshd_config").unwrap();
    // cloud-init's rewrite: lines stripped, `Key value`, a lone keyword dropped.
    assert_eq!(
        content,
        "Port 22\n# comment\nSubsystem sftp\t/usr/lib/openssh/sftp-server\nHostCertificate /etc/ssh/ssh_host_rsa_key-cert.pub\n"
    );
    assert_eq!(mode, "0644");
    let notes = module(&m, "ssh")["notes"].to_string();
    assert!(
        notes.contains("Skipping unsupported ssh_keys entry: \\\"ecdsa-sk_private\\\""),
        "{notes}"
    );
    assert!(
        notes.contains("Skipping unrecognized ssh_keys entry: \\\"bogus\\\""),
        "{notes}"
    );
    // No keys generated when ssh_keys is given.
    assert!(commands_of(&m, "ssh")
        .iter()
        .all(|c| !c.starts_with("ssh-keygen")));
}

#[test]
fn generated_keys_get_the_ssh_keys_group_where_it_exists() {
    let ud = "#cloud-config\nssh_genkeytypes: [ed25519, bogus]\n";
    let m = machine(ud);
    let group = m.read("/etc/group");
    m.write("/etc/group", &format!("{group}ssh_keys:x:998:\n"));
    let e = effects(&m);
    let cmds = commands_of(&m, "ssh");
    assert_eq!(
        cmds,
        [
            "ssh-keygen -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key",
            "ssh-keygen -t bogus -N '' -f /etc/ssh/ssh_host_bogus_key",
        ]
    );
    let keygen = e
        .iter()
        .find(|e| e["action"] == "run" && e["argv"][0] == "ssh-keygen")
        .unwrap();
    assert_eq!(keygen["env"][0], "LANG=C");
    let chowns: Vec<(String, String, String)> = e
        .iter()
        .filter(|e| e["action"] == "chown" && e["path"].as_str().unwrap().starts_with("/etc/ssh/"))
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_string(),
                e["owner"].as_str().unwrap_or("").to_string(),
                e["mode"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        chowns[..2],
        [
            (
                "/etc/ssh/ssh_host_ed25519_key".into(),
                "-:ssh_keys".into(),
                "0640".into()
            ),
            (
                "/etc/ssh/ssh_host_ed25519_key.pub".into(),
                "".into(),
                "0644".into()
            ),
        ]
    );
}

#[test]
fn where_programs_run_an_owner_useradd_did_not_make_fails_the_module() {
    if !common::can_chroot() {
        return;
    }
    let ud = format!("#cloud-config\nusers: [{{name: ghost, ssh_authorized_keys: ['{KEY_A}']}}]\n");
    let m = machine(&ud);
    m.install_busybox();
    // A useradd that says yes and does nothing.
    executable(&m, "/usr/sbin/useradd");
    executable(&m, "/usr/sbin/passwd");
    m.run_ok(&["init", "--local"], 0);
    let out = m.run(&["init"]);
    assert_ne!(out.status.code(), Some(0));
    let errors = m.stage_errors("init").join("\n");
    assert!(
        errors.contains("owner ghost:ghost: user 'ghost' does not exist in /etc/passwd"),
        "{errors}"
    );
    assert!(!m.exists("/home/ghost/.ssh/authorized_keys"));
}

#[test]
fn a_field_that_would_add_a_line_refuses_its_user_and_the_others_are_made() {
    // Each bad user has one field with a line break (or a NUL) where
    // cloud-init 22.4 writes it as it is: a second sudo rule, a second
    // chpasswd line (root's password), a second authorized key.
    let ud = format!(
        r#"#cloud-config
groups: [okgroup, "bad\ngroup"]
users:
  - {{name: ann, sudo: 'ALL=(ALL) ALL', lock_passwd: false}}
  - {{name: mallet, sudo: "ALL=(ALL) ALL\nmallory ALL=(ALL) NOPASSWD:ALL"}}
  - {{name: "bad\nname", sudo: 'ALL=(ALL) ALL'}}
  - {{name: gecos, gecos: "Ann\nB"}}
  - {{name: pw, plain_text_passwd: "secret-pw\nroot:owned-pw"}}
  - {{name: keys, ssh_authorized_keys: ["{KEY_A}\ncommand=\"/bin/sh\" {KEY_B}"]}}
  - {{name: nul, shell: "/bin/sh\0x"}}
  - {{name: grp, groups: ["adm\nwheel"]}}
  - name: blockkey
    lock_passwd: false
    ssh_authorized_keys:
      - |
        {KEY_A}
  - {{name: last, sudo: ['ALL=(ALL) ALL'], lock_passwd: false}}
"#
    );
    let m = machine(&ud);
    let report = module(&m, "users-groups");
    assert_eq!(report["result"], "failed");
    let errors: Vec<String> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        errors,
        [
            "groups: group 'bad\\ngroup': the name has a newline: it must be one line in /etc/group; the group is not created",
            "users: user 'mallet': sudo has a newline: it must be one line in /etc/sudoers.d/90-cloud-init-users; the user is not created",
            "users: user 'bad\\nname': the name has a newline: it must be one line in /etc/passwd, chpasswd's input and /etc/sudoers.d; the user is not created",
            "users: user 'gecos': gecos has a newline: it must be one line in useradd's --comment (/etc/passwd); the user is not created",
            "users: user 'pw': plain_text_passwd has a newline: it must be one line in chpasswd's input; the user is not created",
            "users: user 'keys': ssh_authorized_keys has a newline: it must be one line in authorized_keys; the user is not created",
            "users: user 'nul': shell has a NUL character: it must be one line in useradd's --shell (/etc/passwd); the user is not created",
            "users: user 'grp': groups has a newline: it must be one line in groupadd and useradd's --groups (/etc/group); the user is not created",
        ]
    );
    // The others are made, in order; the refused ones are not touched.
    assert_eq!(
        commands_of(&m, "users"),
        [
            "groupadd okgroup",
            "useradd ann -m",
            "useradd blockkey -m",
            "useradd last -m",
        ]
    );

    // The network stage reports the eight errors (in status.json; its
    // exit code is 1) and the boot goes on.
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 1);
    assert_eq!(m.stage_errors("init").len(), 8);
    let rules = m.read("/etc/sudoers.d/90-cloud-init-users");
    assert!(
        rules.ends_with(
            "\n\n# User rules for ann\nann ALL=(ALL) ALL\n\n# User rules for last\nlast ALL=(ALL) ALL\n"
        ),
        "{rules}"
    );
    assert!(!rules.contains("mallory"), "{rules}");
    // A key given as a `|` block (a trailing newline) is one line.
    assert_eq!(
        m.read("/home/blockkey/.ssh/authorized_keys"),
        format!("{KEY_A}\n")
    );
    assert!(!m.exists("/home/keys"));
    // Nothing quotes the password; the log stays one line per message.
    let log = m.read("/var/log/cloud-init.log");
    assert!(!log.contains("secret-pw") && !log.contains("owned-pw"));
    assert!(log.contains("users: user 'bad\\nname': the name has a newline"));
    let errors = m.stage_errors("init");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("users: user 'mallet': sudo has a newline")),
        "{errors:?}"
    );
}

#[test]
fn a_default_user_key_with_a_line_break_inside_is_refused_and_the_others_written() {
    // ssh's keys for the default user and root (top-level
    // ssh_authorized_keys): 22.4 would write the first as two lines, the
    // second an unrestricted root key.
    let ud = format!(
        "#cloud-config\ndisable_root: false\nssh_authorized_keys:\n  - \"{KEY_A}\\ncommand=\\\"/bin/sh\\\" ssh-ed25519 AAAAinjected x\"\n  - |\n    {KEY_B}\n"
    );
    let m = machine(&ud);
    let report = module(&m, "ssh");
    assert_eq!(report["result"], "failed");
    assert_eq!(
        report["errors"],
        serde_json::json!([
            "ssh_authorized_keys or the datasource's public-keys: a key has a newline: it must be one line in authorized_keys; that key is not written"
        ])
    );
    let (user, _, _) = write_of(&m, "/home/debian/.ssh/authorized_keys").unwrap();
    assert_eq!(user, format!("{KEY_B}\n"));
    let (root, _, _) = write_of(&m, "/root/.ssh/authorized_keys").unwrap();
    assert_eq!(root, format!("{KEY_B}\n"));
}
