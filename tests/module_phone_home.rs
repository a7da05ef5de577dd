//! The phone_home module (cc_phone_home) booted whole against a scratch root
//! with the real binary, posting to a loopback server started by each test:
//! the form body cloud-init 22.4 sends (Python's own `urlencode` makes the
//! expected bytes), the instance id in the path, `post` lists, retries, a
//! dead server (a warning, the boot goes on), plans and second boots that
//! send nothing, and bad configuration.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::*;

const META: &str = "instance-id: iid-ph-1\nlocal-hostname: myhost.example.com\n";
const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2E+/x= root@myhost\n";
const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNh root@myhost\n";
const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 root@myhost\n";

/// One request as the server saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A loopback server that records every request (head and body) and answers
/// with `statuses` in turn (the last one for the rest).
fn server(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(mut s) = conn else { continue };
            let mut raw = Vec::new();
            let mut buf = [0u8; 4096];
            // The head, then as much body as Content-Length says.
            let (head, mut body) = loop {
                let k = s.read(&mut buf).unwrap_or(0);
                if k == 0 {
                    break (String::from_utf8_lossy(&raw).into_owned(), Vec::new());
                }
                raw.extend_from_slice(&buf[..k]);
                if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                    break (
                        String::from_utf8_lossy(&raw[..i]).into_owned(),
                        raw[i + 4..].to_vec(),
                    );
                }
            };
            let mut lines = head.lines();
            let first: Vec<String> = lines
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect();
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect();
            let len: usize = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            while body.len() < len {
                let k = s.read(&mut buf).unwrap_or(0);
                if k == 0 {
                    break;
                }
                body.extend_from_slice(&buf[..k]);
            }
            seen.lock().unwrap().push(Seen {
                method: first.first().cloned().unwrap_or_default(),
                path: first.get(1).cloned().unwrap_or_default(),
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
            let status = statuses.get(n).or(statuses.last()).copied().unwrap_or(200);
            let _ = s.write_all(
                format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                    .as_bytes(),
            );
        }
    });
    (base, log)
}

/// A scratch machine seeded with `phone_home` config (`config` is the YAML
/// under `phone_home:`, `{base}` replaced by the server's URL), with host
/// keys (no DSA key, as on a current image) that the ssh module leaves be.
fn machine(base: &str, config: &str) -> Machine {
    let user = format!(
        "#cloud-config\nssh_deletekeys: false\nssh_genkeytypes: []\nphone_home:\n{}",
        config.replace("{base}", base)
    );
    let m = Machine::seeded(META, &user);
    m.write("/etc/ssh/ssh_host_rsa_key.pub", RSA);
    m.write("/etc/ssh/ssh_host_ecdsa_key.pub", ECDSA);
    m.write("/etc/ssh/ssh_host_ed25519_key.pub", ED25519);
    m
}

fn requests(log: &Arc<Mutex<Vec<Seen>>>) -> Vec<Seen> {
    log.lock().unwrap().clone()
}

fn cloud_log(m: &Machine) -> String {
    m.read("/var/log/cloud-init.log")
}

/// The warnings of the log, without their timestamps.
fn warnings(m: &Machine) -> Vec<String> {
    cloud_log(m)
        .lines()
        .filter_map(|l| l.split_once("[WARNING]: ").map(|(_, w)| w.to_string()))
        .collect()
}

/// What Python's `urlencode` (requests' form encoding) makes of the pairs.
fn urlencode(pairs: &[(&str, &str)]) -> String {
    let json = serde_json::to_string(
        &pairs
            .iter()
            .map(|(k, v)| vec![k.to_string(), v.to_string()])
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let code = format!(
        "import json,sys,urllib.parse; sys.stdout.write(urllib.parse.urlencode([tuple(p) for p in json.loads({json:?})]))"
    );
    String::from_utf8(python(&code)).unwrap()
}

/// The module's line in status.json's final stage: its errors.
fn final_errors(m: &Machine) -> Vec<String> {
    m.stage_errors("modules-final")
}

#[test]
fn posts_everything_in_cloud_init_order_to_the_instance_url() {
    let (base, log) = server(vec![200]);
    let m = machine(
        &base,
        "  url: '{base}/phone/$INSTANCE_ID/?again=${INSTANCE_ID}'\n  post: all\n",
    );
    m.boot();
    let seen = requests(&log);
    assert_eq!(seen.len(), 1, "{seen:?}");
    let r = &seen[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/phone/iid-ph-1/?again=iid-ph-1");
    assert_eq!(
        r.header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
    let expected = urlencode(&[
        ("pub_key_dsa", "N/A"),
        ("pub_key_rsa", RSA),
        ("pub_key_ecdsa", ECDSA),
        ("pub_key_ed25519", ED25519),
        ("instance_id", "iid-ph-1"),
        ("hostname", "myhost"),
        ("fqdn", "myhost.example.com"),
    ]);
    assert_eq!(r.body, expected);
    let w = warnings(&m);
    for line in [
        "Configuration entry 'tries' is not an integer, using 10 instead",
        "/etc/ssh/ssh_host_dsa_key.pub: failed to open, can not phone home that data!",
        "Requested key pub_key_dsa from 'post' configuration list not available",
    ] {
        assert!(w.iter().any(|x| x == line), "{line:?} not in {w:#?}");
    }
    assert!(!w.iter().any(|x| x.starts_with("Failed to post")), "{w:#?}");
    assert!(final_errors(&m).is_empty());
    assert!(m.exists("/var/lib/cloud/instances/iid-ph-1/sem/config_phone_home"));
    assert!(m.exists("/var/lib/cloud/instances/iid-ph-1/boot-finished"));
}

#[test]
fn post_defaults_to_all() {
    let (base, log) = server(vec![200]);
    let m = machine(&base, "  url: '{base}/x'\n  tries: 1\n");
    m.boot();
    let seen = requests(&log);
    assert_eq!(seen.len(), 1);
    assert!(seen[0]
        .body
        .starts_with("pub_key_dsa=N%2FA&pub_key_rsa=ssh-rsa+"));
    assert!(seen[0]
        .body
        .ends_with("&instance_id=iid-ph-1&hostname=myhost&fqdn=myhost.example.com"));
}

#[test]
fn a_post_list_sends_only_those_keys() {
    let (base, log) = server(vec![200]);
    let m = machine(
        &base,
        "  url: '{base}/$INSTANCE_ID'\n  post: [instance_id]\n  tries: 5\n",
    );
    m.boot();
    let seen = requests(&log);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/iid-ph-1");
    assert_eq!(seen[0].body, "instance_id=iid-ph-1");
    // Only the keys that cannot be read are warned about, not `post`'s.
    let w = warnings(&m);
    assert!(!w.iter().any(|x| x.starts_with("Requested key")), "{w:#?}");
    assert!(!w.iter().any(|x| x.contains("'tries'")), "{w:#?}");
}

#[test]
fn unknown_post_keys_are_warned_about_and_sent_as_na() {
    let (base, log) = server(vec![200]);
    let m = machine(
        &base,
        "  url: '{base}/'\n  post: [fqdn, pub_key_ed25519, serial, fqdn]\n  tries: 1\n",
    );
    m.boot();
    let seen = requests(&log);
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].body,
        urlencode(&[
            ("fqdn", "myhost.example.com"),
            ("pub_key_ed25519", ED25519),
            ("serial", "N/A"),
        ])
    );
    assert!(warnings(&m)
        .iter()
        .any(|x| x == "Requested key serial from 'post' configuration list not available"));
    assert!(final_errors(&m).is_empty());
}

#[test]
fn server_errors_are_retried_up_to_tries() {
    let (base, log) = server(vec![500, 500, 200]);
    let m = machine(&base, "  url: '{base}/r'\n  post: [hostname]\n  tries: 3\n");
    let start = std::time::Instant::now();
    m.boot();
    let seen = requests(&log);
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen
        .iter()
        .all(|r| r.method == "POST" && r.body == "hostname=myhost"));
    // cloud-init's 3 seconds between tries.
    assert!(start.elapsed() >= std::time::Duration::from_secs(6));
    assert!(!warnings(&m).iter().any(|x| x.starts_with("Failed to post")));
    assert!(final_errors(&m).is_empty());
}

#[test]
fn a_dead_server_is_a_warning_and_the_boot_goes_on() {
    let url = dead_url();
    let m = machine(&url, "  url: '{base}/$INSTANCE_ID'\n  tries: 2\n");
    // Every stage exits 0: the failure is logged, the module succeeds.
    m.boot();
    let w = warnings(&m);
    let expected = format!("Failed to post phone home data to {url}/iid-ph-1 in 2 tries");
    assert!(w.contains(&expected), "{expected:?} not in {w:#?}");
    assert!(final_errors(&m).is_empty());
    // final_message ran after it, and the module counts as done.
    assert!(m.exists("/var/lib/cloud/instances/iid-ph-1/boot-finished"));
    assert!(m.exists("/var/lib/cloud/instances/iid-ph-1/sem/config_phone_home"));
    let log = cloud_log(&m);
    let ph = log.find("Running module phone_home").unwrap();
    let fm = log.find("Running module final_message").unwrap();
    assert!(ph < fm);
}

#[test]
fn a_plan_sends_nothing() {
    let (base, log) = server(vec![200]);
    let m = machine(
        &base,
        "  url: '{base}/$INSTANCE_ID/'\n  post: [instance_id, fqdn]\n",
    );
    let text = m.plan(&[]);
    assert!(
        text.contains(&format!(
            "http POST {base}/iid-ph-1/ (form: instance_id, fqdn; 10 tries, 3s apart)"
        )),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&m.plan(&["--format", "json"])).unwrap();
    let effect = json["stages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["modules"].as_array().cloned().unwrap_or_default())
        .filter(|m| m["name"] == "phone_home")
        .flat_map(|m| m["effects"].as_array().cloned().unwrap_or_default())
        .find(|e| e["action"] == "http")
        .expect("an http effect in the plan");
    assert_eq!(effect["method"], "POST");
    assert_eq!(
        effect["body"],
        "instance_id=iid-ph-1&fqdn=myhost.example.com"
    );
    assert_eq!(effect["tries"], 10);
    // Give a stray request time to arrive: none does.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(requests(&log).is_empty());
    assert!(!m.exists("/var/lib/cloud/instances"));
}

#[test]
fn a_second_boot_of_the_same_instance_sends_nothing() {
    let (base, log) = server(vec![200]);
    let m = machine(&base, "  url: '{base}/$INSTANCE_ID'\n  tries: 1\n");
    m.boot();
    assert_eq!(requests(&log).len(), 1);
    m.reboot();
    m.boot();
    assert_eq!(requests(&log).len(), 1);
    assert!(cloud_log(&m).contains("config-phone_home already ran (freq=once-per-instance)"));
    // A new instance phones home again.
    m.write(
        "/var/lib/cloud/seed/nocloud/meta-data",
        "instance-id: iid-ph-2\nlocal-hostname: myhost.example.com\n",
    );
    m.reboot();
    m.boot();
    let seen = requests(&log);
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].path, "/iid-ph-2");
}

#[test]
fn without_phone_home_nothing_is_sent() {
    let (_base, log) = server(vec![200]);
    let m = Machine::seeded(META, "#cloud-config\n");
    m.boot();
    assert!(requests(&log).is_empty());
    let log = cloud_log(&m);
    assert!(
        log.lines().any(|l| l.contains("Skipping modules '")
            && l.contains("phone_home")
            && l.contains("because no applicable config is provided")),
        "{log}"
    );
    // `single` skips the activation check; the module says why itself.
    let out = m.run(&["single", "--name", "phone_home"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(cloud_log(&m)
        .contains("Skipping module named phone_home, no 'phone_home' configuration found"));
}

#[test]
fn bad_tries_fall_back_to_ten() {
    let (base, log) = server(vec![200]);
    let m = machine(
        &base,
        "  url: '{base}/t'\n  post: [instance_id]\n  tries: x\n",
    );
    m.boot();
    assert_eq!(requests(&log).len(), 1);
    assert!(warnings(&m)
        .iter()
        .any(|x| x == "Configuration entry 'tries' is not an integer, using 10 instead"));
    assert!(final_errors(&m).is_empty());
}

#[test]
fn a_missing_url_skips_with_a_warning() {
    let (_base, log) = server(vec![200]);
    let m = machine("", "  post: all\n  tries: 2\n");
    m.boot();
    assert!(requests(&log).is_empty());
    assert!(warnings(&m)
        .iter()
        .any(|x| x
            == "Skipping module named phone_home, no 'url' found in 'phone_home' configuration"));
    assert!(final_errors(&m).is_empty());
}

#[test]
fn bad_types_and_templates_fail_the_module_naming_the_key() {
    for (config, needle) in [
        (
            "  url: 5\n",
            "phone_home.url: expected a string, found int (5)",
        ),
        ("  url: http://h/\n  post: [1]\n", "phone_home.post[0]"),
        (
            "  url: 'http://h/$INSTANCE_ID.json'\n",
            "TypeError: Can not extract key 'json' from non-dictionary 'iid-ph-1' of type str",
        ),
        ("  url: 'http://h/$iid'\n", "KeyError: 'iid'"),
    ] {
        let m = machine("", config);
        m.boot_expecting(&[0, 0, 0, 1]);
        let errors = final_errors(&m);
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("phone_home: ") && e.contains(needle)),
            "{config}: {needle:?} not in {errors:#?}"
        );
        // The rest of the stage still ran.
        assert!(m.exists("/var/lib/cloud/instances/iid-ph-1/boot-finished"));
    }
    let m = machine("", "  - http://h/\n");
    m.boot_expecting(&[0, 0, 0, 1]);
    assert!(final_errors(&m)
        .iter()
        .any(|e| e.contains("phone_home: expected a mapping")));
}
