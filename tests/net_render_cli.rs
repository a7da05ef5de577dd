//! `cloudboot net render`, the binary, on the whole parity corpus: every
//! case's input (network_data.json, v1, v2, ENI, as the user has it) with
//! its `--mac` pairs, for every target cloud-init's `net-convert` was run
//! for (seven). Every file cloud-init wrote is
//! written the same, byte for byte, with its mode, except where cloudboot
//! deliberately differs: the ENI routes (compared
//! with the corpus's `cloudboot/debian-eni/` instead), and several default
//! gateways and networkd's virtual devices, which each renderer's own tests
//! check.

mod net_common;

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cloudboot");

/// `target` -> (`--distro`, `--renderer`).
const TARGETS: &[(&str, &str, &str)] = &[
    ("centos-sysconfig", "centos7", "sysconfig"),
    ("rhel-sysconfig", "rhel8", "sysconfig"),
    ("debian-eni", "debian", "eni"),
    ("ubuntu-networkd", "ubuntu", "networkd"),
    ("ubuntu-netplan", "ubuntu", "netplan"),
    ("rhel-network-manager", "rhel8", "network-manager"),
    ("opensuse-sysconfig", "opensuse", "sysconfig"),
];

fn input_of(case: &Path) -> (std::path::PathBuf, &'static str) {
    for (file, kind) in [
        ("input.json", "network_data.json"),
        ("input.eni", "eni"),
        ("input.yaml", "auto"),
    ] {
        if case.join(file).exists() {
            return (case.join(file), kind);
        }
    }
    panic!("{} has no input", case.display());
}

fn deliberately_different(case: &str, target: &str) -> bool {
    let virtual_devices = case.contains("bond") || case.contains("vlan") || case.contains("bridge");
    case == "v1-two-gateways" || (target == "ubuntu-networkd" && virtual_devices)
}

#[test]
fn the_binary_writes_what_cloud_init_writes_for_every_case() {
    let mut compared = 0;
    for case in net_common::cases() {
        let name = net_common::name(&case);
        let (input, kind) = input_of(&case);
        let macs = std::fs::read_to_string(case.join("macs")).unwrap_or_default();
        for (target, distro, renderer) in TARGETS {
            let expected = net_common::cloudboot_expected(&case, target);
            if expected.is_empty() || deliberately_different(&name, target) {
                continue;
            }
            let out = tempfile::tempdir().unwrap();
            let mut cmd = Command::new(BIN);
            cmd.args(["net", "render", "--kind", kind, "--distro", distro])
                .args(["--renderer", renderer])
                .arg("--input")
                .arg(&input)
                .arg("--output")
                .arg(out.path());
            for pair in macs.lines().filter(|l| !l.is_empty()) {
                cmd.args(["--mac", pair]);
            }
            let run = cmd.output().unwrap();
            assert!(
                run.status.success(),
                "{name} {target}: {}",
                String::from_utf8_lossy(&run.stderr)
            );
            let stdout = String::from_utf8_lossy(&run.stdout);
            for (path, content) in &expected {
                let got = std::fs::read_to_string(out.path().join(path.trim_start_matches('/')))
                    .unwrap_or_else(|e| {
                        panic!("{name} {target}: {path} not written: {e}\n{stdout}")
                    });
                assert_eq!(&got, content, "{name} {target}: {path}");
                // NetworkManager ignores a keyfile others can read.
                let mode = if *renderer == "network-manager" {
                    "0600"
                } else {
                    "0644"
                };
                assert!(
                    stdout.contains(&format!("write {path} ({mode}")),
                    "{stdout}"
                );
            }
            compared += 1;
        }
    }
    // 38 cases x 6 targets, less the deliberate differences checked
    // elsewhere (6 for two gateways, 10 networkd cases with virtual devices).
    assert_eq!(compared, 249, "case/target pairs compared");
}

#[test]
fn a_mac_no_interface_has_is_left_out_with_a_warning() {
    let case = net_common::corpus().join("odj-three-nics");
    let out = tempfile::tempdir().unwrap();
    // Only two of the three NICs exist.
    let run = Command::new(BIN)
        .args(["net", "render", "--renderer", "eni", "--distro", "debian"])
        .arg("--input")
        .arg(case.join("input.json"))
        .args([
            "--mac",
            "eth0,fa:16:3e:00:00:00",
            "--mac",
            "eth1,fa:16:3e:00:00:01",
        ])
        .arg("--output")
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}");
    assert!(stdout.contains("warning: "), "{stdout}");
    assert!(stdout.contains("fa:16:3e:00:00:02"), "{stdout}");
    let eni =
        std::fs::read_to_string(out.path().join("etc/network/interfaces.d/50-cloud-init")).unwrap();
    assert!(
        eni.contains("iface eth0 ") && eni.contains("iface eth1 "),
        "{eni}"
    );
    assert!(!eni.contains("eth2"), "{eni}");
}

#[test]
fn bad_input_is_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("network_data.json");
    std::fs::write(&input, "{\"links\": [").unwrap();
    let out = dir.path().join("out");
    let run = Command::new(BIN)
        .args([
            "net",
            "render",
            "--kind",
            "network_data.json",
            "--renderer",
            "eni",
        ])
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("network_data.json: not JSON"), "{stderr}");
    assert!(!out.exists());
}
