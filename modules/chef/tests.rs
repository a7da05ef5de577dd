use super::*;

include!("../../tests/fixtures/puppet_chef/recorded.rs");

#[test]
fn every_recorded_case_plans_as_cloud_init_22_4_ran_it() {
    check_recorded(&Chef, 7);
}

const MIN: &str = "chef:\n  server_url: https://c\n  validation_name: v\n";

#[test]
fn the_validation_key_is_secret_and_private() {
    let p = Kit::debian12()
        .cfg(&format!("{MIN}  validation_cert: s3cret-key\n"))
        .plan(&Chef);
    let key = p
        .effects()
        .iter()
        .find(|e| e.path() == Some(Path::new(VALIDATION_PEM_PATH)))
        .unwrap();
    let Effect::WriteFile { data, mode, .. } = key else {
        panic!("{key:?}")
    };
    assert!(data.secret);
    assert_eq!(*mode, 0o600);
    let shown = format!("{} {}", key.summary(), key.to_json());
    assert!(!shown.contains("s3cret"), "{shown}");
}

#[test]
fn client_rb_from_the_built_in_template_without_one_in_the_root() {
    let p = Kit::debian12().cfg(MIN).plan(&Chef);
    assert!(p.errors().is_empty(), "{:?}", p.errors());
    let rb = p.file(RB_PATH).unwrap();
    assert!(rb.starts_with("# Created by cloud-init v. "), "{rb}");
    assert!(
        rb.contains("\nchef_server_url        \"https://c\"\n"),
        "{rb}"
    );
    assert!(
        rb.contains("\nnode_name              \"iid-kit\"\n"),
        "{rb}"
    );
    assert!(!rb.contains("validation_key"), "{rb}");
    assert!(
        rb.ends_with("Chef::Log::Formatter.show_time = true\n\n"),
        "{rb:?}"
    );
    assert_eq!(p.file(FB_PATH).unwrap(), "{}");
    // Not installed: the package, and no run without `exec`.
    let cmds = p.commands();
    assert_eq!(cmds.last().unwrap().last().unwrap(), "chef");
    assert!(!cmds.iter().any(|c| c[0] == EXEC_PATH));
}

#[test]
fn omnibus_tries_as_22_4_counts_them() {
    let p = Kit::debian12()
        .cfg(&format!(
            "{MIN}  install_type: omnibus\n  omnibus_url_retries: 3\n"
        ))
        .plan(&Chef);
    let Some(Effect::Http(r)) = p.effects().iter().find(|e| matches!(e, Effect::Http(_))) else {
        panic!("{:?}", p.effects())
    };
    assert_eq!((r.url.as_str(), r.tries), (OMNIBUS_URL, 4));
}

#[test]
fn the_required_keys_fail_the_module_by_name() {
    let p = Kit::debian12().cfg("chef:\n  server_url: x\n").plan(&Chef);
    assert_eq!(p.errors().len(), 1);
    assert!(
        p.errors()[0].contains("validation_name"),
        "{:?}",
        p.errors()
    );
    assert!(p.file(RB_PATH).is_none());
}
