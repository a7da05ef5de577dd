//! The one-line check for user and group fields that modules write into
//! line-oriented files or give a program as one argument.

use crate::module::prelude::ConfigError;

/// Checks a user or group field that cloudboot writes into a line-oriented
/// file (`/etc/sudoers.d`, chpasswd's input, `authorized_keys`) or gives a
/// program as one argument (useradd, groupadd): a newline or carriage return
/// would add a line there (another sudo rule, another user's password,
/// another key), and a NUL would cut it short. cloud-init 22.4 writes such
/// values as they are; cloudboot refuses them. `field` names the value and
/// `place` where it goes; the error quotes neither the value nor anything
/// around it (it may be a password).
pub fn one_line(field: &str, value: &str, place: &str) -> Result<(), ConfigError> {
    let breaker = value.chars().find_map(|c| match c {
        '\n' => Some("a newline"),
        '\r' => Some("a carriage return"),
        '\0' => Some("a NUL character"),
        _ => None,
    });
    match breaker {
        None => Ok(()),
        Some(what) => Err(ConfigError::new(
            field,
            format!("{field} has {what}: it must be one line in {place}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_and_nul_are_refused_without_quoting_the_value() {
        assert_eq!(one_line("sudo", "ALL=(ALL) ALL", "x"), Ok(()));
        for (value, what) in [
            ("ALL\nmallory ALL=(ALL) ALL", "a newline"),
            ("pw\rroot", "a carriage return"),
            ("pw\0rest", "a NUL character"),
        ] {
            let e = one_line("password", value, "chpasswd's input").unwrap_err();
            assert_eq!(
                e,
                format!("password has {what}: it must be one line in chpasswd's input")
            );
        }
    }
}
