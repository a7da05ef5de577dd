//! NoCloud beyond seed directories: the kernel command line, the SMBIOS
//! serial, and `seedfrom` (file and http).

mod common;

use common::*;

#[test]
fn kernel_command_line_gives_id_hostname_and_local_mode() {
    let m = Machine::new();
    m.write(
        "/proc/cmdline",
        "BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro ds=nocloud;i=abc;h=myhost console=ttyS0\n",
    );
    m.run_ok(&["init", "--local"], 0);
    assert_eq!(m.read("/var/lib/cloud/data/instance-id"), "abc\n");
    assert_eq!(
        m.read("/var/lib/cloud/instances/abc/datasource"),
        "DataSourceNoCloud: DataSourceNoCloud [seed=cmdline][dsmode=local]\n"
    );
    assert_eq!(m.run_ok(&["query", "v1.local_hostname"], 0), "myhost\n");
    // dsmode local: user-data and the init modules ran in the local stage.
    assert!(m.exists("/var/lib/cloud/instances/abc/sem/consume_data"));
}

#[test]
fn the_smbios_serial_works_like_the_command_line() {
    let m = Machine::new();
    m.write(
        "/sys/class/dmi/id/product_serial",
        "ds=nocloud;i=from-dmi\n",
    );
    m.run_ok(&["init", "--local"], 0);
    assert_eq!(m.read("/var/lib/cloud/data/instance-id"), "from-dmi\n");
}

#[test]
fn seedfrom_a_file_path_in_the_local_stage() {
    let m = Machine::new();
    m.write("/proc/cmdline", "ds=nocloud;s=file:///srv/seed/\n");
    m.write("/srv/seed/meta-data", "instance-id: from-file\n");
    m.write(
        "/srv/seed/user-data",
        "#cloud-config\nwrite_files: [{path: /etc/seeded, content: file}]\n",
    );
    m.run_ok(&["init", "--local"], 0);
    assert_eq!(m.read("/var/lib/cloud/data/instance-id"), "from-file\n");
    assert_eq!(m.read("/etc/seeded"), "file");
    assert!(m
        .read("/var/lib/cloud/instances/from-file/datasource")
        .contains("[seed=cmdline,file:///srv/seed/][dsmode=local]"));
}

#[test]
fn seedfrom_http_is_fetched_by_the_network_stage() {
    let (base, log) = serve(vec![
        (
            "/seed/meta-data",
            b"instance-id: from-http\nlocal-hostname: nethost\n".to_vec(),
        ),
        (
            "/seed/user-data",
            b"#cloud-config\nwrite_files: [{path: /etc/seeded, content: http}]\n".to_vec(),
        ),
    ]);
    let m = Machine::new();
    m.write(
        "/proc/cmdline",
        &format!("quiet ds=nocloud-net;s={base}/seed/\n"),
    );
    // The local stage leaves http seeds to the network stage.
    m.run_ok(&["init", "--local"], 0);
    assert!(!m.exists("/var/lib/cloud/data/instance-id"));
    m.run_ok(&["init"], 0);
    assert_eq!(m.read("/var/lib/cloud/data/instance-id"), "from-http\n");
    assert_eq!(m.read("/etc/seeded"), "http");
    assert_eq!(
        m.read("/var/lib/cloud/instances/from-http/datasource"),
        format!(
            "DataSourceNoCloudNet: DataSourceNoCloudNet [seed=cmdline,{base}/seed/][dsmode=net]\n"
        )
    );
    let paths = log.lock().unwrap().clone();
    assert!(
        paths.contains(&"/seed/meta-data".to_string())
            && paths.contains(&"/seed/vendor-data".to_string()),
        "{paths:?}"
    );
}

#[test]
fn an_unreachable_seedfrom_is_reported_and_the_fallback_boots() {
    let m = Machine::new();
    m.write(
        "/proc/cmdline",
        &format!("ds=nocloud-net;s={}/\n", dead_url()),
    );
    m.run_ok(&["init", "--local"], 0);
    m.run_ok(&["init"], 1);
    assert_eq!(
        m.read("/var/lib/cloud/data/instance-id"),
        "iid-datasource-none\n"
    );
    assert!(m
        .read("/var/lib/cloud/data/status.json")
        .contains("NoCloud seedfrom http://127.0.0.1:"));
}
