//! wireguard, fan and landscape against the `wgfan` case recorded from real
//! cloud-init 22.4 on Debian 12 (tests/fixtures/modules/cases/wgfan): a
//! whole-boot plan of a scratch root holding the case's seed and overlay
//! plans the service commands the recorder logged (not run) in the same
//! order, the kernel-module load its lsmod/modprobe stand-ins logged, the
//! readiness probes, and the files cloud-init wrote with its content and
//! modes. debian_root.rs (`wgfan`) boots the same case with the real
//! apt-get and `wg` and compares the root file by file.
//!
//! `wireguard_interface_comes_up_in_a_private_netns` sets the interface
//! cloudboot wrote up with the real `wg`, inside a network namespace it
//! makes (never on the host); it says why when it is skipped (not root,
//! no `wg`, `ip` or `unshare`, a kernel without WireGuard).

mod common;
mod modules_common;

use std::process::Command;

use common::*;
use modules_common::*;

const CASE: &str = "wgfan";

fn machine() -> Machine {
    let m = machine_for(CASE);
    std::fs::create_dir_all(m.path("/run/systemd/system")).unwrap();
    m
}

/// `module`'s effects in a whole-boot plan (as `plan --format json` gives
/// them).
fn effects(plan: &serde_json::Value, module: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for stage in plan["stages"].as_array().unwrap() {
        for mm in stage["modules"].as_array().into_iter().flatten() {
            if mm["name"] == module {
                out.extend(mm["effects"].as_array().into_iter().flatten().cloned());
            }
        }
    }
    out
}

fn line(e: &serde_json::Value) -> String {
    e["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| shlex_quote(a.as_str().unwrap()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn plan() -> serde_json::Value {
    serde_json::from_str(&machine().plan(&["--format", "json"])).unwrap()
}

/// The recorder's `(not run)` lines of the three modules (systemctl and
/// service) are the plan's actions on the machine, in order; the package
/// installs come first.
#[test]
fn the_recorded_service_commands_in_order() {
    let plan = plan();
    let recorded: Vec<String> = recorded_commands(CASE, false)
        .into_iter()
        .filter(|c| {
            c.line.contains("wg-quick@")
                || c.line.contains("ubuntu-fan")
                || c.line.contains("landscape-client")
        })
        .map(|c| {
            assert!(c.not_run, "{c:?}");
            c.line
        })
        .collect();
    let mut ours = Vec::new();
    for (module, package) in [
        ("wireguard", "wireguard-tools"),
        ("fan", "ubuntu-fan"),
        ("landscape", "landscape-client"),
    ] {
        let lines: Vec<(String, String)> = effects(&plan, module)
            .iter()
            .filter(|e| e["action"] == "run" || e["action"] == "host")
            .map(|e| (e["action"].as_str().unwrap().to_string(), line(e)))
            .collect();
        let install = lines
            .iter()
            .position(|(_, l)| {
                l.starts_with("apt-get") && l.ends_with(&format!("install {package}"))
            })
            .unwrap_or_else(|| panic!("{module}: no install of {package}: {lines:?}"));
        for (i, (action, l)) in lines.iter().enumerate() {
            if action == "host" && l != "modprobe wireguard" {
                assert!(i > install, "{module}: {l} before the install");
                ours.push(l.clone());
            }
        }
    }
    assert_eq!(ours, recorded);
}

/// 22.4 ran `lsmod` then `modprobe wireguard` (the case's stand-ins logged
/// them); cloudboot reads lsmod's /proc/modules (none in this root: not
/// loaded) and plans the same modprobe for the machine.
#[test]
fn the_kernel_module_is_loaded_as_recorded() {
    let log = expected_file(CASE, "/var/tmp/wgfan-kernel.log").unwrap();
    assert_eq!(log, "lsmod \nmodprobe wireguard\n");
    let plan = plan();
    let loads: Vec<String> = effects(&plan, "wireguard")
        .iter()
        .filter(|e| e["action"] == "host" && e["argv"][0] == "modprobe")
        .map(line)
        .collect();
    assert_eq!(loads, ["modprobe wireguard"]);
}

/// The readiness probes run through /bin/sh, in order, after the
/// interfaces; what they wrote is in debian_root.rs's comparison.
#[test]
fn the_probes_run_in_order_through_the_shell() {
    let plan = plan();
    let runs: Vec<Vec<String>> = effects(&plan, "wireguard")
        .iter()
        .filter(|e| e["action"] == "run" && e["argv"][0] == "/bin/sh")
        .map(|e| {
            e["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    let probes = [
        "sed -n 's/^PrivateKey = //p' /etc/wireguard/wg0.conf | wg pubkey >> /var/tmp/wgfan-probes.log",
        "wg-quick strip wg0 | grep -c '^PrivateKey' >> /var/tmp/wgfan-probes.log",
        "echo third >> /var/tmp/wgfan-probes.log",
    ];
    assert_eq!(runs.len(), 3);
    for (run, probe) in runs.iter().zip(probes) {
        assert_eq!(run, &["/bin/sh", "-c", probe]);
    }
    // The public key of the case's private key, as the real wg made it.
    assert_eq!(
        expected_file(CASE, "/var/tmp/wgfan-probes.log").unwrap(),
        "j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8=\n1\nthird\n"
    );
}

/// The files the three modules write: cloud-init's content and modes
/// (client.conf 0600 where 22.4 leaves the registration key 0644); the
/// WireGuard configs and client.conf redacted in plans.
#[test]
fn the_planned_files_are_cloud_inits() {
    let plan = plan();
    let mut seen = Vec::new();
    for module in ["wireguard", "fan", "landscape"] {
        for f in effects(&plan, module) {
            if f["action"] != "write" {
                continue;
            }
            let path = f["path"].as_str().unwrap();
            if path.starts_with("/var/lib/cloud/") {
                continue;
            }
            seen.push(path.to_string());
            let line = manifest_entry(CASE, path)
                .unwrap_or_else(|| panic!("{path}: cloud-init did not write it"));
            let mode = f["mode"].as_str().unwrap();
            let secret =
                path.starts_with("/etc/wireguard/") || path == "/etc/landscape/client.conf";
            if path == "/etc/landscape/client.conf" {
                assert_eq!((mode, line.mode.as_str()), ("0600", "0644"));
            } else {
                assert_eq!(mode, line.mode, "{path}");
            }
            if secret {
                assert_eq!(f["content"], "<redacted>", "{path}");
            } else if path == "/etc/network/fan" && !f["content"].as_str().unwrap().ends_with('\n')
            {
                // 22.4's first write, before the package; the second adds
                // the newline and is what stays.
            } else {
                let want = expected_file(CASE, path).unwrap();
                assert_eq!(f["content"].as_str().unwrap(), want, "{path}");
            }
        }
    }
    for path in [
        "/etc/wireguard/wg0.conf",
        "/etc/wireguard/wg1.conf",
        "/etc/network/fan",
        "/etc/landscape/client.conf",
        "/etc/default/landscape-client",
    ] {
        assert!(
            seen.iter().any(|s| s == path),
            "{path} not planned: {seen:?}"
        );
    }
    let out = machine().plan(&[]);
    for secret in [
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "not-a-real-registration-key",
    ] {
        assert!(!out.contains(secret), "{secret} in the plan");
    }
}

/// A real WireGuard interface from the config cloudboot writes: a boot
/// of a scratch root writes /etc/wireguard/wg0.conf (0600); then, inside a
/// network namespace this test makes, `ip link add wg0 type wireguard`,
/// `wg setconf` with `wg-quick strip`'s output, `ip link set up`, and `wg
/// show` reads the interface's public key back. Never on the host's
/// network. Skipped, saying why, on a kernel without WireGuard.
#[test]
fn wireguard_interface_comes_up_in_a_private_netns() {
    use std::os::unix::fs::PermissionsExt;
    let m = machine();
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    m.run_ok(&["modules", "--mode=config"], 0);
    let conf = m.path("/etc/wireguard/wg0.conf");
    let md = std::fs::metadata(&conf).expect("wg0.conf written");
    assert_eq!(md.permissions().mode() & 0o7777, 0o600);
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap(),
        expected_file(CASE, "/etc/wireguard/wg0.conf").unwrap()
    );
    if !skip::require(&[
        skip::Need::Root("to make a network namespace"),
        skip::Need::Program("ip", "iproute2"),
        skip::Need::Program("unshare", "util-linux"),
    ]) {
        return;
    }
    let probe = Command::new("unshare")
        .args(["--net", "ip", "link", "add", "wg0", "type", "wireguard"])
        .output()
        .unwrap();
    if !probe.status.success() {
        return skip::announce(&format!(
            "this kernel has no WireGuard (`ip link add wg0 type wireguard` in a new network namespace: {}); \
             vm::a_wireguard_interface_comes_up_in_the_guest brings one up on the guest's kernel",
            String::from_utf8_lossy(&probe.stderr).trim()
        ));
    }
    if !skip::require(&[
        skip::Need::Program("wg", "wireguard-tools"),
        skip::Need::Program("wg-quick", "wireguard-tools"),
        skip::Need::Program("bash", "bash"),
    ]) {
        return;
    }
    let script = format!(
        "set -e; ip link add wg0 type wireguard; \
         wg setconf wg0 <(wg-quick strip {conf}); ip link set wg0 up; \
         wg show wg0 public-key",
        conf = conf.display()
    );
    let out = Command::new("unshare")
        .args(["--net", "bash", "-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "j0DFrbaPJWJK5bIU6nZ6bslNgp09e14a0bpvPiE4KF8=\n"
    );
}
