//! Any bytes as NoCloud meta-data in the seed directory, and as the kernel
//! command line: found by the local stage's NoCloud as a boot finds it
//! (merging, `seedfrom`, dsmode, public keys), then made into the cache file
//! and instance data, and the cache read back. The root is in memory; the
//! local stage only follows `file://` and `/` seeds, so nothing is fetched.
//! Hostile input must never panic, hang or blow up; bad input is a problem.
#![no_main]

use cloudboot::datasource::{load_cache, Datasource, DsContext, NoCloud};
use cloudboot::paths::Paths;
use cloudboot::rootfs::Root;
use cloudboot::schedule::Stage;
use cloudboot::value::Value;
use libfuzzer_sys::fuzz_target;

#[path = "shared/memfs.rs"]
mod memfs;
use memfs::MemFs;

fuzz_target!(|data: &[u8]| {
    let as_meta_data = [
        ("/var/lib/cloud/seed/nocloud/meta-data", data),
        ("/var/lib/cloud/seed/nocloud/user-data", &b"#cloud-config\n"[..]),
        ("/srv/seed/meta-data", b"instance-id: from-seedfrom\nlocal-hostname: h\n"),
        ("/srv/seed/user-data", b""),
    ];
    let as_cmdline = [
        ("/proc/cmdline", data),
        ("/srv/seed/meta-data", &b"instance-id: from-seedfrom\n"[..]),
        ("/srv/seed/user-data", b""),
    ];
    for files in [&as_meta_data[..], &as_cmdline[..]] {
        let mut fs = MemFs::with(files);
        let paths = Paths::default();
        let root = Root::new("/nonexistent-cloudboot-fuzz-root");
        let cfg = Value::empty_map();
        let ctx = DsContext::new(&fs, &root, &paths, &cfg, Stage::Local);
        let found = NoCloud.get(&ctx);
        let _ = NoCloud.check_instance_id(&ctx, "i-fuzz");
        let Some(instance) = found.instance else {
            continue;
        };
        let distro = cloudboot::distro::OsRelease::read(&fs);
        let _ = cloudboot::instance_data::build(&instance, &cfg, &distro);
        let cache = instance.to_cache_json();
        fs.files.insert(
            paths.instance_link().join(cloudboot::paths::DATASOURCE_CACHE),
            cache,
        );
        let _ = load_cache(&fs, &paths);
    }
});
