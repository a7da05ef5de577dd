//! refresh_rmc_and_interface (`cc_refresh_rmc_and_interface`): on every
//! boot, in the final stage, on IBM PowerVM guests with RSCT's `rmcctrl`,
//! makes sure the IPv6-only interface the hypervisor talks to RMC over is
//! up and not managed by NetworkManager: each interface without an IPv4
//! address is set down and up, its
//! `/etc/sysconfig/network-scripts/ifcfg-NAME` loses its `IPV6ADDR`,
//! `IPADDR6`, `IPV6INIT` and `NM_CONTROLLED` lines and gains
//! `NM_CONTROLLED=no` (only when it has `IPV6INIT`), then NetworkManager
//! is restarted.
//!
//! Skipped where the root has no `rmcctrl` (every image but PowerVM ones).
//! The interfaces are the running machine's, so the steps are one `sh -c`
//! on the machine: a host action, only performed when the root is `/`. One difference from 22.4: an interface without
//! an ifcfg file is passed over, where 22.4 fails the module
//! (`UnboundLocalError` after its "does not exist" message).

use crate::module::prelude::*;

pub struct RefreshRmcAndInterface;

/// `find_ipv6_ifaces`, `refresh_ipv6`, `disable_ipv6` and
/// `restart_network_manager`, in sh.
const REFRESH: &str = r#"found=
for iface in $(ip -o link show | sed -n 's/^[0-9]*: \([^:@]*\).*/\1/p'); do
  [ -z "$(ip -4 -o addr show dev "$iface")" ] || continue
  found=1
  ip link set "$iface" down
  ip link set "$iface" up
  f=/etc/sysconfig/network-scripts/ifcfg-$iface
  if [ -f "$f" ] && grep -q IPV6INIT "$f"; then
    { grep -v -e '^IPV6ADDR' -e '^IPADDR6' -e '^IPV6INIT' -e '^NM_CONTROLLED' "$f"; echo NM_CONTROLLED=no; } > "$f.cloudboot-new" \
      && mv "$f.cloudboot-new" "$f"
  fi
done
if [ -n "$found" ]; then systemctl restart NetworkManager; fi
"#;

static INFO: ModuleInfo = ModuleInfo {
    name: "refresh_rmc_and_interface",
    aliases: &[],
    frequency: Frequency::Always,
    activate_by: &[],
    keys: &[],
    schema: &[],
    summary: "bring up the IPv6 RMC interface of an IBM PowerVM guest outside NetworkManager",
};

impl Module for RefreshRmcAndInterface {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        if accounts::which(ctx.fs, "rmcctrl").is_none() {
            out.note("No 'rmcctrl' in path, disabled");
            return out;
        }
        out.note(
            "Making the IPv6 up explicitly. Ensuring IPv6 interface is not being handled by \
             NetworkManager and it is  restarted to re-establish the communication with the \
             hypervisor",
        );
        // The machine's interfaces and NetworkManager: with a root other
        // than / this is recorded, never done.
        out.effects.push(Effect::Host(HostAction {
            what: "bring the IPv6-only interfaces down and up, outside NetworkManager".into(),
            argv: ["/bin/sh", "-c", REFRESH, "refresh_rmc_and_interface"]
                .map(String::from)
                .to_vec(),
        }));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_without_rmcctrl() {
        let p = Kit::centos7().plan(&RefreshRmcAndInterface);
        assert!(p.effects().is_empty());
        assert_eq!(p.notes(), ["No 'rmcctrl' in path, disabled"]);
    }

    #[test]
    fn with_rmcctrl_the_refresh_runs_inside_the_root() {
        let p = Kit::centos7()
            .file_mode("/usr/sbin/rmcctrl", "", 0o755)
            .plan(&RefreshRmcAndInterface);
        assert!(p.commands()[0][2].contains("systemctl restart NetworkManager"));
    }
}
