//! Tests only: cloudboot's plan of wireguard, fan or landscape set beside
//! what 22.4's own handler did (tests/fixtures/wgfan/expected.json, made
//! by its make.py), in make.py's terms: `["run", argv or shell string,
//! shell]`, `["write", path, content, mode]`, `["install", [pkgs]]`,
//! `["update_sources"]`.

use serde_json::{json, Value as J};

use crate::module::prelude::*;

/// The cases of expected.json for `module`.
pub fn cases(module: &str) -> Vec<J> {
    let all: J = serde_json::from_str(include_str!("../../tests/fixtures/wgfan/expected.json"))
        .expect("expected.json is JSON");
    all.as_array()
        .expect("a list of cases")
        .iter()
        .filter(|c| c["module"] == module)
        .cloned()
        .collect()
}

/// The world of a case: Debian 12, with systemd unless `systemd: false`,
/// the programs `which` finds, the kernel release, and the modules lsmod
/// lists (as `/proc/modules`), client.conf as the case had it.
pub fn kit(case: &J) -> Kit {
    let opts = &case["opts"];
    let mut kit = Kit::debian12().cfg(case["cfg"].as_str().expect("cfg"));
    if opts["systemd"] != J::Bool(false) {
        kit = kit.dir("/run/systemd/system");
    }
    for p in opts["which"].as_array().into_iter().flatten() {
        kit = kit.file_mode(&format!("/usr/bin/{}", p.as_str().unwrap()), "", 0o755);
    }
    let kernel = opts["kernel"].as_str().unwrap_or("6.1");
    kit = kit.file("/proc/sys/kernel/osrelease", &format!("{kernel}.0-test\n"));
    let lsmod = opts["lsmod"].as_str().unwrap_or("");
    let modules = if lsmod.contains("wireguard") {
        "wireguard 94208 0 - Live 0x0000000000000000\n"
    } else {
        "ip_tables 32768 0 - Live 0x0000000000000000\n"
    };
    kit = kit.file("/proc/modules", modules);
    if let Some(text) = opts["client_conf"].as_str() {
        kit = kit.file("/etc/landscape/client.conf", text);
    }
    kit
}

/// A plan's effects as make.py's events (a probe as its question and the
/// branch its `assume` picks); the package-sources mark left out.
pub fn events(effects: &[Effect]) -> Vec<J> {
    let mut out = Vec::new();
    for e in effects {
        match e {
            Effect::WriteFile {
                path, data, mode, ..
            } => {
                if path.starts_with("/var/lib/cloud") {
                    continue;
                }
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut data.reader(), &mut bytes).unwrap();
                out.push(json!([
                    "write",
                    path.display().to_string(),
                    String::from_utf8(bytes).unwrap(),
                    mode
                ]));
            }
            Effect::Run(c) if c.argv.first().is_some_and(|a| a == "apt-get") => {
                if let Some(i) = c.argv.iter().position(|a| a == "install") {
                    out.push(json!(["install", c.argv[i + 1..]]));
                } else if c.argv.iter().any(|a| a == "update") {
                    out.push(json!(["update_sources"]));
                } else {
                    out.push(json!(["run", c.argv, false]));
                }
            }
            Effect::Run(c) if c.argv.len() == 3 && c.argv[..2] == ["/bin/sh", "-c"] => {
                out.push(json!(["run", c.argv[2], true]));
            }
            Effect::Run(c) => out.push(json!(["run", c.argv, false])),
            // 22.4 runs `lsmod` then `modprobe wireguard` through the shell.
            Effect::Host(h) if h.argv == ["modprobe", "wireguard"] => {
                out.push(json!(["run", "lsmod", true]));
                out.push(json!(["run", "modprobe wireguard", true]));
            }
            Effect::Host(h) => out.push(json!(["run", h.argv, false])),
            Effect::Probe(p) => {
                out.push(json!(["run", p.action.argv, false]));
                let taken = p.branches.iter().find(|b| match &b.when {
                    When::Exit(codes) => codes.contains(&p.assume),
                    When::Otherwise => true,
                });
                if let Some(b) = taken {
                    out.extend(events(&b.effects));
                }
            }
            other => out.push(json!(["other", other.summary()])),
        }
    }
    out
}

/// 22.4's events for a case, its `lsmod` alone (lsmod without a modprobe:
/// cloudboot read /proc/modules instead) left out.
pub fn theirs(case: &J) -> Vec<J> {
    let events = case["events"].as_array().unwrap();
    events
        .iter()
        .enumerate()
        .filter(|(i, e)| {
            !(e[1] == "lsmod"
                && events
                    .get(i + 1)
                    .is_none_or(|n| n[1] != "modprobe wireguard"))
        })
        .map(|(_, e)| e.clone())
        .collect()
}
