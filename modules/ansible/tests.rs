//! The plan's shape; tests/module_ansible.rs runs the planned command
//! lines against stand-ins and compares them with what 22.4 ran.

use super::*;

#[test]
fn ansible_config_is_set_after_the_install_and_home_always() {
    let p = Kit::debian12()
        .cfg("ansible:\n  install_method: distro\n  package_name: ansible\n  ansible_config: /a.cfg\n  galaxy:\n    actions: [[ansible-galaxy, x]]\n")
        .plan(&Ansible);
    let runs: Vec<&Command> = p
        .effects()
        .iter()
        .filter_map(|e| match e {
            Effect::Run(c) => Some(c),
            _ => None,
        })
        .collect();
    let galaxy = runs.last().unwrap();
    assert_eq!(galaxy.argv, ["ansible-galaxy", "x"]);
    assert!(galaxy
        .env
        .contains(&("ansible_config".into(), "/a.cfg".into())));
    assert!(galaxy.env.contains(&("HOME".into(), "/root".into())));
    let check = runs.iter().find(|c| c.argv[0] == "sh").unwrap();
    assert!(!check.env.iter().any(|(k, _)| k == "ansible_config"));
}

#[test]
fn nothing_for_an_empty_ansible() {
    let p = Kit::debian12().cfg("ansible: {}\n").plan(&Ansible);
    assert!(p.effects().is_empty() && p.errors().is_empty());
}
