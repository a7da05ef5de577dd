//! users_groups and ssh against the cases recorded from real cloud-init
//! 22.4 (tests/fixtures/modules: `users`, `ssh`, `ssh-root`, `ssh-keys`, and
//! the users/ssh part of `full`).
//!
//! Two kinds of boot:
//! - a scratch root (the recorder's Debian files, no programs): the plan's
//!   commands against `expected/commands`, then a boot whose files (sudoers,
//!   every authorized_keys, sshd_config) must be the recorded ones byte for
//!   byte with their modes, and whose owners, by name in the plan, must be
//!   the recorded owners;
//! - a root where programs run (chroot, busybox; root only): shims for
//!   useradd, groupadd, usermod, passwd, chpasswd and ssh-keygen log each
//!   call (argv and stdin size) as the recorder's shims did, and useradd and
//!   groupadd really add the account, so the owners given by name in the
//!   plan are looked up after useradd ran and must be the recorded owners.

mod common;
mod modules_common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use common::Machine;
use modules_common::*;

const CASES: [&str; 5] = ["users", "ssh", "ssh-root", "ssh-keys", "full"];

/// The programs users_groups and ssh run, as the recorder's shims logged them.
const PROGRAMS: [&str; 7] = [
    "groupadd",
    "useradd",
    "usermod",
    "passwd",
    "chpasswd",
    "ssh-keygen",
    "snap",
];

/// `# Created by cloud-init v. <version> on <date>`: cloudboot's version and
/// today's date, normalised as the recorder normalises the date.
fn normalise(text: &str) -> String {
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let head = ["# Created by cloud-init v. ", "# Added by cloud-init v. "]
            .into_iter()
            .find(|h| line.starts_with(h));
        match (head, line.find(" on ")) {
            (Some(h), Some(_)) => {
                out.push_str(h);
                out.push_str("22.4.2 on <DATE>");
                if line.ends_with('\n') {
                    out.push('\n');
                }
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// The recorder's root had the host keys openssh-server's postinst made
/// (rsa, ecdsa, ed25519); the base fixture leaves them out. Stand-ins.
fn image_host_keys(m: &Machine) {
    for kind in ["rsa", "ecdsa", "ed25519"] {
        let key = format!("/etc/ssh/ssh_host_{kind}_key");
        m.write(&key, "image private key (a stand-in)\n");
        fs::set_permissions(m.path(&key), fs::Permissions::from_mode(0o600)).unwrap();
        m.write(
            &format!("{key}.pub"),
            &format!("ssh-{kind} AAAAimage root@image\n"),
        );
    }
}

fn machine(case: &str) -> Machine {
    let m = machine_for(case);
    image_host_keys(&m);
    // sudo's files are 0440 (git keeps them 0644 in the base fixture).
    for f in ["/etc/sudoers", "/etc/sudoers.d/README"] {
        fs::set_permissions(m.path(f), fs::Permissions::from_mode(0o440)).unwrap();
    }
    m
}

/// The four stages. Only the network stage (where users_groups and ssh
/// run) must succeed here: in `full`'s scratch root, write_files_deferred
/// cannot give files to users that useradd never made (nothing runs there).
fn boot(m: &Machine) {
    for (i, args) in [
        &["init", "--local"][..],
        &["init"][..],
        &["modules", "--mode=config"][..],
        &["modules", "--mode=final"][..],
    ]
    .into_iter()
    .enumerate()
    {
        let out = m.run(args);
        if i == 1 {
            // The network stage's calls (users_groups, ssh); set_passwords
            // calls chpasswd later, in the config stage.
            let _ = fs::copy(
                m.path("/var/log/shim.log"),
                m.path("/var/log/shim.log.network"),
            );
        }
        if i < 2 {
            assert_eq!(
                out.status.code(),
                Some(0),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Paths of the manifest that users_groups and ssh write (files) or make
/// (directories).
fn ours(case: &str) -> Vec<ManifestLine> {
    manifest(case)
        .into_iter()
        // bob has no keys in `full`: his empty keys file is made in the final
        // stage by ssh_authkey_fingerprints (its extract_authorized_keys),
        // which cloudboot does not have.
        .filter(|l| !(case == "full" && l.path.starts_with("/home/bob/.ssh")))
        .filter(|l| {
            let p = l.path.as_str();
            match l.kind.as_str() {
                "file" => {
                    p.ends_with("/.ssh/authorized_keys")
                        || p.starts_with("/etc/ssh/authorized_keys/")
                        || p == "/etc/sudoers.d/90-cloud-init-users"
                        || p == "/etc/sudoers"
                        || p == "/etc/ssh/sshd_config"
                        || (case == "ssh-keys"
                            && (p.starts_with("/etc/ssh/sshd_config.d/")
                                || p == "/etc/ssh/ssh_host_ed25519_key.pub"
                                || p == "/etc/ssh/ssh_host_ed25519_key-cert.pub"))
                }
                "dir" => {
                    p.ends_with("/.ssh") || p == "/etc/ssh/authorized_keys" || p == "/etc/sudoers.d"
                }
                _ => false,
            }
        })
        .collect()
}

fn is_ours(module: &str) -> bool {
    matches!(module, "users-groups" | "users_groups" | "ssh")
}

/// The recorded commands of users_groups and ssh (network stage), with the
/// `--password` hash as plans show it.
fn recorded_ours(case: &str) -> Vec<Recorded> {
    recorded_commands(case, false)
        .into_iter()
        .filter(|r| r.stage == "init")
        .filter(|r| PROGRAMS.iter().any(|p| r.line.split(' ').next() == Some(p)))
        .collect()
}

/// `--password '<hash>'` → `--password '<redacted>'`.
fn redact_password(line: &str) -> String {
    let Some(i) = line.find("--password '") else {
        return line.to_string();
    };
    let start = i + "--password '".len();
    let end = start + line[start..].find('\'').unwrap();
    format!("{}<redacted>{}", &line[..start], &line[end..])
}

/// cloud-init's `KEY_GEN_TPL`, run as `sh -xc`: the recorder logged the
/// ssh-keygen it runs.
fn keygen_line(p: &Planned) -> String {
    if p.argv.first().map(String::as_str) == Some("sh") {
        let script = &p.argv[2];
        let private = script
            .split('"')
            .nth(1)
            .expect("the private key file in the script");
        assert_eq!(
            script,
            &format!(
                "o=$(ssh-keygen -yf \"{private}\") && echo \"$o\" root@localhost > \"{private}.pub\""
            ),
            "cloud-init's KEY_GEN_TPL"
        );
        assert_eq!(p.argv[1], "-xc");
        return format!("ssh-keygen -yf {private}");
    }
    p.line()
}

/// The last owner the plan gives each path (a write's or a chown's; a
/// write without one leaves the writer's, root's).
fn planned_owners(m: &Machine) -> BTreeMap<String, String> {
    let out = m.plan(&["--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut owners = BTreeMap::new();
    for stage in plan["stages"].as_array().unwrap() {
        for module in stage["modules"].as_array().into_iter().flatten() {
            if !is_ours(module["name"].as_str().unwrap_or_default()) {
                continue;
            }
            for e in module["effects"].as_array().into_iter().flatten() {
                let path = e["path"].as_str().unwrap_or_default().to_string();
                match e["action"].as_str() {
                    Some("write") | Some("append") => {
                        let o = e["owner"].as_str().unwrap_or("root:root").to_string();
                        owners.insert(path, o);
                    }
                    Some("mkdir") => {
                        owners.entry(path).or_insert_with(|| "root:root".into());
                    }
                    Some("chown") => {
                        if let Some(o) = e["owner"].as_str() {
                            owners.insert(path, o.to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    owners
}

#[test]
fn plans_run_the_recorded_commands_in_order() {
    let mut total = 0;
    for case in CASES {
        let m = machine(case);
        let planned: Vec<Planned> = planned_commands(&m)
            .into_iter()
            .filter(|p| is_ours(&p.module))
            .collect();
        let recorded = recorded_ours(case);
        assert!(!recorded.is_empty(), "{case}: nothing recorded");
        let got: Vec<String> = planned.iter().map(keygen_line).collect();
        let want: Vec<String> = recorded.iter().map(|r| redact_password(&r.line)).collect();
        assert_eq!(got, want, "{case}: commands");
        for (p, r) in planned.iter().zip(&recorded) {
            assert_eq!(
                p.stage, "init",
                "{case}: {} runs in the network stage",
                r.line
            );
            // Secret input shows as <redacted>; the chroot test counts its bytes.
            assert_eq!(
                p.stdin.is_some(),
                r.stdin.is_some(),
                "{case}: stdin of {}",
                r.line
            );
            if let Some(s) = &p.stdin {
                assert_eq!(s, "<redacted>", "{case}: stdin of {}", r.line);
            }
        }
        total += recorded.len();
    }
    // 17 (users) + 5 (ssh) + 5 (ssh-root) + 4 (ssh-keys) + 14 (full).
    assert_eq!(total, 45);
}

#[test]
fn scratch_boots_write_the_recorded_files() {
    // As root, the scratch root's directories are root's, as in the
    // recorder's root. An ordinary user's are its own, and the checks sshd
    // makes (and cloud-init before it picks an AuthorizedKeysFile outside
    // the home) rightly refuse ssh-root's /etc/ssh/authorized_keys/%u there.
    let as_root = common::skip::require_for(
        "the ssh-root case, and root's files owned by root",
        &[common::skip::Need::Root(
            "for a root whose directories are root's, as sshd's checks want",
        )],
    );
    let mut files = 0;
    let mut dirs = 0;
    for case in CASES {
        if case == "ssh-root" && !as_root {
            continue;
        }
        let m = machine(case);
        let owners = planned_owners(&m);
        boot(&m);
        let lines = ours(case);
        assert!(!lines.is_empty(), "{case}");
        for l in &lines {
            if l.kind == "file" {
                let expected = expected_file(case, &l.path)
                    .unwrap_or_else(|| panic!("{case}: {} not recorded", l.path));
                assert_eq!(
                    normalise(&m.read(&l.path)),
                    expected,
                    "{case}: content of {}",
                    l.path
                );
                files += 1;
            } else {
                assert!(
                    m.path(&l.path).is_dir(),
                    "{case}: {} is a directory",
                    l.path
                );
                dirs += 1;
            }
            assert_eq!(
                format!("{:04o}", m.mode(&l.path)),
                l.mode,
                "{case}: mode of {}",
                l.path
            );
            if l.status == "unchanged" {
                continue;
            }
            // Owners by name, as the plan gives them (the users do not
            // exist in a scratch root: nothing runs there).
            assert_eq!(
                owners.get(&l.path).map(String::as_str),
                Some(l.owner.as_str()),
                "{case}: owner of {}",
                l.path
            );
            if l.owner == "root:root" && as_root {
                let md = fs::metadata(m.path(&l.path)).unwrap();
                assert_eq!((md.uid(), md.gid()), (0, 0), "{case}: {}", l.path);
            }
        }
        // Nothing else of ours: no keys file the recording does not have.
        for p in ["/home", "/srv", "/root", "/etc/ssh"] {
            for f in walk(&m, p) {
                if f.ends_with("authorized_keys") || f.contains("/authorized_keys/") {
                    assert!(
                        manifest_entry(case, &f).is_some(),
                        "{case}: {f} is not in the recording"
                    );
                }
            }
        }
    }
    // Files + directories: users 7+5, ssh 5+3, ssh-root 6+2, ssh-keys 8+3,
    // full 6+4 (sshd_config and sudoers among the files, unchanged).
    let expected = if as_root { (32, 17) } else { (32 - 6, 17 - 2) };
    assert_eq!((files, dirs), expected);
}

/// Guest paths of the files under `dir`.
fn walk(m: &Machine, dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![m.path(dir)];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(m.root()).unwrap();
                out.push(format!("/{}", rel.display()));
            }
        }
    }
    out
}

#[test]
fn provided_host_keys_are_written_as_given_and_image_keys_go() {
    let case = "ssh-keys";
    let m = machine(case);
    boot(&m);
    let seed = fs::read(case_dir(case).join("user-data")).unwrap();
    let cfg = cloudboot::yaml::load(&seed, "user-data").unwrap();
    let keys = cfg.get("ssh_keys").unwrap();
    for (key, file) in [
        ("ed25519_private", "/etc/ssh/ssh_host_ed25519_key"),
        ("rsa_private", "/etc/ssh/ssh_host_rsa_key"),
    ] {
        assert_eq!(m.read(file), keys.get(key).unwrap().as_str().unwrap());
        assert_eq!(m.mode(file), 0o600);
        assert_eq!(manifest_entry(case, file).unwrap().mode, "0600");
    }
    // The image's ecdsa key is gone (ssh_deletekeys), as recorded.
    for f in [
        "/etc/ssh/ssh_host_ecdsa_key",
        "/etc/ssh/ssh_host_ecdsa_key.pub",
    ] {
        assert_eq!(manifest_entry(case, f).unwrap().status, "removed");
        assert!(!m.exists(f), "{f}");
    }
    // And in `ssh-root` (ssh_deletekeys: false) they stay.
    let m = machine("ssh-root");
    boot(&m);
    assert_eq!(
        m.read("/etc/ssh/ssh_host_ecdsa_key.pub"),
        "ssh-ecdsa AAAAimage root@image\n"
    );
}

#[test]
fn secrets_stay_out_of_plans_and_logs() {
    let mut secrets: Vec<String> = Vec::new();
    for case in ["users", "ssh-keys", "full"] {
        let seed = fs::read(case_dir(case).join("user-data")).unwrap();
        let cfg = cloudboot::yaml::load(&seed, "user-data").unwrap();
        let mut found = Vec::new();
        for (_, u) in cfg
            .get("users")
            .and_then(|u| u.as_seq())
            .unwrap_or_default()
            .iter()
            .filter_map(|u| u.as_map().map(|m| ((), m)))
        {
            for k in ["passwd", "hashed_passwd"] {
                if let Some(h) = u.get(k).and_then(|v| v.as_str()) {
                    found.push(h.to_string());
                }
            }
        }
        if let Some(keys) = cfg.get("ssh_keys") {
            for k in ["ed25519_private", "rsa_private"] {
                let pem = keys.get(k).unwrap().as_str().unwrap();
                // Every line of base64 in the key.
                found.extend(
                    pem.lines()
                        .filter(|l| !l.starts_with("-----"))
                        .map(str::to_string),
                );
            }
        }
        assert!(!found.is_empty(), "{case}: the seed has secrets");
        let m = machine(case);
        let text = m.plan(&[]);
        let json = m.plan(&["--format", "json"]);
        // What `boot` prints: its report lists every command it ran or listed.
        let out = m.run(&["boot"]);
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(printed.contains("run useradd "), "{case}: {printed}");
        let log = m.read("/var/log/cloud-init.log");
        let output = m.read("/var/log/cloud-init-output.log");
        let status = m.read("/var/lib/cloud/data/status.json");
        let long =
            String::from_utf8_lossy(&m.run(&["status", "--modules", "--format", "json"]).stdout)
                .into_owned();
        assert!(long.contains("users"), "{case}: {long}");
        for s in &found {
            for (what, body) in [
                ("plan", &text),
                ("plan --format json", &json),
                ("boot's report", &printed),
                ("cloud-init.log", &log),
                ("cloud-init-output.log", &output),
                ("status.json", &status),
                ("status --long", &long),
            ] {
                assert!(!body.contains(s.as_str()), "{case}: {what} shows a secret");
            }
        }
        // ... while the plan does show where they go.
        if case != "ssh-keys" {
            assert!(text.contains("--password <redacted>"), "{case}:\n{text}");
            assert!(text.contains("run chpasswd -e < <redacted>"), "{case}");
        } else {
            assert!(text.contains("write /etc/ssh/ssh_host_rsa_key (0600, "));
            assert!(text.contains("content <redacted>"));
        }
        secrets.extend(found);
    }
    assert!(secrets.len() >= 6);
}

#[test]
fn warnings_cloud_init_gave_are_logged() {
    for (case, want) in [
        (
            "users",
            "Unable to add group member 'cloudy' to group 'developers'; user does not exist.",
        ),
        (
            "full",
            "Unable to add group member 'cloudy' to group 'ops'; user does not exist.",
        ),
    ] {
        let recorded = fs::read_to_string(case_dir(case).join("expected/warnings")).unwrap();
        assert!(
            recorded.contains(&format!("__init__.py[WARNING]: {want}")),
            "{case}"
        );
        let m = machine(case);
        boot(&m);
        let log = m.read("/var/log/cloud-init.log");
        assert!(
            log.lines()
                .any(|l| l.contains("users_groups.rs[WARNING]: ") && l.ends_with(want)),
            "{case}: {want}\n{log}"
        );
    }
    // The ssh cases warn about nothing of ours.
    for case in ["ssh", "ssh-root", "ssh-keys"] {
        let m = machine(case);
        boot(&m);
        let log = m.read("/var/log/cloud-init.log");
        for l in log.lines().filter(|l| l.contains("[WARNING]")) {
            assert!(
                !l.contains("users_groups.rs") && !l.contains(" - ssh.rs"),
                "{case}: {l}"
            );
        }
    }
}

#[test]
fn a_reboot_runs_neither_module_again() {
    for case in CASES {
        // cloud-init ran none of these programs on the second boot.
        assert!(
            recorded_commands(case, true)
                .iter()
                .all(|r| !PROGRAMS.iter().any(|p| r.line.starts_with(p))
                    || r.line.starts_with("ssh-keygen -l")),
            "{case}"
        );
        let m = machine(case);
        boot(&m);
        m.reboot();
        let planned: Vec<Planned> = planned_commands(&m)
            .into_iter()
            .filter(|p| is_ours(&p.module))
            .collect();
        assert!(planned.is_empty(), "{case}: {planned:?}");
        let iid = m.read("/var/lib/cloud/data/instance-id");
        let sems = [
            format!("{}/sem/config_ssh", m.idir(iid.trim())),
            format!("{}/sem/config_users_groups", m.idir(iid.trim())),
        ];
        let before: Vec<String> = sems.iter().map(|s| m.read(s)).collect();
        boot(&m);
        let after: Vec<String> = sems.iter().map(|s| m.read(s)).collect();
        assert_eq!(after, before, "{case}");
    }
}

// ---- A root where the programs run ----------------------------------------

/// Logs a call as the recorder's shims did (words separated by \x1f, then
/// `\tstdin=<bytes>` when something came on stdin).
const SHIM_LOG: &str = r#"n=$(cat | wc -c)
{ printf '%s' "${0##*/}"; for a in "$@"; do printf '\037%s' "$a"; done
  [ "$n" -gt 0 ] && printf '\tstdin=%s' "$n"; printf '\n'; } >> /var/log/shim.log
"#;

/// useradd as far as the cases need it: the passwd line, a user group (or
/// `--gid`), the home with `-m`.
const USERADD: &str = r#"name=$1; shift
uid=; gid=; home=/home/$name; mk=
while [ $# -gt 0 ]; do
  case $1 in
    --uid) uid=$2; shift;; --gid) gid=$2; shift;; --home) home=$2; shift;;
    -m) mk=1;; --comment|--groups|--password|--shell) shift;;
  esac; shift
done
next() { n=3000; [ -f /var/lib/shim-id ] && n=$(cat /var/lib/shim-id); echo $((n + 1)) > /var/lib/shim-id; echo $n; }
[ -n "$uid" ] || uid=$(next)
if [ -n "$gid" ]; then gid=$(grep "^$gid:" /etc/group | cut -d: -f3)
else gid=$uid; echo "$name:x:$gid:" >> /etc/group; fi
echo "$name:x:$uid:$gid::$home:/bin/sh" >> /etc/passwd
[ -n "$mk" ] && mkdir -p "$home" && chown "$uid:$gid" "$home"
exit 0
"#;

const GROUPADD: &str = r#"n=3000; [ -f /var/lib/shim-id ] && n=$(cat /var/lib/shim-id); echo $((n + 1)) > /var/lib/shim-id
echo "$1:x:$n:" >> /etc/group
"#;

const SSH_KEYGEN: &str = r#"case $1 in
  -yf) echo "ssh-rsa AAAAderived" ;;
  -t) printf 'PRIVATE\n' > "$6"; chmod 600 "$6"; echo "ssh-$2 AAAAgenerated root@host" > "$6.pub" ;;
esac
"#;

fn install_shims(m: &Machine) {
    m.install_busybox();
    for applet in [
        "grep",
        "cut",
        "chown",
        "chmod",
        "hostname",
        "cp",
        "mv",
        "head",
        // `full` also makes a swap file (mounts).
        "fallocate",
        "mkswap",
        "dd",
    ] {
        let p = m.path(&format!("/bin/{applet}"));
        if !p.exists() {
            std::os::unix::fs::symlink("busybox", p).unwrap();
        }
    }
    fs::create_dir_all(m.path("/usr/sbin")).unwrap();
    fs::create_dir_all(m.path("/var/lib")).unwrap();
    for prog in PROGRAMS {
        let body = match prog {
            "useradd" => USERADD,
            "groupadd" => GROUPADD,
            "ssh-keygen" => SSH_KEYGEN,
            _ => "",
        };
        let p = m.path(&format!("/usr/sbin/{prog}"));
        fs::write(&p, format!("#!/bin/sh\n{SHIM_LOG}{body}")).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn shim_log(m: &Machine) -> Vec<String> {
    let text = fs::read_to_string(m.path("/var/log/shim.log.network")).unwrap_or_default();
    text.lines()
        .map(|l| {
            let (words, stdin) = match l.split_once('\t') {
                Some((w, s)) => (w, Some(s)),
                None => (l, None),
            };
            let mut line = words
                .split('\x1f')
                .map(shlex_quote)
                .collect::<Vec<_>>()
                .join(" ");
            if let Some(s) = stdin {
                line.push('\t');
                line.push_str(s);
            }
            line
        })
        .collect()
}

#[test]
fn where_programs_run_the_calls_and_owners_are_cloud_init_s() {
    if !common::can_chroot() {
        return;
    }
    let mut calls = 0;
    let mut owned = 0;
    for case in CASES {
        let m = machine(case);
        install_shims(&m);
        boot(&m);
        // Every call, with the real arguments (the hash too) and stdin sizes.
        let want: Vec<String> = recorded_ours(case)
            .iter()
            .map(|r| match r.stdin {
                Some(n) => format!("{}\tstdin={n}", r.line),
                None => r.line.clone(),
            })
            .collect();
        assert_eq!(shim_log(&m), want, "{case}");

        calls += want.len();
        // Owners, looked up once useradd had run.
        let name = |file: &str, id: u32| {
            fs::read_to_string(m.path(file))
                .unwrap()
                .lines()
                .find(|l| l.split(':').nth(2) == Some(&id.to_string()))
                .map(|l| l.split(':').next().unwrap().to_string())
                .unwrap_or_else(|| id.to_string())
        };
        for l in ours(case) {
            if l.status == "unchanged" {
                continue;
            }
            let md = fs::metadata(m.path(&l.path)).unwrap();
            let got = format!(
                "{}:{}",
                name("/etc/passwd", md.uid()),
                name("/etc/group", md.gid())
            );
            assert_eq!(got, l.owner, "{case}: owner of {}", l.path);
            owned += 1;
        }
        // The derived public key, as the shell line writes it.
        if case == "ssh-keys" {
            assert_eq!(
                m.read("/etc/ssh/ssh_host_rsa_key.pub"),
                "ssh-rsa AAAAderived root@localhost\n"
            );
        }
        let log = m.read("/var/log/cloud-init.log");
        assert!(!log.contains("cloudbootsalt"), "{case}: a hash in the log");
    }
    assert_eq!(calls, 45);
    // Every file and directory of ours but the 10 unchanged ones.
    assert_eq!(owned, 39);
}
