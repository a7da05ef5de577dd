use super::*;

use serde_json::Value as J;

/// Ubuntu 22.04's `/etc/os-release`.
const UBUNTU_2204: &str = "PRETTY_NAME=\"Ubuntu 22.04.1 LTS\"\nNAME=\"Ubuntu\"\n\
VERSION_ID=\"22.04\"\nVERSION=\"22.04.1 LTS (Jammy Jellyfish)\"\nVERSION_CODENAME=jammy\n\
ID=ubuntu\nID_LIKE=debian\n";

/// One step, in the terms of tests/fixtures/ubuntu_advantage/record.py.
#[derive(Debug, PartialEq)]
enum Op {
    Run(Vec<String>),
    Update,
    Install(Vec<String>),
    AutoAttach(J, J),
}

/// An Ubuntu root with `ua` (when the case has it) and uaclient's API
/// (unless the case has none).
fn root(case: &J) -> Kit {
    let mut kit = Kit::with_os_release(UBUNTU_2204);
    if case["which_ua"] == true {
        kit = kit.file_mode("/usr/bin/ua", "#!/usr/bin/python3\n", 0o755);
    }
    if case["uaclient"] != "absent" {
        let pkg = "/usr/lib/python3/dist-packages/uaclient";
        kit = kit
            .file(&format!("{pkg}/messages.py"), "")
            .file(
                &format!("{pkg}/api/u/pro/attach/auto/should_auto_attach/v1.py"),
                "",
            )
            .file(
                &format!("{pkg}/api/u/pro/attach/auto/full_auto_attach/v1.py"),
                "",
            );
    }
    kit.cfg = Value::from_json(&case["cfg"]);
    kit
}

fn strings(v: &J) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn expected_ops(case: &J) -> Vec<Op> {
    case["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| match op["op"].as_str().unwrap() {
            "run" => Op::Run(strings(&op["argv"])),
            "update" => Op::Update,
            "install" => Op::Install(strings(&op["packages"])),
            "auto_attach" => Op::AutoAttach(op["enable"].clone(), op["enable_beta"].clone()),
            other => panic!("unknown op {other}"),
        })
        .collect()
}

/// The exit code a program answered in the case (by command line prefix).
fn answer(case: &J, argv: &[String]) -> i32 {
    if argv.first().map(String::as_str) == Some("python3") {
        // The full auto-attach through uaclient's API.
        return match case["uaclient"].as_str().unwrap() {
            "pro-attached" => ALREADY_ATTACHED,
            "pro-fails" => 1,
            _ => 0,
        };
    }
    let line = argv.join(" ");
    case.get("answers")
        .and_then(J::as_object)
        .and_then(|a| a.iter().find(|(p, _)| line.starts_with(p.as_str())))
        .map_or(0, |(_, ans)| ans[1].as_i64().unwrap() as i32)
}

/// What the run of the plan does with the case's answers: the steps, the
/// messages logged, and whether a step failed the module.
#[derive(Default)]
struct Run {
    ops: Vec<Op>,
    logs: Vec<String>,
    failed: bool,
    stopped: bool,
    /// `ua enable` ran through the script that reads its answer.
    answer_read: bool,
}

fn run(case: &J, effects: &[Effect], r: &mut Run) {
    for e in effects {
        if r.stopped {
            return;
        }
        match e {
            Effect::Run(cmd) => {
                let argv = &cmd.argv;
                if argv.iter().any(|a| a == "apt-get") {
                    match argv.iter().position(|a| a == "install") {
                        Some(i) => r.ops.push(Op::Install(argv[i + 1..].to_vec())),
                        None => r.ops.push(Op::Update),
                    }
                    continue;
                }
                if argv[2] == ENABLE_ANSWER {
                    // `ua enable` through the script that reads its answer:
                    // what it makes of each answer is tests/module_ubuntu.rs's.
                    r.ops.push(Op::Run(argv[3..].to_vec()));
                    r.answer_read = true;
                    continue;
                }
                if argv[0] == "python3" {
                    let json = |i: usize| serde_json::from_str(&argv[i]).unwrap();
                    r.ops.push(Op::AutoAttach(json(3), json(4)));
                } else {
                    r.ops.push(Op::Run(argv.clone()));
                }
                let code = answer(case, argv);
                if code != 0 && !cmd.ok_codes.contains(&code) {
                    r.failed = true;
                    r.stopped = cmd.on_failure == OnFailure::Fatal;
                }
            }
            Effect::Probe(probe) => {
                let code = match case["uaclient"].as_str().unwrap() {
                    "not-pro" => NOT_PRO,
                    "error" => CANNOT_TELL,
                    _ => PRO,
                };
                let branch = probe.branches.iter().find(|b| match &b.when {
                    When::Exit(codes) => codes.contains(&code),
                    When::Otherwise => true,
                });
                let b = branch.unwrap();
                r.logs.extend(b.log.iter().map(|(_, m)| m.clone()));
                run(case, &b.effects, r);
            }
            // The sources' once-per-instance mark.
            Effect::WriteFile { path, .. } if path.starts_with("/var/lib/cloud") => {}
            other => panic!("unexpected effect {other:?}"),
        }
    }
}

/// Where cloudboot departs from 22.4 on purpose (see the module's text):
/// the case, whether nothing is run where 22.4 ran something, and whether
/// the module does not fail where 22.4's did.
const DEPARTURES: &[(&str, bool, bool)] = &[
    // The first failed config command ends the module (22.4 runs the
    // others first).
    ("config-fails", false, false),
    // A token that is no string is found before anything runs; what to
    // do with it depends on the API's answer (a probe): logged as an
    // error.
    ("token-int", true, true),
    // Likewise a missing token.
    ("no-token", false, true),
];

#[test]
fn every_case_of_22_4s_handler_plans_as_it_ran() {
    let cases: Vec<J> = serde_json::from_str(include_str!(
        "../../tests/fixtures/ubuntu_advantage/expected.json"
    ))
    .unwrap();
    assert!(cases.len() >= 40);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let (nothing_run, no_failure) = DEPARTURES
            .iter()
            .find(|(c, ..)| *c == name)
            .map_or((false, false), |d| (d.1, d.2));
        let p = root(case).plan(&UbuntuAdvantage);
        let mut r = Run::default();
        run(case, p.effects(), &mut r);
        let error = case["error"].as_array().map(|e| e[1].as_str().unwrap());
        if name == "config-fails" {
            let want = expected_ops(case);
            assert_eq!(r.ops[..], want[..1], "{name}");
        } else if !nothing_run {
            assert_eq!(r.ops, expected_ops(case), "{name}");
        } else {
            assert!(r.ops.is_empty(), "{name}");
        }
        // 22.4's failure: the plan's error (its message, word for word), or
        // a step whose exit code fails the module when it runs.
        match (error, no_failure) {
            (Some(_), true) => assert!(p.errors().is_empty() && !r.failed, "{name}"),
            // 22.4 failed on `ua enable`'s answer: the script's verdict
            // (tests/module_ubuntu.rs).
            (Some(_), _) if p.errors().is_empty() && r.answer_read && !r.failed => {}
            (Some(msg), _) if p.errors().is_empty() => assert!(r.failed, "{name}: {msg}"),
            (Some(msg), _) => assert_eq!(p.errors(), [msg.to_string()], "{name}"),
            (None, _) => assert!(
                p.errors().is_empty() && !r.failed,
                "{name}: {:?}",
                p.errors()
            ),
        }
        // Every line 22.4 logged is logged, but those about `ua enable`'s
        // answer (the script's, tests/module_ubuntu.rs), about what
        // uaclient's API answered (the calls log on their stderr) and
        // util.logexc's of a failed command.
        let ours: Vec<&String> = p.notes().iter().chain(&r.logs).chain(p.errors()).collect();
        for line in case["logs"].as_array().unwrap() {
            let msg = line[1].as_str().unwrap();
            let about_output = [
                "Failure ",
                "Service `",
                "Error during `",
                "The instance is already",
            ]
            .iter()
            .any(|s| msg.starts_with(s));
            if about_output || nothing_run {
                continue;
            }
            assert!(
                ours.iter().any(|o| o.as_str() == msg),
                "{name}: {msg:?} not in {ours:?}"
            );
        }
    }
}

#[test]
fn the_token_and_proxy_values_are_never_shown() {
    let p = Kit::with_os_release(UBUNTU_2204)
        .file_mode("/usr/bin/ua", "", 0o755)
        .file("/usr/lib/python3/dist-packages/uaclient/messages.py", "")
        .cfg(
            "ubuntu_advantage:\n  token: s3cret-token\n  enable: [esm]\n  features: {disable_auto_attach: true}\n  config:\n    http_proxy: http://user:s3cret@proxy:3128\n",
        )
        .plan(&UbuntuAdvantage);
    assert!(p.errors().is_empty(), "{:?}", p.errors());
    let shown: Vec<String> = p
        .effects()
        .iter()
        .map(|e| format!("{} {}", e.summary(), e.to_json()))
        .collect();
    let shown = shown.join("\n");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert_eq!(
        p.commands(),
        [
            vec![
                "ua",
                "config",
                "set",
                "http_proxy=http://user:s3cret@proxy:3128"
            ],
            vec!["ua", "attach", "--no-auto-enable", "s3cret-token"],
            vec![
                "python3",
                "-c",
                ENABLE_ANSWER,
                "ua",
                "enable",
                "--assume-yes",
                "--format",
                "json",
                "--",
                "esm"
            ],
        ]
    );
    let Effect::Run(attach) = &p.effects()[1] else {
        panic!()
    };
    assert_eq!(attach.display(), "ua attach --no-auto-enable <redacted>");
    let Effect::Run(set) = &p.effects()[0] else {
        panic!()
    };
    assert_eq!(set.display(), "ua config set <redacted>");
}

#[test]
fn ua_missing_installs_ubuntu_advantage_tools_and_asks_uaclient() {
    // The package brings uaclient: the API is asked, not assumed absent.
    let p = Kit::with_os_release(UBUNTU_2204)
        .cfg("ubuntu_advantage:\n  token: t\n")
        .plan(&UbuntuAdvantage);
    assert!(p.errors().is_empty(), "{:?}", p.errors());
    assert!(p
        .commands()
        .iter()
        .any(|c| c.ends_with(&["install".to_string(), "ubuntu-advantage-tools".to_string()])));
    assert!(matches!(p.effects().last(), Some(Effect::Probe(_))));
}

#[test]
fn python_helpers_match_22_4s() {
    assert_eq!(
        re_escape("a-b c.d/e:f_g~h#i&j"),
        r"a\-b\ c\.d/e:f_g\~h\#i\&j"
    );
    assert_eq!(url_scheme("  HTTP://x").unwrap(), "http");
    assert_eq!(url_scheme("proxy.example:3128").unwrap(), "proxy.example");
    assert_eq!(url_scheme("1http://x").unwrap(), "");
    assert!(url_scheme("http://[::1/").is_err());
    assert_eq!(
        url_problem("k", &Value::Seq(Vec::new())).unwrap(),
        "Expected URL scheme http/https for ua:config:k"
    );
    assert_eq!(
        url_problem("k", &Value::Int(3)).unwrap(),
        "Expected a URL for ua:config:k"
    );
}

#[test]
fn debian_without_uaclient_fails_as_22_4_did() {
    // tests/fixtures/modules/cases/ubuntu-advantage-auto: the config
    // commands, then the import that fails.
    let p = Kit::debian12()
        .file_mode("/usr/bin/ua", "", 0o755)
        .cfg("ubuntu-advantage:\n  token: t\n  enable: esm\n  config:\n    ua_apt_https_proxy: https://p:3128\n    ua_apt_http_proxy: null\n")
        .plan(&UbuntuAdvantage);
    assert_eq!(p.errors(), ["No module named 'uaclient'"]);
    assert_eq!(
        p.commands(),
        [
            vec!["ua", "config", "unset", "ua_apt_http_proxy"],
            vec!["ua", "config", "set", "ua_apt_https_proxy=https://p:3128"],
        ]
    );
}
