//! Whole boots showing how configuration sources merge, as cloud-init 22.4
//! merges them (the expected results were checked against cloud-init's own
//! code; see tests/fixtures/merge for the case-by-case parity table).

mod common;

use common::*;

const IDIR: &str = "/var/lib/cloud/instances/iid-test-1";

fn runcmd_script(m: &Machine) -> String {
    m.read(&format!("{IDIR}/scripts/runcmd"))
}

#[test]
fn user_data_lists_replace_cloud_cfg_d_lists() {
    let m = Machine::seeded(
        META,
        "#cloud-config\nruncmd: [echo from-user]\nwrite_files: [{path: /etc/from-user, content: u}]\n",
    );
    m.write(
        "/etc/cloud/cloud.cfg.d/50_site.cfg",
        "runcmd: [echo from-cfg-d]\nwrite_files: [{path: /etc/from-cfg-d, content: c}]\n",
    );
    m.boot();
    // The higher source's list is kept whole: no concatenation.
    assert_eq!(runcmd_script(&m), "#!/bin/sh\necho from-user\n");
    assert_eq!(m.read("/etc/from-user"), "u");
    assert!(!m.exists("/etc/from-cfg-d"));
}

#[test]
fn a_part_merge_how_is_used_up_by_the_part_handler() {
    // cloud-init's CloudConfigPartHandler pops `merge_how` from the part and
    // uses it to merge the part into the *earlier user-data parts* only.
    // cloud-config.txt no longer has it, so when ConfigMerger layers the
    // user's config over cloud.cfg.d (util.mergemanydict, default mergers)
    // the user's list still replaces the system one.
    let m = Machine::seeded(
        META,
        "#cloud-config\nmerge_how: 'list(append)+dict(recurse_array)+str()'\nruncmd: [echo from-user]\n",
    );
    m.write(
        "/etc/cloud/cloud.cfg.d/50_site.cfg",
        "runcmd: [echo from-cfg-d]\n",
    );
    m.boot();
    assert_eq!(runcmd_script(&m), "#!/bin/sh\necho from-user\n");
    let cc = m.read(&format!("{IDIR}/cloud-config.txt"));
    assert!(!cc.contains("merge_how"), "{cc}");
    assert!(cc.contains("runcmd"), "{cc}");
}

#[test]
fn a_cloud_cfg_d_file_merge_how_appends_to_the_files_above_it() {
    // Between config files, a file's own merge_how says how *it* is merged
    // into the higher-priority files: 10_low.cfg appends its runcmd after
    // that of 90_high.cfg. User-data without runcmd leaves the result alone.
    let m = Machine::seeded(
        META,
        "#cloud-config\nwrite_files: [{path: /etc/marker, content: m}]\n",
    );
    m.write(
        "/etc/cloud/cloud.cfg.d/10_low.cfg",
        "merge_how: 'list(append)+dict(recurse_array)+str()'\nruncmd:\n  - echo low > /var/tmp/low\n",
    );
    m.write(
        "/etc/cloud/cloud.cfg.d/90_high.cfg",
        "runcmd:\n  - echo high > /var/tmp/high\n",
    );
    let chroot = skip::require_for("runcmd's lines run, in that order", skip::CHROOT);
    if chroot {
        m.install_busybox();
    }
    m.boot();
    assert_eq!(
        runcmd_script(&m),
        "#!/bin/sh\necho high > /var/tmp/high\necho low > /var/tmp/low\n"
    );
    assert_eq!(m.read("/etc/marker"), "m");
    if chroot {
        assert_eq!(m.read("/var/tmp/high"), "high\n");
        assert_eq!(m.read("/var/tmp/low"), "low\n");
    }
}

#[test]
fn nested_dicts_merge_key_by_key() {
    // cloud.cfg.d switches vendor-data off; user-data sets another key of
    // the same mapping. The mappings merge, so `enabled: false` survives
    // and the vendor-data is not consumed.
    let vendor = "#cloud-config\nwrite_files: [{path: /etc/from-vendor, content: v}]\n";
    let off = Machine::seeded(
        META,
        "#cloud-config\nvendor_data: {prefix: []}\nruncmd: [echo user]\n",
    );
    off.write("/var/lib/cloud/seed/nocloud/vendor-data", vendor);
    off.write(
        "/etc/cloud/cloud.cfg.d/50_site.cfg",
        "vendor_data: {enabled: false}\n",
    );
    off.boot();
    assert!(!off.exists("/etc/from-vendor"));
    assert_eq!(runcmd_script(&off), "#!/bin/sh\necho user\n");

    // The same key from user-data wins over cloud.cfg.d's.
    let on = Machine::seeded(
        META,
        "#cloud-config\nvendor_data: {enabled: true}\nruncmd: [echo user]\n",
    );
    on.write("/var/lib/cloud/seed/nocloud/vendor-data", vendor);
    on.write(
        "/etc/cloud/cloud.cfg.d/50_site.cfg",
        "vendor_data: {enabled: false, prefix: []}\n",
    );
    on.boot();
    assert_eq!(on.read("/etc/from-vendor"), "v");
}

#[test]
fn user_data_beats_vendor_data_and_later_files_beat_earlier_ones() {
    let m = Machine::seeded(META, "#cloud-config\nruncmd: [echo user]\n");
    m.write(
        "/var/lib/cloud/seed/nocloud/vendor-data",
        "#cloud-config\nruncmd: [echo vendor]\nwrite_files: [{path: /etc/from-vendor, content: v}]\n",
    );
    m.write(
        "/etc/cloud/cloud.cfg.d/10_a.cfg",
        "write_files: [{path: /etc/ten, content: '10'}]\n",
    );
    m.write(
        "/etc/cloud/cloud.cfg.d/20_b.cfg",
        "write_files: [{path: /etc/twenty, content: '20'}]\n",
    );
    m.boot();
    assert_eq!(runcmd_script(&m), "#!/bin/sh\necho user\n");
    // vendor-data's write_files is higher than any cloud.cfg.d file's.
    assert_eq!(m.read("/etc/from-vendor"), "v");
    assert!(!m.exists("/etc/ten") && !m.exists("/etc/twenty"));
}

#[test]
fn a_bad_merge_how_drops_the_part_and_names_the_token() {
    // cloud-init logs "Failed at merging in cloud config part" and leaves
    // the part out; cloudboot does the same and reports it as an error.
    let m = Machine::seeded(
        META,
        "#cloud-config\nmerge_how: 'list(append)+bogus()'\nruncmd: [echo from-user]\n",
    );
    m.write(
        "/etc/cloud/cloud.cfg.d/50_site.cfg",
        "runcmd: [echo from-cfg-d]\n",
    );
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 1);
    m.run_ok(&["modules", "--mode=config"], 0);
    let status = m.run_ok(&["status", "--long", "--modules"], 1);
    assert!(
        status.contains("user-data (/var/lib/cloud/seed/nocloud/user-data): Failed at merging in cloud config part")
            && status.contains("'bogus'"),
        "{status}"
    );
    // The part is not merged (and not listed); the file is still written.
    let cc = m.read(&format!("{IDIR}/cloud-config.txt"));
    // As cloud-init writes it: safeyaml.dumps({}) is "--- {}\\n...\\n".
    assert_eq!(cc, "#cloud-config\n\n--- {}\n...\n");
    assert_eq!(runcmd_script(&m), "#!/bin/sh\necho from-cfg-d\n");
}

#[test]
fn cloud_config_txt_has_its_keys_sorted_as_pyyaml_writes_them() {
    let m = Machine::seeded(
        META,
        "#cloud-config\nruncmd: [echo x]\nfinal_message: done\nbootcmd: []\n",
    );
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 0);
    let cc = m.read(&format!("{IDIR}/cloud-config.txt"));
    let (b, f, r) = (
        cc.find("bootcmd").unwrap(),
        cc.find("final_message").unwrap(),
        cc.find("runcmd").unwrap(),
    );
    assert!(b < f && f < r, "{cc}");
}
