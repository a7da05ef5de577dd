//! keys_to_console (`cc_keys_to_console`): once per instance, in the final
//! stage, prints the machine's SSH host key fingerprints and keys on the
//! console (the `-----BEGIN SSH HOST KEY FINGERPRINTS-----` and
//! `-----BEGIN SSH HOST KEY KEYS-----` blocks), so an operator, or a
//! console scraper, can check a host key before the first login.
//!
//! As 22.4, it runs cloud-init's helper script,
//! `<usr_lib_exec>/cloud-init/write-ssh-key-fingerprints FP_BLACKLIST
//! KEY_BLACKLIST`, inside the root (the image's own script, which reads
//! the image's `/etc/ssh/ssh_host_*key.pub` with its `ssh-keygen` and
//! `logger`), and the script's output goes where cloudboot's console
//! output goes: `/var/log/cloud-init-output.log` and cloudboot's stderr
//! (the service's console), as a console line does. In a scratch root
//! programs are listed, not run.
//!
//! Keys:
//! - `ssh: {emit_keys_to_console: false}` (or a string `util.is_false`
//!   reads as false): skip.
//! - `ssh_fp_console_blacklist` (default none) and
//!   `ssh_key_console_blacklist` (default `[ssh-dss]`): key types whose
//!   fingerprints, and whose keys, are not printed; joined with `,` as the
//!   helper's two arguments (`util.get_cfg_option_list`: a string is one
//!   type, null none).
//!
//! Without the helper in the root, the module only warns, as 22.4 does
//! ("Unable to activate module ..., helper tool not found at ..."). The
//! helper leaves with cloud-init's package, so cloudboot's packages put a
//! link to cloudboot in its place, which answers to the name with the
//! script's output (`src/fingerprints.rs`).

use crate::module::prelude::*;

pub struct KeysToConsole;

/// cloud-init's `HELPER_TOOL_TPL`, below the distro's `usr_lib_exec`.
const HELPER: &str = "cloud-init/write-ssh-key-fingerprints";

/// `util.get_cfg_option_list`'s shapes: a list, one string, or null.
const TYPE_LIST: Ty = Ty::OneOf(&[Ty::List(&Ty::Str), Ty::Str, Ty::Null]);

static SSH: &[Field] = &[Field::opt(
    "emit_keys_to_console",
    Ty::OneOf(&[Ty::Bool, Ty::Str]),
)];

/// 22.4's schema of `ssh`: `emit_keys_to_console` required, a boolean.
static SSH_SCHEMA: &[Field] = &[Field::req("emit_keys_to_console", Ty::Bool)];

static INFO: ModuleInfo = ModuleInfo {
    name: "keys_to_console",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &[],
    keys: &[
        "ssh",
        "ssh_fp_console_blacklist",
        "ssh_key_console_blacklist",
    ],
    schema: &[
        Field::opt(
            "ssh",
            Ty::Strict(&Ty::Map(SSH), Rule::As(&Ty::Map(SSH_SCHEMA))),
        ),
        Field::opt(
            "ssh_fp_console_blacklist",
            Ty::Strict(&TYPE_LIST, Rule::As(&Ty::List(&Ty::Str))),
        ),
        Field::opt(
            "ssh_key_console_blacklist",
            Ty::Strict(&TYPE_LIST, Rule::As(&Ty::List(&Ty::Str))),
        ),
    ],
    summary: "print the SSH host keys and their fingerprints to the console",
};

impl Module for KeysToConsole {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let emit = ctx
            .cfg
            .get("ssh")
            .and_then(|s| s.get("emit_keys_to_console"));
        if emit.is_some_and(py::truth::is_false) {
            out.note(format!(
                "Skipping module named {}, logging of SSH host keys disabled",
                ctx.name
            ));
            return out;
        }
        let helper = helper_path(ctx.distro);
        if !ctx.fs.exists(std::path::Path::new(&helper)) {
            let msg = format!(
                "Unable to activate module {}, helper tool not found at {helper}",
                ctx.name
            );
            out.warn(msg);
            return out;
        }
        let fp_blacklist = py::cfg::option_list(ctx.cfg, "ssh_fp_console_blacklist", &[]);
        let key_blacklist =
            py::cfg::option_list(ctx.cfg, "ssh_key_console_blacklist", &["ssh-dss"]);
        out.effects.push(Effect::Run(Command::new([
            helper,
            fp_blacklist.join(","),
            key_blacklist.join(","),
        ])));
        out
    }
}

/// `_get_helper_tool_path(distro)`: below the distro's `usr_lib_exec`.
fn helper_path(distro: &Distro) -> String {
    format!("{}/{HELPER}", distro.usr_lib_exec())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN_HELPER: &str = "/usr/lib/cloud-init/write-ssh-key-fingerprints";

    fn debian() -> Kit {
        Kit::debian12().file_mode(DEBIAN_HELPER, "#!/bin/sh\n", 0o755)
    }

    #[test]
    fn runs_the_helper_with_22_4s_default_blacklists() {
        let run = debian().plan(&KeysToConsole);
        assert_eq!(run.commands(), [[DEBIAN_HELPER, "", "ssh-dss"]]);
        assert!(run.errors().is_empty() && run.notes().is_empty());
        let Effect::Run(c) = &run.effects()[0] else {
            panic!()
        };
        // A failing helper fails the module, as 22.4's raise does.
        assert_eq!(c.on_failure, OnFailure::Fatal);
        assert_eq!(
            run.effects()[0].summary(),
            format!("run {DEBIAN_HELPER} '' ssh-dss")
        );
    }

    #[test]
    fn blacklists_are_joined_with_commas() {
        let run = debian()
            .cfg(
                "ssh_fp_console_blacklist: [ssh-rsa, ecdsa-sha2-nistp256]\n\
                 ssh_key_console_blacklist: [ssh-ed25519, ssh-dss]\n",
            )
            .plan(&KeysToConsole);
        assert_eq!(
            run.commands(),
            [[
                DEBIAN_HELPER,
                "ssh-rsa,ecdsa-sha2-nistp256",
                "ssh-ed25519,ssh-dss"
            ]]
        );
    }

    #[test]
    fn a_string_is_one_type_and_null_is_none() {
        let run = debian()
            .cfg("ssh_fp_console_blacklist: ssh-rsa\nssh_key_console_blacklist: null\n")
            .plan(&KeysToConsole);
        assert_eq!(run.commands(), [[DEBIAN_HELPER, "ssh-rsa", ""]]);
        let run = debian()
            .cfg("ssh_key_console_blacklist: []\n")
            .plan(&KeysToConsole);
        assert_eq!(run.commands(), [[DEBIAN_HELPER, "", ""]]);
    }

    #[test]
    fn emit_keys_to_console_false_skips() {
        for value in ["false", "'no'", "'Off'", "'0'"] {
            let run = debian()
                .cfg(&format!("ssh: {{emit_keys_to_console: {value}}}\n"))
                .plan(&KeysToConsole);
            assert!(run.effects().is_empty(), "{value}");
            assert_eq!(
                run.notes(),
                ["Skipping module named keys_to_console, logging of SSH host keys disabled"]
            );
        }
        // Anything else leaves it on (22.4 asks only `is_false`).
        for value in ["true", "'maybe'"] {
            let run = debian()
                .cfg(&format!("ssh: {{emit_keys_to_console: {value}}}\n"))
                .plan(&KeysToConsole);
            assert_eq!(run.commands().len(), 1, "{value}");
        }
    }

    #[test]
    fn without_the_helper_it_warns_and_does_nothing() {
        let run = Kit::debian12().plan(&KeysToConsole);
        assert!(run.effects().is_empty());
        assert!(run.errors().is_empty());
        assert_eq!(
            run.notes(),
            ["Unable to activate module keys_to_console, helper tool not found at /usr/lib/cloud-init/write-ssh-key-fingerprints"]
        );
    }

    #[test]
    fn the_rhel_family_keeps_the_helper_in_usr_libexec() {
        let helper = "/usr/libexec/cloud-init/write-ssh-key-fingerprints";
        let run = Kit::centos7()
            .file_mode(helper, "#!/bin/sh\n", 0o755)
            .plan(&KeysToConsole);
        assert_eq!(run.commands(), [[helper, "", "ssh-dss"]]);
        // system_info.distro picks the class, as in cloud-init.
        let run = Kit::debian12()
            .cfg("system_info: {distro: freebsd}\n")
            .plan(&KeysToConsole);
        assert_eq!(
            run.notes(),
            ["Unable to activate module keys_to_console, helper tool not found at /usr/local/lib/cloud-init/write-ssh-key-fingerprints"]
        );
    }
}
