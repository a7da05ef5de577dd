//! set_hostname, update_hostname and update_etc_hosts against what cloud-init
//! 22.4 did (tests/fixtures/modules, recorded on Debian 12) and what its own
//! functions give for the RHEL family (tests/fixtures/hostname/golden.json,
//! see the README there).
//!
//! cloud-init also sets the hostname early in `init --local` and `init`
//! (`_maybe_set_hostname`); the engine does too, reported as the
//! pseudo-module `early_hostname`, whose effects the plans below include.

mod common;
mod modules_common;

use std::path::Path;

use cloudboot::datasource::Instance;
use cloudboot::distro::sysconfig::{update_sysconfig, SysConf};
use cloudboot::distro::{hostname, Distro};
use cloudboot::effect::Effect;
use cloudboot::exec::Runner;
use cloudboot::modules::update_etc_hosts::render_template;
use cloudboot::rootfs::{RealFs, Root};
use cloudboot::target::{apply_all, LiveTarget};
use cloudboot::value::Value;
use common::Machine;
use modules_common::*;

const HOSTNAME_FILES: [&str; 4] = [
    "/etc/hostname",
    "/etc/hosts",
    "/var/lib/cloud/data/set-hostname",
    "/var/lib/cloud/data/previous-hostname",
];

const OURS: [&str; 4] = [
    "early_hostname",
    "set_hostname",
    "update_hostname",
    "update_etc_hosts",
];

fn fs_of(m: &Machine) -> RealFs {
    RealFs {
        root: Root::new(m.root()),
    }
}

/// The host actions among `effects`, as command lines.
fn host_lines(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Host(h) => Some(
                h.argv
                    .iter()
                    .map(|w| shlex_quote(w))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            _ => None,
        })
        .collect()
}

/// What a Host action would have done to the running machine the root stands
/// for: the kernel's hostname (`/proc/sys/kernel/hostname`), which this
/// machine is never asked to change.
fn emulate_host_actions(m: &Machine, effects: &[Effect]) {
    for e in effects {
        if let Effect::Host(h) = e {
            let name = match h.argv.iter().map(String::as_str).collect::<Vec<_>>()[..] {
                ["hostname", n] => n,
                ["hostnamectl", "set-hostname", n] => n,
                ["hostnamectl", "--transient", "set-hostname", n] => n,
                _ => panic!("unexpected host action {:?}", h.argv),
            };
            m.write("/proc/sys/kernel/hostname", &format!("{name}\n"));
        }
    }
}

/// The host actions (argv) `plan --stage S` lists, and the files our
/// modules write, with a check that none of our modules failed.
fn planned_effects(m: &Machine, stage: &str) -> (Vec<Vec<String>>, Vec<String>) {
    let out = m.plan(&["--stage", stage, "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&out).expect("plan json");
    let mut actions = Vec::new();
    let mut writes = Vec::new();
    for st in plan["stages"].as_array().unwrap() {
        for module in st["modules"].as_array().into_iter().flatten() {
            let name = module["name"]
                .as_str()
                .unwrap_or_default()
                .replace('-', "_");
            if OURS.contains(&name.as_str()) {
                assert_eq!(
                    module["errors"].as_array().map(Vec::len).unwrap_or(0),
                    0,
                    "{name}: {module}"
                );
            }
            for e in module["effects"].as_array().into_iter().flatten() {
                if e["action"] == "write" && OURS.contains(&name.as_str()) {
                    writes.push(e["path"].as_str().unwrap().to_string());
                }
                // Hostname commands only (other modules act on the machine too).
                let hostname_cmd =
                    matches!(e["argv"][0].as_str(), Some("hostname" | "hostnamectl"));
                if e["action"] == "host" && hostname_cmd {
                    actions.push(
                        e["argv"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|a| a.as_str().unwrap().to_string())
                            .collect(),
                    );
                }
            }
        }
    }
    (actions, writes)
}

/// What one boot did about hostnames.
struct Boot {
    /// The hostname commands as `(stage, line)`.
    cmds: Vec<(String, String)>,
    /// The files the early calls and our modules wrote (a write of the same
    /// content leaves the file as it is, but cloud-init rewrites it).
    writes: Vec<String>,
}

/// One boot, stage by stage, with the early hostname calls where cloud-init
/// makes them. With
/// `emulate_kernel`, the root's `/proc/sys/kernel/hostname` follows the
/// host actions, as the running hostname would.
fn boot(m: &Machine, emulate_kernel: bool) -> Boot {
    let mut cmds = Vec::new();
    let mut writes = Vec::new();
    for (label, stage, args) in [
        ("init-local", "local", &["init", "--local"][..]),
        ("init", "network", &["init"][..]),
        ("config", "config", &["modules", "--mode=config"][..]),
        ("final", "final", &["modules", "--mode=final"][..]),
    ] {
        let (planned, w) = planned_effects(m, stage);
        writes.extend(w);
        let out = m.run(args);
        assert!(out.status.code().is_some(), "{label} crashed");
        for argv in planned {
            let line = argv
                .iter()
                .map(|w| shlex_quote(w))
                .collect::<Vec<_>>()
                .join(" ");
            if emulate_kernel {
                emulate_host_actions(
                    m,
                    &[Effect::Host(cloudboot::effect::HostAction {
                        what: line.clone(),
                        argv,
                    })],
                );
            }
            cmds.push((label.to_string(), line));
        }
    }
    Boot { cmds, writes }
}

/// The hostname commands cloud-init ran (`hostname NAME`, `hostnamectl ...`;
/// a bare `hostname` is a runcmd script reading it).
fn recorded_hostname_commands(case: &str, boot2: bool) -> Vec<(String, String)> {
    recorded_commands(case, boot2)
        .into_iter()
        .filter(|c| c.line.starts_with("hostname ") || c.line.starts_with("hostnamectl "))
        .map(|c| (c.stage, c.line))
        .collect()
}

/// A line of `expected/boot2/changes`: the path and its status.
fn boot2_status(case: &str, path: &str) -> Option<String> {
    let text = std::fs::read_to_string(case_dir(case).join("expected/boot2/changes")).unwrap();
    text.lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .find(|f| f[0] == path)
        .map(|f| f[4].to_string())
}

/// The four hostname files against the recording: content byte for byte and
/// mode, or absent when cloud-init left none.
fn assert_hostname_files(m: &Machine, case: &str) {
    for f in HOSTNAME_FILES {
        match manifest_entry(case, f) {
            Some(line) => {
                let expected = expected_file(case, f).unwrap_or_else(|| panic!("{case}: {f}"));
                assert_eq!(m.read(f), expected, "{case}: {f}");
                assert_eq!(
                    format!("{:04o}", m.mode(f)),
                    line.mode,
                    "{case}: mode of {f}"
                );
            }
            None => assert!(!m.exists(f), "{case}: {f} should not exist"),
        }
    }
}

/// A recorded case, two boots: files, hostname commands, and which files
/// each boot writes (boot 1: the manifest says new or changed; boot 2: the
/// changes say rewritten or changed).
fn check_case(case: &str) {
    let m = machine_for(case);
    let b = boot(&m, false);
    assert_eq!(
        b.cmds,
        recorded_hostname_commands(case, false),
        "{case}: boot 1 commands"
    );
    assert_hostname_files(&m, case);
    for f in HOSTNAME_FILES {
        let status = manifest_entry(case, f).map(|l| l.status);
        assert_eq!(
            b.writes.iter().any(|w| w == f),
            matches!(status.as_deref(), Some("new" | "changed" | "rewritten")),
            "{case}: boot 1 wrote {f}? recorded: {status:?}"
        );
    }

    m.reboot();
    let b = boot(&m, false);
    assert_eq!(
        b.cmds,
        recorded_hostname_commands(case, true),
        "{case}: boot 2 commands"
    );
    assert_hostname_files(&m, case);
    for f in HOSTNAME_FILES {
        let status = boot2_status(case, f);
        assert_eq!(
            b.writes.iter().any(|w| w == f),
            matches!(status.as_deref(), Some("rewritten" | "changed")),
            "{case}: boot 2 wrote {f}? recorded: {status:?}"
        );
    }
}

#[test]
fn hostname_and_fqdn_from_cloud_config_with_the_debian_template() {
    check_case("hostname");
}

#[test]
fn dotted_local_hostname_prefer_fqdn_and_the_localhost_line() {
    check_case("hostname-localhost");
}

#[test]
fn preserve_hostname_leaves_what_init_local_set() {
    check_case("hostname-preserve");
}

#[test]
fn the_full_example() {
    check_case("full");
}

/// Every other recorded case sets meta-data's `local-hostname` in init-local.
#[test]
fn every_other_recorded_case() {
    let mut n = 0;
    for entry in std::fs::read_dir(fixtures().join("cases")).unwrap() {
        let case = entry.unwrap().file_name().to_string_lossy().into_owned();
        if [
            "hostname",
            "hostname-localhost",
            "hostname-preserve",
            "full",
        ]
        .contains(&case.as_str())
        {
            continue;
        }
        check_case(&case);
        n += 1;
    }
    assert_eq!(n, 31);
}

// ---------------------------------------------------------------------------
// Golden outputs of cloud-init's own functions (tests/fixtures/hostname)

fn golden() -> serde_json::Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostname/golden.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// The date and version in cloud-init's headers, as golden.py writes them.
fn normalise(text: &str) -> String {
    text.lines()
        .map(|l| {
            for base in ["Created", "Added"] {
                let prefix = format!("# {base} by cloud-init v. ");
                if l.starts_with(&prefix) && l.contains(" on ") {
                    return format!("{prefix}<VERSION> on <DATE>");
                }
            }
            l.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
        + if text.ends_with('\n') { "\n" } else { "" }
}

fn instance_with(metadata: &serde_json::Value) -> Instance {
    Instance {
        instance_id: "iid-golden".into(),
        metadata: Value::from_json(metadata),
        ..Instance::default()
    }
}

fn distro_cfg(name: &str, system_info: &serde_json::Value) -> Value {
    let mut si = system_info.clone();
    si["distro"] = serde_json::Value::from(name);
    Value::from_json(&serde_json::json!({ "system_info": si }))
}

#[test]
fn names_as_util_get_hostname_fqdn() {
    let g = golden();
    let cases = g["names"].as_array().unwrap();
    for c in cases {
        let m = Machine::new();
        m.write(
            "/proc/sys/kernel/hostname",
            &format!("{}\n", c["running"].as_str().unwrap()),
        );
        if let Some(h) = c["hosts"].as_str() {
            m.write("/etc/hosts", h);
        }
        let cfg = Value::from_json(&c["cfg"]);
        let fs = fs_of(&m);
        let got = Distro::detect(&fs, &cfg).hostname_fqdn(
            &cfg,
            &instance_with(&c["metadata"]),
            &fs,
            c["metadata_only"].as_bool().unwrap(),
        );
        match (&got, c["out"].get("error")) {
            (Err(_), Some(_)) => {}
            (Ok(n), None) => {
                assert_eq!(
                    (n.hostname.as_deref(), n.fqdn.as_deref(), n.is_default),
                    (
                        c["out"]["hostname"].as_str(),
                        c["out"]["fqdn"].as_str(),
                        c["out"]["is_default"].as_bool().unwrap()
                    ),
                    "{c}"
                );
            }
            _ => panic!("{c}: got {got:?}"),
        }
    }
    assert_eq!(cases.len(), 25);
}

#[test]
fn sysconfig_network_as_configobj_writes_it() {
    let g = golden();
    let cases = g["sysconfig"].as_array().unwrap();
    let mut refused_sections = 0;
    for c in cases {
        let existing = c["existing"].as_str();
        let value = c["value"].as_str().unwrap();
        let got = update_sysconfig(existing, "HOSTNAME", value);
        if existing.is_some_and(|e| e.starts_with('[')) {
            // cloudboot refuses sections, which configobj accepts.
            assert!(got.is_err(), "{c}");
            refused_sections += 1;
            continue;
        }
        match (&got, c["out"].get("error")) {
            (Err(_), Some(_)) => {}
            (Ok(w), None) => assert_eq!(
                w.as_deref().map(normalise),
                c["out"]["written"].as_str().map(str::to_string),
                "{c}"
            ),
            _ => panic!("{c}: got {got:?}"),
        }
        if let Some(e) = existing {
            let read =
                SysConf::parse(e).and_then(|s| s.get("HOSTNAME").map(|v| v.map(str::to_string)));
            match (&read, &c["read"]) {
                (Err(_), r) if r.get("error").is_some() || r.get("list").is_some() => {}
                (Ok(v), r) if !r.is_object() => assert_eq!(v.as_deref(), r.as_str(), "{c}"),
                _ => panic!("{c}: read {read:?}"),
            }
        }
    }
    assert_eq!(refused_sections, 1);
    assert_eq!(cases.len(), 35);
}

#[test]
fn etc_hostname_as_hostname_conf_writes_it() {
    let g = golden();
    let cases = g["hostname_conf"].as_array().unwrap();
    for c in cases {
        let m = Machine::new();
        if let Some(e) = c["existing"].as_str() {
            m.write("/etc/hostname", e);
        }
        let fs = fs_of(&m);
        let d = Distro::detect(&fs, &distro_cfg("debian", &serde_json::json!({})));
        let read = d.read_hostname(&fs, Path::new("/etc/hostname")).unwrap();
        assert_eq!(read.as_deref(), c["read"].as_str(), "{c}");
        let mut effects = Vec::new();
        d.write_hostname(
            &fs,
            c["name"].as_str().unwrap(),
            Path::new("/etc/hostname"),
            &mut effects,
        )
        .unwrap();
        match &effects[..] {
            [Effect::WriteFile { data, mode, .. }] => {
                assert_eq!(
                    String::from_utf8_lossy(&data.bytes),
                    c["written"].as_str().unwrap(),
                    "{c}"
                );
                assert_eq!(*mode, 0o644);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(cases.len(), 11);
}

#[test]
fn etc_hosts_localhost_line_as_update_etc_hosts_edits_it() {
    let g = golden();
    let cases = g["etc_hosts"].as_array().unwrap();
    for c in cases {
        let m = Machine::new();
        if let Some(e) = c["existing"].as_str() {
            m.write("/etc/hosts", e);
        }
        let fs = fs_of(&m);
        let d = Distro::detect(
            &fs,
            &distro_cfg(c["distro"].as_str().unwrap(), &serde_json::json!({})),
        );
        let got = d
            .update_etc_hosts(
                &fs,
                c["hostname"].as_str().unwrap(),
                c["fqdn"].as_str().unwrap(),
            )
            .map(|e| match e {
                Effect::WriteFile {
                    data, mode, path, ..
                } => {
                    assert_eq!((mode, path.to_str().unwrap()), (0o644, "/etc/hosts"));
                    normalise(&String::from_utf8_lossy(&data.bytes))
                }
                other => panic!("{other:?}"),
            });
        assert_eq!(got.as_deref(), c["written"].as_str(), "{c}");
    }
    assert_eq!(cases.len(), 14);
}

#[test]
fn hosts_templates_as_cloud_init_renders_them() {
    let g = golden();
    let cases = g["templates"].as_array().unwrap();
    let dir = fixtures().join("base/etc/cloud/templates");
    for c in cases {
        let text = std::fs::read_to_string(dir.join(c["template"].as_str().unwrap())).unwrap();
        let got = render_template(
            &text,
            &[
                ("hostname", c["hostname"].as_str().unwrap()),
                ("fqdn", c["fqdn"].as_str().unwrap()),
            ],
        )
        .unwrap();
        assert_eq!(got, c["out"].as_str().unwrap(), "{}", c["template"]);
    }
    assert_eq!(cases.len(), 16);
}

#[test]
fn builtin_templates_are_cloud_init_22_4s() {
    let dir = fixtures().join("base/etc/cloud/templates");
    for (family, text) in hostname::BUILTIN_TEMPLATES {
        if *family == "mariner" {
            // 22.4 ships it as host.mariner.tmpl with a `+` before every line.
            let shipped = std::fs::read_to_string(dir.join("host.mariner.tmpl")).unwrap();
            let fixed: String = shipped
                .lines()
                .map(|l| format!("{}\n", l.strip_prefix('+').unwrap_or(l)))
                .collect();
            assert_eq!(*text, fixed);
            continue;
        }
        let shipped = std::fs::read_to_string(dir.join(format!("hosts.{family}.tmpl"))).unwrap();
        assert_eq!(*text, shipped, "{family}");
    }
}

/// Distro methods in sequence, as the modules call them, on a scratch root.
#[test]
fn rhel_6_and_7_sequences_as_cloud_init_runs_them() {
    let g = golden();
    let seqs = g["sequences"].as_array().unwrap();
    for s in seqs {
        let title = s["title"].as_str().unwrap();
        let m = Machine::new();
        for (path, content) in s["files"].as_object().unwrap() {
            m.write(path, content.as_str().unwrap());
        }
        m.write(
            "/proc/sys/kernel/hostname",
            &format!("{}\n", s["running"].as_str().unwrap()),
        );
        if s["systemd"].as_bool().unwrap() {
            std::fs::create_dir_all(m.path("/run/systemd/system")).unwrap();
        }
        let name = s["distro"].as_str().unwrap();
        let mut cfg_json = serde_json::json!({"system_info": s["system_info"].clone()});
        cfg_json["system_info"]["distro"] = serde_json::Value::from(name);
        for (i, st) in s["steps"].as_array().unwrap().iter().enumerate() {
            let step = &st["step"];
            if let Some(p) = step.get("prefer") {
                cfg_json["prefer_fqdn_over_hostname"] = p.clone();
            }
            let cfg = Value::from_json(&cfg_json);
            let fs = fs_of(&m);
            let d = Distro::detect(&fs, &cfg);
            assert_eq!(d.systemd, s["systemd"].as_bool().unwrap());
            let h = step["hostname"].as_str().unwrap();
            let f = step["fqdn"].as_str().unwrap();
            let mut out = cloudboot::module::ModuleOutput::default();
            match step["op"].as_str().unwrap() {
                "set_hostname" => d
                    .set_hostname(&fs, &cfg, h, Some(f), &mut out.effects)
                    .unwrap(),
                "update_hostname" => d
                    .update_hostname(
                        &fs,
                        &cfg,
                        h,
                        Some(f),
                        Path::new("/var/lib/cloud/data/previous-hostname"),
                        &mut out.effects,
                        &mut out.notes,
                    )
                    .unwrap(),
                "update_etc_hosts" => out.effects.extend(d.update_etc_hosts(&fs, h, f)),
                op => panic!("{op}"),
            }
            let at = format!("{title} step {i} ({step})");
            // Commands that change something (a bare `hostname` only reads).
            let expected_cmds: Vec<String> = st["commands"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c.as_array().unwrap().len() > 1)
                .map(|c| {
                    c.as_array()
                        .unwrap()
                        .iter()
                        .map(|w| w.as_str().unwrap())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            assert_eq!(host_lines(&out.effects), expected_cmds, "{at}");
            let mut written: Vec<String> = out
                .effects
                .iter()
                .filter_map(|e| match e {
                    Effect::WriteFile { path, .. } => Some(path.to_string_lossy().into_owned()),
                    _ => None,
                })
                .collect();
            let root = Root::new(m.root());
            let mut t = LiveTarget::new(root.clone(), Runner::new(root, None, false));
            let applied = apply_all(&mut t, &out.effects);
            assert!(applied.errors.is_empty(), "{at}: {:?}", applied.errors);
            emulate_host_actions(&m, &out.effects);
            // hostnamectl writes /etc/hostname itself in golden.py's model.
            let mut expected_written: Vec<String> =
                st["written"].as_object().unwrap().keys().cloned().collect();
            if expected_cmds
                .iter()
                .any(|c| c.starts_with("hostnamectl set-hostname "))
            {
                expected_written.push("/etc/hostname".into());
            }
            written.sort();
            expected_written.sort();
            assert_eq!(written, expected_written, "{at}");
            for (path, content) in st["written"].as_object().unwrap() {
                assert_eq!(
                    normalise(&m.read(path)),
                    content.as_str().unwrap(),
                    "{at}: {path}"
                );
            }
            assert_eq!(
                m.read("/proc/sys/kernel/hostname").trim_end(),
                st["running"].as_str().unwrap(),
                "{at}: running hostname"
            );
        }
    }
    assert_eq!(seqs.len(), 8);
}

// ---------------------------------------------------------------------------
// Whole boots of RHEL-family roots through the binary

const C6_NETWORK: &str =
    "NETWORKING=yes\nHOSTNAME=localhost.localdomain\n# keep me\nNOZEROCONF=yes\n";

/// cloud-init 0.7.5's hosts.redhat.tmpl (Cheetah), as a CentOS 6 image has it.
const TEMPLATE_0_7_5: &str = "#*\n    This file /etc/cloud/templates/hosts.redhat.tmpl is only utilized\n    if enabled in cloud-config.  Specifically, in order to enable it\n    you need to add the following to config:\n      manage_etc_hosts: True\n*#\n# Your system has configured 'manage_etc_hosts' as True.\n# As a result, if you wish for changes to this file to persist\n# then you will need to either\n# a.) make changes to the master file in /etc/cloud/templates/hosts.redhat.tmpl\n# b.) change or remove the value of 'manage_etc_hosts' in\n#     /etc/cloud/cloud.cfg or cloud-config from user-data\n# \n# The following lines are desirable for IPv4 capable hosts\n127.0.0.1 ${fqdn} ${hostname} \n127.0.0.1 localhost.localdomain localhost\n127.0.0.1 localhost4.localdomain4 localhost4\n\n# The following lines are desirable for IPv6 capable hosts\n::1 ${fqdn} ${hostname}\n::1 localhost.localdomain localhost\n::1 localhost6.localdomain6 localhost6\n\n";

fn rhel_machine(release: (&str, &str), meta: &str, user: &str) -> Machine {
    let m = Machine::seeded(meta, user);
    m.write(release.0, release.1);
    m.write(
        "/etc/cloud/cloud.cfg.d/90-test.cfg",
        "datasource_list: [NoCloud, None]\nnetwork: {config: disabled}\n",
    );
    m.write(
        "/etc/hosts",
        "127.0.0.1   localhost localhost.localdomain\n",
    );
    m
}

fn host_cmds(cmds: &[(String, String)]) -> Vec<String> {
    cmds.iter().map(|(s, l)| format!("{s}: {l}")).collect()
}

#[test]
fn centos_6_keeps_the_other_lines_of_sysconfig_network() {
    let m = rhel_machine(
        ("/etc/redhat-release", "CentOS release 6.10 (Final)\n"),
        "instance-id: iid-c6\nlocal-hostname: c6-meta\n",
        "#cloud-config\nhostname: web1\nfqdn: web1.example.com\nmanage_etc_hosts: true\n",
    );
    m.write("/etc/sysconfig/network", C6_NETWORK);
    m.write("/etc/cloud/templates/hosts.redhat.tmpl", TEMPLATE_0_7_5);
    let cmds = boot(&m, true).cmds;
    assert_eq!(
        host_cmds(&cmds),
        [
            "init-local: hostname c6-meta",
            "init: hostname web1.example.com"
        ]
    );
    // The RHEL family prefers the FQDN; the other lines stay.
    assert_eq!(
        m.read("/etc/sysconfig/network"),
        "NETWORKING=yes\nHOSTNAME=web1.example.com\n# keep me\nNOZEROCONF=yes\n"
    );
    assert!(!m.exists("/etc/hostname"));
    let prev = m.read("/var/lib/cloud/data/previous-hostname");
    assert_eq!(
        normalise(&prev),
        "# Created by cloud-init v. <VERSION> on <DATE>\nHOSTNAME=web1.example.com\n"
    );
    assert_eq!(
        m.read("/var/lib/cloud/data/set-hostname"),
        "{\n \"fqdn\": \"web1.example.com\",\n \"hostname\": \"web1\"\n}\n"
    );
    // 0.7.5's Cheetah template: rendered, its comment block not copied.
    let body: String = TEMPLATE_0_7_5
        .lines()
        .skip(6)
        .map(|l| format!("{l}\n"))
        .collect();
    let expected = body
        .replace("${fqdn}", "web1.example.com")
        .replace("${hostname}", "web1");
    assert!(
        expected.starts_with("# Your system has configured"),
        "{expected}"
    );
    assert_eq!(m.read("/etc/hosts"), expected);

    // Boot 2: nothing to change; the template is rendered again.
    m.reboot();
    let network = m.read("/etc/sysconfig/network");
    let prev = m.read("/var/lib/cloud/data/previous-hostname");
    let cmds = boot(&m, true).cmds;
    assert!(cmds.is_empty(), "{cmds:?}");
    assert_eq!(m.read("/etc/sysconfig/network"), network);
    assert_eq!(m.read("/var/lib/cloud/data/previous-hostname"), prev);
}

#[test]
fn centos_6_user_changed_hostname_is_left_alone() {
    let m = rhel_machine(
        ("/etc/redhat-release", "CentOS release 6.10 (Final)\n"),
        "instance-id: iid-c6\nlocal-hostname: c6-meta\n",
        "#cloud-config\nhostname: web1\nfqdn: web1.example.com\n",
    );
    m.write("/etc/sysconfig/network", C6_NETWORK);
    boot(&m, true);
    // Someone renames the machine; the next boot keeps it.
    m.write(
        "/etc/sysconfig/network",
        "NETWORKING=yes\nHOSTNAME=mine.example\n",
    );
    m.write("/proc/sys/kernel/hostname", "mine.example\n");
    m.reboot();
    let cmds = boot(&m, true).cmds;
    assert!(cmds.is_empty(), "{cmds:?}");
    assert_eq!(
        m.read("/etc/sysconfig/network"),
        "NETWORKING=yes\nHOSTNAME=mine.example\n"
    );
}

#[test]
fn rhel_7_uses_hostnamectl_and_writes_etc_hostname() {
    let m = rhel_machine(
        (
            "/etc/os-release",
            "NAME=\"Red Hat Enterprise Linux Server\"\nID=\"rhel\"\nVERSION_ID=\"7.9\"\n",
        ),
        "instance-id: iid-r7\nlocal-hostname: r7-meta.example.net\n",
        "#cloud-config\nhostname: web1\nfqdn: web1.example.com\nmanage_etc_hosts: localhost\n",
    );
    m.write("/etc/hostname", "localhost.localdomain\n");
    std::fs::create_dir_all(m.path("/usr/lib/systemd")).unwrap();
    std::fs::create_dir_all(m.path("/sbin")).unwrap();
    std::os::unix::fs::symlink("../lib/systemd/systemd", m.path("/sbin/init")).unwrap();
    let cmds = boot(&m, true).cmds;
    assert_eq!(
        host_cmds(&cmds),
        [
            "init-local: hostnamectl set-hostname r7-meta.example.net",
            "init-local: hostname r7-meta.example.net",
            "init: hostnamectl set-hostname web1.example.com",
            "init: hostname web1.example.com",
        ]
    );
    assert_eq!(m.read("/etc/hostname"), "web1.example.com\n");
    // systemd's previous-hostname has no newline (util.write_file(fn, name)).
    assert_eq!(
        m.read("/var/lib/cloud/data/previous-hostname"),
        "web1.example.com"
    );
    assert_eq!(
        m.read("/etc/hosts"),
        "127.0.0.1\tlocalhost\tlocalhost.localdomain\n127.0.0.1\tweb1.example.com\tweb1\n\n"
    );
    assert!(!m.exists("/etc/sysconfig/network"));
    m.reboot();
    let cmds = boot(&m, true).cmds;
    assert!(cmds.is_empty(), "{cmds:?}");
}
