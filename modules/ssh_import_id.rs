//! ssh_import_id (`cc_ssh_import_id`): once per instance, in the config
//! stage, on Debian, Ubuntu and COS, imports SSH keys from Launchpad or
//! GitHub (`lp:name`, `gh:name`) into users' `authorized_keys` with the
//! root's own `ssh-import-id`, run as each user:
//! `sudo --preserve-env=https_proxy -Hu USER ssh-import-id ID...`.
//!
//! Which ids, as 22.4 reads them: the module's arguments (`USER ID...`)
//! when given; else the default user takes the top-level `ssh_import_id`
//! and every other user its own `ssh_import_id` (a list, or a string split
//! on `,`). Nothing happens when the key appears nowhere in the config
//! (22.4 looks for it at any depth); without `ssh-import-id` in the root
//! it is 22.4's warning. A user the root does not have, or an import that
//! fails, fails the module after the other users are done.
//!
//! ssh-import-id fetches the keys over the network, from the root's point
//! of view, when the command runs; cloudboot only starts it.

use crate::module::prelude::*;

pub struct SshImportId;

/// 22.4's `SSH_IMPORT_ID_BINARY`.
const BINARY: &str = "ssh-import-id";

static INFO: ModuleInfo = ModuleInfo {
    name: "ssh_import_id",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &[],
    keys: &["ssh_import_id"],
    schema: &[Field::opt(
        "ssh_import_id",
        Ty::Strict(
            &Ty::OneOf(&[Ty::List(&Ty::Any), Ty::Str]),
            Rule::As(&Ty::List(&Ty::Str)),
        ),
    )],
    summary: "import SSH keys from Launchpad or GitHub with ssh-import-id",
};

impl Module for SshImportId {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn distros(&self) -> &'static [&'static str] {
        &["ubuntu", "debian", "cos"]
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        if !key_anywhere(ctx.cfg, "ssh_import_id") {
            out.note("Skipping module named ssh-import-id, no 'ssh_import_id' directives found.");
            return out;
        }
        if accounts::which(ctx.fs, BINARY).is_none() {
            let msg = "ssh-import-id is not installed, but module ssh_import_id is configured. Skipping module.";
            out.warn(msg);
            return out;
        }
        if let Some((user, ids)) = ctx.args.split_first() {
            import(ctx, &mut out, user, ids);
            return out;
        }
        let users = match normalize_users_groups(ctx.cfg) {
            Ok(u) => u.users,
            Err(e) => {
                out.error(e);
                return out;
            }
        };
        for (user, user_cfg) in users {
            let is_default = user_cfg.get("default").is_some_and(Value::truthy);
            let ids = if is_default {
                // util.get_cfg_option_list(cfg, "ssh_import_id", []).
                match ctx.cfg.get("ssh_import_id") {
                    None | Some(Value::Null) => Value::Seq(Vec::new()),
                    Some(v @ Value::Seq(_)) => v.clone(),
                    Some(other) => Value::Seq(vec![Value::str(other.python_str())]),
                }
            } else {
                match user_cfg.get("ssh_import_id") {
                    Some(v @ (Value::Seq(_) | Value::Str(_))) => v.clone(),
                    Some(_) => {
                        out.note(format!(
                            "User {user} is not correctly configured for ssh_import_id"
                        ));
                        continue;
                    }
                    None => {
                        out.note(format!("User {user} is not configured for ssh_import_id"));
                        continue;
                    }
                }
            };
            let ids: Vec<String> = uniq_merge(&[&ids]).iter().map(Value::python_str).collect();
            if ids.is_empty() {
                continue;
            }
            import(ctx, &mut out, &user, &ids);
        }
        out
    }
}

/// `import_ssh_ids(ids, user)`: the command, for a user the root has.
fn import(ctx: &Context, out: &mut ModuleOutput, user: &str, ids: &[String]) {
    if user.is_empty() || ids.is_empty() {
        out.note(format!("empty user({user}) or ids({ids:?}). not importing"));
        return;
    }
    if accounts::getpwnam(ctx.fs, user).is_none() {
        out.error(format!(
            "ssh-import-id failed for: {user} {ids:?}: \"getpwnam(): name not found: '{user}'\""
        ));
        return;
    }
    let mut argv: Vec<String> = ["sudo", "--preserve-env=https_proxy", "-Hu", user, BINARY]
        .map(String::from)
        .to_vec();
    argv.extend(ids.iter().cloned());
    out.note(format!("Importing SSH ids for user {user}."));
    out.effects.push(Effect::Run(
        Command::new(argv).on_failure(OnFailure::Report),
    ));
}

/// `is_key_in_nested_dict`: the key in the mapping, in a mapping below
/// it, or in a mapping that is an item of a list below it.
fn key_anywhere(v: &Value, key: &str) -> bool {
    let Some(map) = v.as_map() else {
        return false;
    };
    map.iter().any(|(k, v)| {
        k.as_str() == Some(key)
            || match v {
                Value::Map(_) => key_anywhere(v, key),
                Value::Seq(items) => items
                    .iter()
                    .any(|i| matches!(i, Value::Map(_)) && key_anywhere(i, key)),
                _ => false,
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0::/root:/bin/sh\ndebian:x:1000:1000::/home/debian:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/sh\n";

    fn kit(cfg: &str) -> Kit {
        Kit::debian12()
            .file("/etc/passwd", PASSWD)
            .file_mode("/usr/bin/ssh-import-id", "", 0o755)
            .cfg(cfg)
    }

    #[test]
    fn the_default_user_takes_the_top_level_ids_others_their_own() {
        let p = kit("system_info: {default_user: {name: debian}}\n\
             users: [default, {name: bob, ssh_import_id: 'gh:bob,lp:bob'}, {name: carol}]\n\
             ssh_import_id: [gh:one, gh:one, lp:two]\n")
        .plan(&SshImportId);
        assert!(p.errors().is_empty(), "{:?}", p.errors());
        assert_eq!(
            p.commands(),
            [
                // 22.4's dict order: the default user last.
                vec![
                    "sudo",
                    "--preserve-env=https_proxy",
                    "-Hu",
                    "bob",
                    "ssh-import-id",
                    "gh:bob",
                    "lp:bob"
                ],
                vec![
                    "sudo",
                    "--preserve-env=https_proxy",
                    "-Hu",
                    "debian",
                    "ssh-import-id",
                    "gh:one",
                    "lp:two"
                ],
            ]
        );
    }

    #[test]
    fn nothing_without_the_key_and_a_warning_without_the_program() {
        let p = kit("users: [default]").plan(&SshImportId);
        assert!(p.effects().is_empty());
        let p = Kit::debian12()
            .cfg("ssh_import_id: [gh:x]")
            .plan(&SshImportId);
        assert!(p.effects().is_empty());
        assert!(p.notes()[0].starts_with("ssh-import-id is not installed"));
    }

    #[test]
    fn a_user_the_root_lacks_fails_the_module() {
        let p = kit("users: [{name: zed, ssh_import_id: [gh:zed]}]").plan(&SshImportId);
        assert!(p.commands().is_empty());
        assert!(p.errors()[0].contains("getpwnam(): name not found: 'zed'"));
    }
}
