//! The keyboard layout, as the distro classes set it (`set_keymap`):
//! systemd's `localectl set-x11-keymap LAYOUT MODEL VARIANT OPTIONS`, which
//! writes `/etc/X11/xorg.conf.d/00-keyboard.conf` and, on Debian,
//! `/etc/default/keyboard`. Debian and Ubuntu then restart `console-setup`,
//! because localectl does not apply the layout to the console at once
//! (Debian bug 926037). Without systemd, 22.4 has no way
//! (`NotImplementedError`), and neither has cloudboot.

use super::{Distro, DistroError};

impl Distro {
    /// The commands that set the keyboard layout, in order.
    pub fn set_keymap(
        &self,
        layout: &str,
        model: &str,
        variant: &str,
        options: &str,
    ) -> Result<Vec<Vec<String>>, DistroError> {
        if !self.uses_systemd() {
            return Err(DistroError::NoKeymapWithoutSystemd);
        }
        let mut commands = vec![[
            "localectl",
            "set-x11-keymap",
            layout,
            model,
            variant,
            options,
        ]
        .map(String::from)
        .to_vec()];
        if matches!(self.osfamily(), Ok("debian")) {
            commands.push(self.manage_service("restart", "console-setup"));
        }
        Ok(commands)
    }
}
