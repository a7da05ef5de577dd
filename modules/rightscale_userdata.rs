//! rightscale_userdata (`cc_rightscale_userdata`): once per instance, in
//! the final stage before the scripts, reads the raw user-data as a URL
//! query string (`urllib.parse.parse_qs`); each `CLOUD_INIT_REMOTE_HOOK`
//! value is a URL whose body is saved as
//! `/var/lib/cloud/instance/scripts/rightscale-NN` (mode 0700), for
//! scripts_user to run. A URL that fails is logged; the others are still
//! fetched, and the module then fails, as 22.4 re-raises the last error.
//!
//! What 22.4 really does: the raw user-data is the datasource's bytes on
//! every datasource but `None` (whose `userdata_raw` comes from the config
//! as text), and `parse_qs` of bytes gives bytes keys, which never equal
//! the text `CLOUD_INIT_REMOTE_HOOK`. So the hook is only ever followed for
//! the None datasource's config text, and cloudboot does exactly that:
//! elsewhere it logs 22.4's "did not find" message, and fetches nothing.

use crate::module::prelude::*;

pub struct RightscaleUserdata;

/// 22.4's `MY_HOOKNAME`.
const HOOK: &str = "CLOUD_INIT_REMOTE_HOOK";

static INFO: ModuleInfo = ModuleInfo {
    name: "rightscale_userdata",
    aliases: &[],
    frequency: Frequency::Instance,
    activate_by: &[],
    keys: &[],
    schema: &[],
    summary: "fetch the scripts a RightScale CLOUD_INIT_REMOTE_HOOK user-data names",
};

impl Module for RightscaleUserdata {
    fn info(&self) -> &'static ModuleInfo {
        &INFO
    }

    fn plan(&self, ctx: &Context) -> ModuleOutput {
        let mut out = ModuleOutput::default();
        // Text only from the None datasource (see the header).
        let text = match &ctx.instance.user_data {
            Some(raw) if ctx.instance.dsname == "None" => String::from_utf8_lossy(raw).into_owned(),
            _ => String::new(),
        };
        let urls: Vec<String> = py::url::parse_qsl(&text)
            .into_iter()
            .filter(|(k, _)| k == HOOK)
            .map(|(_, v)| v)
            .collect();
        if urls.is_empty() {
            out.note(format!(
                "Skipping module {}, did not find {HOOK} in parsed raw userdata",
                ctx.name
            ));
            return out;
        }
        let scripts = ctx.paths.ipath(&ctx.instance.instance_id, "scripts");
        for (i, url) in urls.into_iter().enumerate() {
            let file = scripts.join(format!("rightscale-{i:02}"));
            out.effects.push(Effect::Http(HttpRequest {
                method: "GET".into(),
                failure: format!(
                    "cc_rightscale_userdata failed to read {url} and write {}",
                    file.display()
                ),
                url,
                headers: Vec::new(),
                body: None,
                tries: 1,
                retry_delay: std::time::Duration::ZERO,
                on_failure: OnFailure::Report,
                save_to: Some((file, 0o700)),
            }));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none_ds(user_data: &str) -> Kit {
        let ud = user_data.as_bytes().to_vec();
        Kit::debian12().instance(move |i| {
            i.dsname = "None".into();
            i.user_data = Some(ud);
        })
    }

    #[test]
    fn each_hook_url_is_fetched_to_a_script() {
        let p = none_ds("CLOUD_INIT_REMOTE_HOOK=http%3A%2F%2F127.0.0.1%2Fa&x=1&CLOUD_INIT_REMOTE_HOOK=http://127.0.0.1/b")
            .plan(&RightscaleUserdata);
        let got: Vec<_> = p
            .effects()
            .iter()
            .map(|e| match e {
                Effect::Http(r) => (r.url.clone(), r.save_to.clone().unwrap()),
                other => panic!("{other:?}"),
            })
            .collect();
        let dir = "/var/lib/cloud/instances/iid-kit/scripts";
        assert_eq!(
            got,
            [
                (
                    "http://127.0.0.1/a".to_string(),
                    (format!("{dir}/rightscale-00").into(), 0o700)
                ),
                (
                    "http://127.0.0.1/b".to_string(),
                    (format!("{dir}/rightscale-01").into(), 0o700)
                ),
            ]
        );
    }

    #[test]
    fn user_data_bytes_never_match_as_in_22_4() {
        let p = Kit::debian12()
            .instance(|i| i.user_data = Some(b"CLOUD_INIT_REMOTE_HOOK=http://127.0.0.1/a".to_vec()))
            .plan(&RightscaleUserdata);
        assert!(p.effects().is_empty());
        assert_eq!(
            p.notes(),
            ["Skipping module rightscale_userdata, did not find CLOUD_INIT_REMOTE_HOOK in parsed raw userdata"]
        );
    }
}
