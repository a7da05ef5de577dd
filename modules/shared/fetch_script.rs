//! 22.4's install scripts fetched and run (cc_puppet's aio install,
//! cc_chef's omnibus install): `url_helper.readurl(url, retries)`, the
//! body written 0700 into a temporary directory under
//! `distro.get_tmp_exec_path()`, run, and removed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::module::prelude::*;

/// `distro.get_tmp_exec_path()` where `/var/tmp` may run programs.
const TMP_EXEC_DIR: &str = "/var/tmp/cloud-init";

/// `url_helper.readurl(url, retries)` into a private script (0700) under
/// the distro's exec-capable temporary directory, run with `args`, then
/// removed (22.4's `temp_utils.tempdir`).
pub fn fetch_and_run(
    ctx: &Context,
    url: &str,
    tries: u32,
    basename: &str,
    args: Vec<String>,
) -> Vec<Effect> {
    let script = PathBuf::from(format!("{TMP_EXEC_DIR}/{basename}.{}", ctx.run_id));
    let mut effects = Vec::new();
    if !ctx.fs.is_dir(Path::new(TMP_EXEC_DIR)) {
        // `_tempfile_dir_arg`: made 1777 when it is made.
        effects.push(Effect::Mkdir {
            path: TMP_EXEC_DIR.into(),
            mode: 0o1777,
        });
    }
    effects.push(Effect::Http(HttpRequest {
        method: "GET".into(),
        url: url.to_string(),
        headers: Vec::new(),
        body: None,
        tries: tries.max(1),
        retry_delay: Duration::from_secs(1),
        failure: format!("Failed to fetch {url}"),
        on_failure: OnFailure::Fatal,
        save_to: Some((script.clone(), 0o700)),
    }));
    let mut argv = vec![script.display().to_string()];
    argv.extend(args);
    effects.push(Effect::Run(Command::new(argv)));
    effects.push(Effect::Remove { path: script });
    effects
}
