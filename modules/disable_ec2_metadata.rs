//! disable_ec2_metadata (`cc_disable_ec2_metadata`): on every boot, in the
//! config stage, when `disable_ec2_metadata` is true, adds a route that
//! rejects 169.254.169.254, so nothing on the instance can read the EC2
//! metadata service (and the credentials it hands out) afterwards.
//!
//! As 22.4: `ip route add prohibit 169.254.169.254` when the root has `ip`,
//! else `route add -host 169.254.169.254 reject` when it has `ifconfig`
//! (net-tools), else an error. The route is the running machine's, so
//! it is a host action: with a root other than `/` it is recorded, never
//! performed. The module is only active when the key is set.

use crate::module::prelude::*;

pub struct DisableEc2Metadata;

/// 22.4's `REJECT_CMD_IP` and `REJECT_CMD_IF`.
const REJECT_CMD_IP: &[&str] = &["ip", "route", "add", "prohibit", "169.254.169.254"];
const REJECT_CMD_IF: &[&str] = &["route", "add", "-host", "169.254.169.254", "reject"];

static INFO: ModuleInfo = ModuleInfo {
    name: "disable_ec2_metadata",
    aliases: &[],
    frequency: Frequency::Always,
    activate_by: &["disable_ec2_metadata"],
    keys: &["disable_ec2_metadata"],
    schema: &[Field::opt(
        "disable_ec2_metadata",
        // 22.4's schema: a boolean (the module also reads its strings).
        Ty::Strict(&Ty::OneOf(&[Ty::Bool, Ty::Str]), Rule::As(&Ty::Bool)),
    )],
    summary: "reject the route to the EC2 metadata service (169.254.169.254)",
};

impl Module for DisableEc2Metadata {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        // util.get_cfg_option_bool(cfg, key, False).
        if !ctx.cfg.get_bool("disable_ec2_metadata", false) {
            out.note(format!(
                "Skipping module named {}, disabling the ec2 route not enabled",
                ctx.name
            ));
            return out;
        }
        let argv = if accounts::which(ctx.fs, "ip").is_some() {
            REJECT_CMD_IP
        } else if accounts::which(ctx.fs, "ifconfig").is_some() {
            REJECT_CMD_IF
        } else {
            // 22.4 logs this as an error and returns: the module does not fail.
            let msg =
                "Neither \"route\" nor \"ip\" command found, unable to manipulate routing table";
            tracing::error!("{msg}");
            out.notes.push(msg.into());
            return out;
        };
        out.effects.push(Effect::Host(HostAction {
            what: "reject the route to the EC2 metadata service 169.254.169.254".into(),
            argv: argv.iter().map(|s| s.to_string()).collect(),
        }));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_argv(p: &Planned) -> Vec<String> {
        match p.effects() {
            [Effect::Host(a)] => a.argv.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ip_first_then_route() {
        let p = Kit::debian12()
            .cfg("disable_ec2_metadata: true")
            .file_mode("/sbin/ip", "", 0o755)
            .file_mode("/sbin/ifconfig", "", 0o755)
            .plan(&DisableEc2Metadata);
        assert_eq!(host_argv(&p), REJECT_CMD_IP);
        let p = Kit::debian12()
            .cfg("disable_ec2_metadata: 'yes'")
            .file_mode("/sbin/ifconfig", "", 0o755)
            .plan(&DisableEc2Metadata);
        assert_eq!(host_argv(&p), REJECT_CMD_IF);
    }

    #[test]
    fn neither_program_is_22_4s_logged_error_and_no_failure() {
        let p = Kit::debian12()
            .cfg("disable_ec2_metadata: true")
            .plan(&DisableEc2Metadata);
        assert!(p.errors().is_empty());
        assert_eq!(
            p.notes(),
            ["Neither \"route\" nor \"ip\" command found, unable to manipulate routing table"]
        );
    }

    #[test]
    fn false_does_nothing() {
        let p = Kit::debian12()
            .cfg("disable_ec2_metadata: false")
            .plan(&DisableEc2Metadata);
        assert!(p.effects().is_empty() && p.errors().is_empty());
    }
}
