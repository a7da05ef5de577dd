//! The password server of CloudStack's virtual router, which Exoscale
//! runs too: asked over HTTP with `DomU_Request: send_my_password`, it
//! answers the instance's new password (or that there is none), which is
//! then acknowledged with `DomU_Request: saved_password` so it is handed
//! out once. The password becomes the datasource's config, as 22.4's
//! `get_config_obj` gives it; it is never put in a message.

use super::service::{Client, Miss};
use super::DsError;
use crate::value::{Mapping, Value};

/// How a CloudStack-style password server's answer to
/// `send_my_password` is read: whether it is stripped first (CloudStack
/// reads it through wget and strips it; Exoscale does not), which answers
/// mean no password, which ones are a refusal.
pub(super) struct PasswordAnswers<'a> {
    pub strip: bool,
    pub nothing: &'a [&'a str],
    pub refused: &'a [&'a str],
}

/// Asks a CloudStack-style password server (`DomU_Request:
/// send_my_password`) at `path` and acknowledges a password it gives
/// (`DomU_Request: saved_password`), so it is handed out once. `Ok(None)`:
/// no password to set. The password is never put in a message. A plan
/// (`planning`) asks but does not acknowledge: the server keeps the
/// password for the real boot.
pub(super) fn ask_password_server(
    client: &Client,
    path: &str,
    answers: &PasswordAnswers,
    planning: bool,
) -> Result<Option<String>, DsError> {
    let ask = |request: &str| match client.request("GET", path, &[("DomU_Request", request)]) {
        Ok(r) if r.ok() => Ok(r.body),
        Ok(r) => Err(DsError::HttpStatus {
            url: client.url(path),
            status: r.status,
        }),
        Err(Miss::NotFound) => Err(DsError::HttpStatus {
            url: client.url(path),
            status: 404,
        }),
        Err(Miss::Failed(e)) => Err(DsError::Service(e)),
    };
    let body = ask("send_my_password")?;
    let mut password = String::from_utf8(body).map_err(|_| {
        DsError::Service(format!(
            "{}: the password server's answer is not UTF-8",
            client.url(path)
        ))
    })?;
    if answers.strip {
        password = password.trim().to_string();
    }
    if answers.nothing.contains(&password.as_str()) {
        return Ok(None);
    }
    if answers.refused.contains(&password.as_str()) {
        return Err(DsError::Service(format!(
            "{}: the password server answered {password:?}: Error when attempting to fetch root password.",
            client.url(path)
        )));
    }
    if !planning {
        ask("saved_password")?;
    }
    Ok(Some(password))
}

/// The config a password server's password becomes (22.4's
/// `password_config`, Exoscale's and CloudStack's alike).
pub(super) fn password_config(password: String) -> Value {
    let mut chpasswd = Mapping::new();
    chpasswd.insert(Value::str("expire"), Value::Bool(false));
    let mut cfg = Mapping::new();
    cfg.insert(Value::str("ssh_pwauth"), Value::Bool(true));
    cfg.insert(Value::str("password"), Value::str(password));
    cfg.insert(Value::str("chpasswd"), Value::Map(chpasswd));
    Value::Map(cfg)
}
