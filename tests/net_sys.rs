//! The machine's interfaces: cloudboot's reading of `/sys/class/net`
//! against cloud-init 22.4's own functions on the same fake trees
//! (tests/fixtures/net-sys, see its generate.py): every helper per
//! interface, `get_interfaces`, `get_interfaces_by_mac`, InfiniBand
//! addresses, the fallback candidates and config, and the current-state
//! half of interface renaming.

use std::path::{Path, PathBuf};

use cloudboot::net::input::rename::current_rename_info;
use cloudboot::net::input::sys::SysNet;
use cloudboot::rootfs::{RealFs, Root};
use serde_json::{json, Value as J};

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/net-sys/cases");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// Builds the case's tree (`tree.json`) under a new temporary root.
fn build(case: &Path) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let entries: Vec<Vec<String>> =
        serde_json::from_slice(&std::fs::read(case.join("tree.json")).unwrap()).unwrap();
    for e in entries {
        let p = root.path().join(&e[1]);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        match e[0].as_str() {
            "dir" => std::fs::create_dir_all(&p).unwrap(),
            "file" => std::fs::write(&p, &e[2]).unwrap(),
            _ => std::os::unix::fs::symlink(&e[2], &p).unwrap(),
        }
    }
    root
}

fn text(v: &J) -> String {
    serde_json::to_string(v).unwrap()
}

#[test]
fn sysfs_readings_equal_cloud_init() {
    let cases = cases();
    assert!(cases.len() >= 15);
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let want: J =
            serde_json::from_slice(&std::fs::read(case.join("expected.json")).unwrap()).unwrap();
        let root = build(&case);
        let net = SysNet::read(&RealFs {
            root: Root::new(root.path()),
        });

        let ifaces = want["ifaces"].as_object().unwrap();
        let ours: Vec<&str> = net.ifaces.iter().map(|i| i.name.as_str()).collect();
        let theirs: Vec<&str> = ifaces.keys().map(String::as_str).collect();
        assert_eq!(ours, theirs, "{name}");
        for i in &net.ifaces {
            let got = json!({
                "is_bond": i.bonding,
                "is_bridge": i.bridge,
                "is_vlan": i.vlan,
                "is_physical": i.is_physical(),
                "has_own_mac": i.has_own_mac(),
                "mac": i.mac(),
                "driver": i.driver,
                "device_id": i.device_id,
                "is_up": i.is_up(),
                "is_renamed": i.is_renamed(),
                "is_netfailover": net.is_netfailover(i),
                "is_netfail_master": net.is_netfail_master(i),
                "has_master": i.master.is_some(),
                "ib_ethernet": i.ib_hwaddr(true),
            });
            assert_eq!(text(&got), text(&ifaces[&i.name]), "{name} {}", i.name);
        }

        let interfaces: Vec<J> = net
            .interfaces(&[])
            .into_iter()
            .map(|n| json!([n.name, n.mac, n.driver, n.device_id]))
            .collect();
        assert_eq!(J::Array(interfaces), want["interfaces"], "{name}");

        let by_mac = net.interfaces_by_mac(&[]).map_err(|e| e.to_string());
        match (by_mac, want["by_mac"].get("error")) {
            (Ok(by), None) => {
                let mut ours: Vec<(String, String)> = by.macs.into_iter().collect();
                ours.sort();
                // cloud-init keeps sysfs's case; cloudboot lower-cases.
                let mut theirs: Vec<(String, String)> = want["by_mac"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| {
                        (
                            p[0].as_str().unwrap().to_lowercase(),
                            p[1].as_str().unwrap().to_string(),
                        )
                    })
                    .collect();
                theirs.sort();
                assert_eq!(ours, theirs, "{name}");
            }
            (Err(e), Some(theirs)) => {
                let theirs = theirs.as_str().unwrap();
                if let Some(msg) = theirs.strip_prefix("RuntimeError: ") {
                    assert_eq!(e, msg, "{name}");
                }
            }
            (ours, theirs) => panic!("{name}: cloudboot {ours:?}, cloud-init {theirs:?}"),
        }

        let ib: serde_json::Map<String, J> = net
            .ib_hwaddrs_by_interface()
            .into_iter()
            .map(|(k, v)| (k, J::String(v)))
            .collect();
        assert_eq!(J::Object(ib), want["ib"], "{name}");

        assert_eq!(json!(net.candidate_nics(&[])), want["candidates"], "{name}");
        let fallback =
            |v: Option<cloudboot::value::Value>| v.map(|v| v.to_json()).unwrap_or(J::Null);
        assert_eq!(
            text(&fallback(net.fallback_config())),
            text(&want["fallback"]),
            "{name}"
        );
        assert_eq!(
            text(&fallback(net.fallback_config_with(&[], true))),
            text(&want["fallback_driver"]),
            "{name}"
        );
        assert_eq!(
            text(&fallback(
                net.fallback_config_with(&["virtio_net".into()], false)
            )),
            text(&want["fallback_blacklist"]),
            "{name}"
        );

        let info: Vec<J> = current_rename_info(&net, &Default::default())
            .into_iter()
            .map(|c| {
                json!({"device_id": c.device_id, "driver": c.driver, "mac": c.mac,
                       "name": c.name, "up": c.up})
            })
            .collect();
        assert_eq!(text(&J::Array(info)), text(&want["rename_info"]), "{name}");
    }
}
