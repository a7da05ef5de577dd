//! phone_home (`cc_phone_home`): once per instance, in the final stage,
//! POSTs the instance id, host names and SSH host public keys to a URL, so
//! whoever launched the machine learns it is up (and can pin its host keys).
//!
//! ```yaml
//! phone_home:
//!   url: http://example.com/$INSTANCE_ID/   # required
//!   post: all          # or a list of: pub_key_dsa, pub_key_rsa,
//!                      # pub_key_ecdsa, pub_key_ed25519, instance_id,
//!                      # hostname, fqdn
//!   tries: 10
//! ```
//!
//! What cloud-init 22.4 does, and so this module:
//! - The body is form-encoded (`application/x-www-form-urlencoded`, Python's
//!   `quote_plus`), keys in the order `post` lists them (`all`: the order
//!   above). A value that cannot be had is `N/A`; a `post` key that is not
//!   one of those is warned about ("Requested key ... not available") and
//!   sent as `N/A`. A `post` string other than `all` is iterated character
//!   by character, as Python iterates it.
//! - The keys are the target root's `/etc/ssh/ssh_host_{dsa,rsa,ecdsa,
//!   ed25519}_key.pub`, read whole (trailing newline included). Each one
//!   that cannot be read is warned about, whether or not `post` wants it
//!   (so 22.4 warns about the DSA key on every modern image, and so do we).
//! - `hostname` and `fqdn` are the datasource's `get_hostname()` and
//!   `get_hostname(fqdn=True)` (meta-data `local-hostname`, else the
//!   machine's name and `/etc/hosts`), not the `hostname:`/`fqdn:` config
//!   keys: cc_phone_home calls `cloud.get_hostname()`, not
//!   `util.get_hostname_fqdn`. [`crate::distro::Distro::datasource_hostname`] is
//!   that function.
//! - `$INSTANCE_ID` / `${INSTANCE_ID}` in the URL go through cloud-init's
//!   templater (`render_string`): any other `$name` is a `KeyError` and a
//!   dotted one (`$INSTANCE_ID.json`) a `TypeError`, both failing the module
//!   as they fail 22.4's (write `${INSTANCE_ID}.json`). A `## template:
//!   jinja` first line renders `{{ INSTANCE_ID }}` instead.
//! - `tries` goes through Python's `int()`; anything it refuses (text that is
//!   not a number, a list, and also a missing `tries`, since 22.4 calls
//!   `int(None)`) is replaced by 10 with the warning "Configuration entry
//!   'tries' is not an integer, using 10 instead". Fewer than 1 means 1.
//!   Attempts are 3 seconds apart; an answer of 400 or more is a failure.
//! - When every attempt fails: the warning "Failed to post phone home data to
//!   URL in N tries", and the module still succeeds (`util.logexc`).
//! - No `url`: the warning "Skipping module named phone_home, no 'url' found
//!   in 'phone_home' configuration", and the module succeeds doing nothing.
//! - A URL that is a path or `file://` is not posted to: "Unable to post data
//!   to file resource ..." (and the failure warning when it does not exist).
//! - An empty `post` list sends a GET without a body (`readurl` posts only
//!   when there is data).
//! - The module's first argument (`[phone_home, once-per-instance, FILE]` in
//!   a module list) names a YAML file in the root read as the configuration
//!   instead of the `phone_home` key, as `util.read_conf(args[0])`.
//!
//! The request is an [`Effect::Http`]: a `plan` shows it (`POST <url>` and
//! the field names; the values are public, and in `--format json`) and sends
//! nothing. A live run sends it, against a scratch `--root` too, as the
//! datasources fetch metadata there: the URL is the user's own choice, and
//! the boot of a test root is how one checks it.
//!
//! Deliberate differences:
//! - Each attempt is bounded (5 s to connect, 20 s in all; 22.4's `readurl`
//!   has no timeout here and could hang on a server that never answers).
//! - `https://` URLs fail: cloudboot's HTTP client has no TLS yet. Such a URL
//!   (or one with a bad port) is not retried, since every try would fail the
//!   same way at once; the failure warning is the same. The SSL client
//!   certificate of `/var/lib/cloud/data/ssl` is therefore not used.
//! - The User-Agent is cloudboot's, not `Cloud-Init/22.4`. Redirects repeat
//!   the POST (requests turns a POST into a GET on 301/302/303).
//! - `phone_home` that is not a mapping, and `post` items that are not
//!   strings, fail the module with a type error naming the key (cloudboot's
//!   schema check); 22.4 warns about the schema and then mostly crashes on
//!   them anyway.

use std::path::Path;
use std::time::Duration;

use crate::module::prelude::*;

pub struct PhoneHome;

/// cloud-init 22.4's `POST_LIST_ALL`, in its order (DSA is still there).
const POST_LIST_ALL: &[&str] = &[
    "pub_key_dsa",
    "pub_key_rsa",
    "pub_key_ecdsa",
    "pub_key_ed25519",
    "instance_id",
    "hostname",
    "fqdn",
];

/// The key files, in cloud-init's order.
const PUBKEYS: &[(&str, &str)] = &[
    ("pub_key_dsa", "/etc/ssh/ssh_host_dsa_key.pub"),
    ("pub_key_rsa", "/etc/ssh/ssh_host_rsa_key.pub"),
    ("pub_key_ecdsa", "/etc/ssh/ssh_host_ecdsa_key.pub"),
    ("pub_key_ed25519", "/etc/ssh/ssh_host_ed25519_key.pub"),
];

const DEFAULT_TRIES: i64 = 10;

/// cloud-init's `sec_between=3`.
const RETRY_DELAY: Duration = Duration::from_secs(3);

static FIELDS: &[Field] = &[
    Field::req("url", Ty::Strict(&Ty::Str, Rule::Check(uri_format))),
    Field::opt(
        "post",
        Ty::Strict(
            &Ty::OneOf(&[
                Ty::Enum(&["all"]),
                Ty::List(&Ty::Strict(
                    &Ty::Enum(POST_LIST_ALL),
                    Rule::OneOfStrs(POST_LIST_ALL),
                )),
            ]),
            Rule::OneOf,
        ),
    ),
    // Whatever it is, the module copes (int() or the default of 10); 22.4's
    // schema says integer.
    Field::opt("tries", Ty::Strict(&Ty::Any, Rule::As(&Ty::Int))),
];

static INFO: ModuleInfo = ModuleInfo {
    name: "phone_home",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &["phone_home"],
    keys: &["phone_home"],
    schema: &[Field::opt("phone_home", Ty::Map(FIELDS))],
    summary: "post the instance id, host names and SSH host keys to a URL",
};

impl Module for PhoneHome {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        let name = ctx.name;
        let ph_cfg = match ctx.args.first() {
            Some(file) => match read_conf(ctx, file) {
                Ok(v) => v,
                Err(e) => {
                    out.error(e);
                    return out;
                }
            },
            None => match ctx.cfg.get("phone_home") {
                Some(v) => v.clone(),
                None => {
                    out.note(format!(
                        "Skipping module named {name}, no 'phone_home' configuration found"
                    ));
                    return out;
                }
            },
        };
        let Some(ph) = ph_cfg.as_map() else {
            out.error(format!(
                "phone_home: expected a mapping, found {} ({})",
                ph_cfg.type_name(),
                ph_cfg.python_str()
            ));
            return out;
        };
        let Some(url_v) = ph.get("url") else {
            let msg = format!(
                "Skipping module named {name}, no 'url' found in 'phone_home' configuration"
            );
            out.warn(msg);
            return out;
        };
        let Value::Str(url) = url_v else {
            out.error(format!(
                "phone_home.url: expected a string, found {} ({})",
                url_v.type_name(),
                url_v.python_str()
            ));
            return out;
        };
        let post_list = match post_list(ph.get("post")) {
            Ok(l) => l,
            Err(e) => {
                out.error(format!("phone_home.post: {e}"));
                return out;
            }
        };
        let tries = match py::int::from_value(ph.get("tries").unwrap_or(&Value::Null)) {
            Ok(Some(t)) => t,
            Ok(None) => {
                tracing::warn!(
                    "Configuration entry 'tries' is not an integer, using {DEFAULT_TRIES} instead"
                );
                DEFAULT_TRIES
            }
            Err(e) => {
                out.error(format!("phone_home.tries: {e}"));
                return out;
            }
        };

        let iid = ctx.iid().to_string();
        let mut all_keys: Vec<(&str, String)> = vec![("instance_id", iid.clone())];
        let (hostname, _) = ctx
            .distro
            .datasource_hostname(ctx.instance, ctx.fs, false, false);
        let (fqdn, _) = ctx
            .distro
            .datasource_hostname(ctx.instance, ctx.fs, true, false);
        all_keys.extend(hostname.map(|h| ("hostname", h)));
        all_keys.extend(fqdn.map(|h| ("fqdn", h)));
        for (key, path) in PUBKEYS {
            match ctx
                .fs
                .read(Path::new(path))
                .map_err(|e| e.to_string())
                .and_then(|b| String::from_utf8(b).map_err(|e| e.to_string()))
            {
                Ok(text) => all_keys.push((key, text)),
                Err(e) => {
                    tracing::warn!("{path}: failed to open, can not phone home that data!");
                    tracing::debug!("{path}: {e}");
                }
            }
        }

        // A dict in Python: the first occurrence of a key keeps its place.
        let mut submit: Vec<(String, String)> = Vec::new();
        for k in post_list {
            let value = match all_keys.iter().find(|(n, _)| *n == k) {
                Some((_, v)) => v.clone(),
                None => {
                    tracing::warn!(
                        "Requested key {k} from 'post' configuration list not available"
                    );
                    "N/A".to_string()
                }
            };
            if !submit.iter().any(|(n, _)| *n == k) {
                submit.push((k, value));
            }
        }

        let url = match render_string(url, &iid) {
            Ok(u) => u,
            Err(e) => {
                out.error(format!("phone_home.url: cannot render '{url}': {e}"));
                return out;
            }
        };
        let failure = format!("Failed to post phone home data to {url} in {tries} tries");

        // read_file_or_url: a path or file:// URL is read, not posted to.
        let local = url.trim_start();
        let local = if local.starts_with('/') {
            Some(format!("file://{local}"))
        } else if local.to_ascii_lowercase().starts_with("file://") {
            Some(local.to_string())
        } else {
            None
        };
        if let Some(file_url) = local {
            if !submit.is_empty() {
                tracing::warn!("Unable to post data to file resource {file_url}");
            }
            let path = &file_url["file://".len()..];
            if ctx.fs.read(Path::new(path)).is_err() {
                tracing::warn!("{failure}");
                out.notes.push(failure);
            }
            return out;
        }

        let body = form_encode(&submit);
        let (method, headers, body) = if body.is_empty() {
            ("GET", Vec::new(), None)
        } else {
            (
                "POST",
                vec![(
                    "Content-Type".to_string(),
                    "application/x-www-form-urlencoded".to_string(),
                )],
                // Host keys (public), names and the instance id: nothing secret.
                Some(Data::public(body)),
            )
        };
        out.effects.push(Effect::Http(HttpRequest {
            method: method.into(),
            // read_file_or_url strips leading whitespace before readurl.
            url: clean_url(url.trim_start()),
            headers,
            body,
            tries: tries.clamp(1, u32::MAX as i64) as u32,
            retry_delay: RETRY_DELAY,
            failure,
            on_failure: OnFailure::Ignore,
            save_to: None,
        }));
        out
    }
}

/// `util.read_conf(fname)`: a YAML mapping from a file in the root; a
/// missing file is an empty mapping. The error is about the file (its
/// key is the file's path).
fn read_conf(ctx: &Context, file: &str) -> Result<Value, ConfigError> {
    let bytes = match ctx.fs.read(Path::new(file)) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Value::empty_map()),
        Err(e) => return Err(ConfigError::new(file, format!("reading {file}: {e}"))),
    };
    let v = yaml::load(&bytes, file).map_err(|e| ConfigError::new(file, e.to_string()))?;
    Ok(if v.is_null() { Value::empty_map() } else { v })
}

/// `ph_cfg.get("post", "all")`, iterated as Python iterates it.
fn post_list(v: Option<&Value>) -> Result<Vec<String>, ConfigError> {
    let error = |message: String| ConfigError::new("phone_home.post", message);
    let hashable = |v: &Value| match v {
        Value::Seq(_) | Value::Map(_) => {
            Err(error(format!("unhashable type: '{}'", v.type_name())))
        }
        other => Ok(other.python_str()),
    };
    match v {
        None => Ok(POST_LIST_ALL.iter().map(|s| s.to_string()).collect()),
        Some(Value::Str(s)) if s == "all" => {
            Ok(POST_LIST_ALL.iter().map(|s| s.to_string()).collect())
        }
        Some(Value::Str(s)) => Ok(s.chars().map(String::from).collect()),
        Some(Value::Seq(items)) => items.iter().map(hashable).collect(),
        Some(Value::Map(m)) => m.iter().map(|(k, _)| hashable(k)).collect(),
        Some(other) => Err(error(format!(
            "'{}' object is not iterable",
            other.type_name()
        ))),
    }
}

/// `templater.render_string(url, {"INSTANCE_ID": iid})`.
fn render_string(text: &str, iid: &str) -> Result<String, ConfigError> {
    use templater::Kind;
    let (kind, body, _) = templater::detect(text)
        .map_err(|e| ConfigError::new("phone_home.url", format!("ValueError: {e}")))?;
    match kind {
        Kind::Jinja => {
            let vars = serde_json::json!({ "INSTANCE_ID": iid });
            Ok(jinja::render(body, &vars).map(|(s, _)| s)?)
        }
        Kind::Basic => templater::basic_render(body, |name| lookup(name, iid)),
    }
}

/// `basic_render`'s `replacer` over `{"INSTANCE_ID": iid}`.
fn lookup(name: &str, iid: &str) -> Result<String, ConfigError> {
    let path: Vec<&str> = name.split('.').collect();
    let error = |what: String| ConfigError::new("phone_home.url", what);
    let key_error = |k: &str| error(format!("KeyError: '{k}'"));
    let (last, walk) = path.split_last().unwrap_or((&"", &[]));
    // The only value is a string, so any walk ends in a TypeError.
    let mut selected: Option<&str> = None; // None: still the params dict
    for key in walk {
        match selected {
            None if *key == "INSTANCE_ID" => selected = Some(iid),
            None => return Err(key_error(key)),
            Some(v) => {
                return Err(error(format!(
                    "TypeError: Can not traverse into non-dictionary '{v}' of type str while looking for subkey '{key}'"
                )))
            }
        }
    }
    match selected {
        None if *last == "INSTANCE_ID" => Ok(iid.to_string()),
        None => Err(key_error(last)),
        Some(v) => Err(error(format!(
            "TypeError: Can not extract key '{last}' from non-dictionary '{v}' of type str"
        ))),
    }
}

/// `url_helper._cleanurl`: a URL without a scheme (`example.com/x`) is taken
/// as `http://example.com/x`.
fn clean_url(url: &str) -> String {
    // urlparse finds a scheme before the first ':' when it is made of
    // letters, digits, '+', '-' and '.', starting with a letter.
    let has_scheme = url.split_once(':').is_some_and(|(s, _)| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if has_scheme {
        url.to_string()
    } else if let Some(rest) = url.strip_prefix("//") {
        format!("http://{rest}")
    } else if !url.is_empty() {
        format!("http://{url}")
    } else {
        url.to_string()
    }
}

/// `urllib.parse.urlencode` of the pairs (what requests does with a dict):
/// `quote_plus` with nothing but `A-Za-z0-9_.-~` left as it is.
fn form_encode(pairs: &[(String, String)]) -> String {
    fn quote_plus(s: &str, out: &mut String) {
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                    out.push(b as char)
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        quote_plus(k, &mut out);
        out.push('=');
        quote_plus(v, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_is_quote_plus() {
        let pairs = vec![
            (
                "pub_key_rsa".to_string(),
                "ssh-rsa AAAA+/b= root@h\n".to_string(),
            ),
            ("fqdn".to_string(), "h.example.com".to_string()),
            ("x".to_string(), "a~b_c-d&e=é".to_string()),
        ];
        assert_eq!(
            form_encode(&pairs),
            "pub_key_rsa=ssh-rsa+AAAA%2B%2Fb%3D+root%40h%0A&fqdn=h.example.com&x=a~b_c-d%26e%3D%C3%A9"
        );
        assert_eq!(form_encode(&[]), "");
    }

    #[test]
    fn url_templates_as_cloud_init_renders_them() {
        let r = |t: &str| render_string(t, "i-123");
        assert_eq!(r("http://h/$INSTANCE_ID/").unwrap(), "http://h/i-123/");
        assert_eq!(
            r("http://h/${INSTANCE_ID}.json").unwrap(),
            "http://h/i-123.json"
        );
        assert_eq!(
            r("http://h/x?id=$INSTANCE_ID&a=1").unwrap(),
            "http://h/x?id=i-123&a=1"
        );
        // Not a template: a lone `$`, `${` without its brace.
        assert_eq!(r("http://h/$/a$").unwrap(), "http://h/$/a$");
        assert_eq!(
            r("http://h/${INSTANCE_ID").unwrap(),
            "http://h/${INSTANCE_ID"
        );
        assert_eq!(
            r("http://h/$INSTANCE_ID.json").unwrap_err(),
            "TypeError: Can not extract key 'json' from non-dictionary 'i-123' of type str"
        );
        assert_eq!(r("http://h/$iid").unwrap_err(), "KeyError: 'iid'");
        assert_eq!(r("http://h/$a.b").unwrap_err(), "KeyError: 'a'");
        assert!(r("http://h/$INSTANCE_ID.a.b")
            .unwrap_err()
            .message
            .starts_with("TypeError: Can not traverse into non-dictionary 'i-123'"));
        assert_eq!(
            r("## template: jinja\nhttp://h/{{ INSTANCE_ID }}/").unwrap(),
            "http://h/i-123/"
        );
        assert_eq!(
            r("## template: basic\nhttp://h/$INSTANCE_ID").unwrap(),
            "http://h/i-123"
        );
        assert!(r("## template: mako\nx")
            .unwrap_err()
            .message
            .contains("Unknown template"));
    }

    #[test]
    fn post_lists_iterate_as_python_does() {
        let all: Vec<String> = POST_LIST_ALL.iter().map(|s| s.to_string()).collect();
        assert_eq!(post_list(None).unwrap(), all);
        assert_eq!(post_list(Some(&Value::str("all"))).unwrap(), all);
        assert_eq!(post_list(Some(&Value::str("fq"))).unwrap(), vec!["f", "q"]);
        assert_eq!(
            post_list(Some(&Value::Seq(vec![Value::str("fqdn"), Value::Int(1)]))).unwrap(),
            vec!["fqdn", "1"]
        );
        assert_eq!(
            post_list(Some(&Value::Int(3))).unwrap_err(),
            "'int' object is not iterable"
        );
    }

    /// A loopback server answering `statuses` in turn; counts requests.
    fn server(statuses: Vec<u16>) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/p", l.local_addr().unwrap());
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = count.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut s) = conn else { continue };
                let n = c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                // The whole request (head and Content-Length body): closing
                // with unread bytes resets the connection before the client
                // reads the answer.
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let head_end = got.windows(4).position(|w| w == b"\r\n\r\n");
                    if let Some(end) = head_end {
                        let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                        let body_len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if got.len() >= end + 4 + body_len {
                            break;
                        }
                    }
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => got.extend_from_slice(&buf[..k]),
                    }
                }
                let status = statuses.get(n).or(statuses.last()).copied().unwrap_or(200);
                let _ = s.write_all(
                    format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n").as_bytes(),
                );
            }
        });
        (url, count)
    }

    fn post(url: &str, tries: u32) -> Effect {
        Effect::Http(HttpRequest {
            method: "POST".into(),
            url: url.into(),
            headers: vec![(
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            )],
            body: Some(Data::public("instance_id=i-1&fqdn=h.example")),
            tries,
            retry_delay: Duration::from_millis(10),
            failure: format!("Failed to post phone home data to {url} in {tries} tries"),
            on_failure: OnFailure::Ignore,
            save_to: None,
        })
    }

    #[test]
    fn live_requests_retry_and_a_failure_does_not_count_as_an_error() {
        use crate::target::{apply_all, LiveTarget, Outcome};
        let tmp = tempfile::tempdir().unwrap();
        let root = crate::rootfs::Root::new(tmp.path());
        let mut t = LiveTarget::new(root.clone(), crate::exec::Runner::new(root, None, false));
        let (url, count) = server(vec![500, 503, 200]);
        let applied = apply_all(&mut t, &[post(&url, 3)]);
        assert_eq!(applied.records[0].outcome, Outcome::Done);
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 3);
        // Always 404: every try fails; warned, recorded, not an error.
        let (url, count) = server(vec![404]);
        let applied = apply_all(&mut t, &[post(&url, 2)]);
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(
            applied.records[0].outcome,
            Outcome::Failed(format!(
                "Failed to post phone home data to {url} in 2 tries"
            ))
        );
        assert!(applied.records[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("404"));
        assert!(applied.errors.is_empty());
        // https cannot be fetched at all: one attempt, no waiting.
        let start = std::time::Instant::now();
        let mut slow = post("https://example.invalid/", 5);
        if let Effect::Http(r) = &mut slow {
            r.retry_delay = Duration::from_secs(3);
        }
        let applied = apply_all(&mut t, &[slow]);
        assert!(matches!(applied.records[0].outcome, Outcome::Failed(_)));
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn plans_record_requests_and_send_nothing() {
        use crate::target::{Outcome, Target};
        let tmp = tempfile::tempdir().unwrap();
        let mut t = crate::plan::PlanTarget::new(crate::rootfs::Root::new(tmp.path()));
        let (url, count) = server(vec![200]);
        let r = t.apply(&post(&url, 10));
        assert_eq!(r.outcome, Outcome::Planned);
        assert_eq!(
            r.summary,
            format!("http POST {url} (form: instance_id, fqdn; 10 tries, 0.01s apart)")
        );
        assert_eq!(r.json["body"], "instance_id=i-1&fqdn=h.example");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[test]
    fn urls_without_a_scheme_get_http() {
        assert_eq!(clean_url("example.com/x"), "http://example.com/x");
        assert_eq!(clean_url("//example.com/x"), "http://example.com/x");
        assert_eq!(clean_url("http://example.com/x"), "http://example.com/x");
        assert_eq!(clean_url("https://e.com"), "https://e.com");
    }
}
