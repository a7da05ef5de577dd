use super::*;

include!("../../tests/fixtures/puppet_chef/recorded.rs");

#[test]
fn every_recorded_case_plans_as_cloud_init_22_4_ran_it() {
    check_recorded(&Puppet, 9);
}

const CONF: &str = "[main]\nlogdir = /var/log/puppet\n";

#[test]
fn package_install_conf_merge_and_service() {
    let p = Kit::debian12()
        .file("/etc/puppet/puppet.conf", CONF)
        .file_mode("/usr/bin/systemctl", "", 0o755)
        .cfg("puppet:\n  version: '7.1'\n  conf:\n    agent:\n      server: ps.example\n")
        .plan(&Puppet);
    assert!(p.errors().is_empty(), "{:?}", p.errors());
    let cmds = p.commands();
    assert_eq!(cmds.last().unwrap(), &["service", "puppet", "start"]);
    assert!(cmds
        .iter()
        .any(|c| c.last().map(String::as_str) == Some("puppet=7.1")));
    assert!(cmds.contains(&vec![
        "systemctl".into(),
        "enable".into(),
        "puppet.service".into()
    ]));
    assert_eq!(
        p.file("/etc/puppet/puppet.conf").unwrap(),
        "[main]\nlogdir = /var/log/puppet\n\n[agent]\nserver = ps.example\n\n"
    );
    assert_eq!(p.file("/etc/puppet/puppet.conf.old").unwrap(), CONF);
    let conf = p
        .written()
        .into_iter()
        .find(|w| w.path == Path::new("/etc/puppet/puppet.conf"))
        .unwrap();
    assert_eq!(conf.mode, 0o644);
}

#[test]
fn ca_cert_goes_to_the_ssl_dir_owned_by_the_puppet_user() {
    let p = Kit::debian12()
        .file("/etc/puppet/puppet.conf", CONF)
        .cfg("puppet:\n  start_service: false\n  conf:\n    ca_cert: CERT\n")
        .plan(&Puppet);
    let ca = p
        .written()
        .into_iter()
        .find(|w| w.path == Path::new("/var/lib/puppet/ssl/certs/ca.pem"))
        .unwrap();
    assert_eq!((ca.content.as_str(), ca.mode), ("CERT", 0o644));
    assert_eq!(ca.owner.as_deref(), Some("puppet:root"));
    assert!(p.effects().iter().any(|e| matches!(e,
        Effect::Mkdir { path, mode: 0o771 } if path == Path::new("/var/lib/puppet/ssl"))));
}

#[test]
fn aio_fetches_the_script_with_retries_and_runs_it() {
    let p = Kit::debian12()
        .cfg("puppet:\n  install_type: aio\n  collection: puppet7\n  start_service: false\n")
        .plan(&Puppet);
    let Some(Effect::Http(r)) = p.effects().iter().find(|e| matches!(e, Effect::Http(_))) else {
        panic!("{:?}", p.effects())
    };
    assert_eq!(r.url, AIO_INSTALL_URL);
    assert_eq!(r.tries, 6);
    assert_eq!(r.on_failure, OnFailure::Fatal);
    let (script, mode) = r.save_to.clone().unwrap();
    assert_eq!(mode, 0o700);
    let cmds = p.commands();
    assert_eq!(
        cmds[0],
        [
            script.display().to_string(),
            "-c".into(),
            "puppet7".into(),
            "--cleanup".into()
        ]
    );
    assert_eq!(cmds[1][0], "/opt/puppetlabs/bin/puppet");
    assert!(p
        .effects()
        .iter()
        .any(|e| matches!(e, Effect::Remove { path } if *path == script)));
}

#[test]
fn a_conf_that_is_not_in_the_root_fails_unless_puppet_is_installed_now() {
    let cfg = "puppet:\n  install: false\n  conf:\n    main:\n      a: b\n";
    let p = Kit::debian12().cfg(cfg).plan(&Puppet);
    assert_eq!(p.errors().len(), 1, "{:?}", p.errors());
    assert!(p.file("/etc/puppet/puppet.conf").is_none());
    let p = Kit::debian12()
        .cfg("puppet:\n  conf:\n    main:\n      a: b\n")
        .plan(&Puppet);
    assert!(p.errors().is_empty(), "{:?}", p.errors());
    assert_eq!(
        p.file("/etc/puppet/puppet.conf").unwrap(),
        "[main]\na = b\n\n"
    );
}

#[test]
fn a_bad_puppet_conf_fails_the_module_naming_the_file() {
    let p = Kit::debian12()
        .file("/etc/puppet/puppet.conf", "[main]\n[main]\n")
        .cfg("puppet:\n  install: false\n  conf:\n    main:\n      a: b\n")
        .plan(&Puppet);
    assert!(
        p.errors()[0].contains("'/etc/puppet/puppet.conf'"),
        "{:?}",
        p.errors()
    );
    assert!(p.written().is_empty());
}

#[test]
fn a_bad_section_fails_the_module_with_nothing_written() {
    let p = Kit::debian12()
        .file("/etc/puppet/puppet.conf", CONF)
        .cfg("puppet:\n  install: false\n  conf:\n    ca_cert: C\n    main:\n      a: b\n    default:\n      x: 1\n")
        .plan(&Puppet);
    assert_eq!(p.errors(), ["No section: 'default'"]);
    assert!(p.written().is_empty(), "{:?}", p.written());
}

/// `csr_attributes.yaml` as PyYAML's `yaml.dump(v, default_flow_style=False)`
/// writes it (indent 2, keys sorted, lists not indented, non-ASCII escaped).
#[test]
fn csr_attributes_as_pyyaml_dumps_them() {
    let p = Kit::debian12()
        .cfg("puppet:\n  install: false\n  start_service: false\n  csr_attributes:\n    extension_requests: {pp_list: [1, {b: \"\\xE9\"}], multi: \"a\\nb\\n\", empty: {}}\n    custom_attributes: {n: 5, 1.2.3: x y}\n")
        .plan(&Puppet);
    assert_eq!(
        p.file("/etc/puppet/csr_attributes.yaml").unwrap(),
        "custom_attributes:\n  1.2.3: x y\n  n: 5\nextension_requests:\n  empty: {}\n  multi: 'a\n\n    b\n\n    '\n  pp_list:\n  - 1\n  - b: \"\\xE9\"\n"
    );
}
