//! Everything cloudboot does itself must work on CentOS 6's 2.6.32 kernel.
//! These tests run whole boots under a seccomp filter that answers ENOSYS
//! to every system call x86_64 Linux gained after 2.6.32 (numbers 299 and
//! up: recvmmsg, fanotify, prlimit64, ..., statx, getrandom, copy_file_range,
//! clone3, close_range, openat2, ...), as that kernel would, and check that
//! the boot ends as it does without the filter. The filter is inherited by
//! the programs cloudboot starts.

mod common;
mod iso_common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use common::{Machine, BIN};

/// The first x86_64 system call number newer than Linux 2.6.32.
const FIRST_NEWER_THAN_2_6_32: u32 = 299;

/// Installs the filter in the calling process (a child between fork and exec).
fn deny_newer_syscalls() -> std::io::Result<()> {
    const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
    const RET_ALLOW: u32 = 0x7fff_0000;
    const RET_ERRNO: u32 = 0x0005_0000;
    let stmt = |code: u16, k: u32| libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |code: u16, k: u32, jt: u8, jf: u8| libc::sock_filter { code, jt, jf, k };
    // BPF_LD|BPF_W|BPF_ABS = 0x20; BPF_JMP|BPF_JEQ|BPF_K = 0x15;
    // BPF_JMP|BPF_JGE|BPF_K = 0x35; BPF_RET|BPF_K = 0x06.
    let filter = [
        stmt(0x20, 4), // arch
        jump(0x15, AUDIT_ARCH_X86_64, 1, 0),
        stmt(0x06, RET_ALLOW),
        stmt(0x20, 0), // nr
        jump(0x35, FIRST_NEWER_THAN_2_6_32, 0, 1),
        stmt(0x06, RET_ERRNO | libc::ENOSYS as u32),
        stmt(0x06, RET_ALLOW),
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
            || libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const _,
            ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn old_kernel(cmd: &mut Command) -> &mut Command {
    unsafe { cmd.pre_exec(deny_newer_syscalls) }
}

fn run(m: &Machine, args: &[&str], filtered: bool) -> (Option<i32>, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("--root").arg(m.root()).args(args);
    if filtered {
        old_kernel(&mut cmd);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn the_filter_really_denies_newer_calls() {
    // getrandom (318, Linux 3.17) from python3 under the filter: ENOSYS;
    // getpid (39) still works.
    let mut cmd = Command::new("python3");
    cmd.args([
        "-c",
        "import os\ntry:\n    os.getrandom(1)\n    print('allowed')\nexcept OSError as e:\n    print(e.errno, os.getpid() > 0)",
    ]);
    old_kernel(&mut cmd);
    let out = cmd.output().expect("python3 (.ci/run installs it)");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{} True", libc::ENOSYS)
    );
}

#[test]
fn a_whole_boot_runs_as_on_2_6_32() {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/nocloud-write-files");
    let plain = Machine::new();
    let old = Machine::new();
    // With root and busybox, runcmd really runs under chroot (and the filter).
    let programs = common::skip::require_for("runcmd runs under the filter", common::skip::CHROOT);
    if programs {
        plain.install_busybox();
        old.install_busybox();
    }
    let args = ["boot", "--seed", seed.to_str().unwrap()];
    let (code_plain, _) = run(&plain, &args, false);
    let (code_old, out_old) = run(&old, &args, true);
    assert_eq!(code_old, code_plain, "{out_old}");
    assert_eq!(code_old, Some(0), "{out_old}");
    for f in [
        "/etc/cloudboot-demo/plain.txt",
        "/etc/cloudboot-demo/gzip.txt",
        "/etc/cloudboot-demo/deferred.txt",
        "/var/lib/cloud/data/status.json",
        "/var/lib/cloud/instances/iid-write-files-0001/boot-finished",
    ] {
        assert!(
            old.exists(f),
            "{f} missing after the filtered boot:\n{out_old}"
        );
    }
    assert_eq!(
        old.read("/etc/cloudboot-demo/gzip.txt"),
        plain.read("/etc/cloudboot-demo/gzip.txt")
    );
    if programs {
        let ran = old.read("/var/tmp/runcmd-ran");
        assert!(
            ran.starts_with("runcmd ran at ") && ran.ends_with("a string command\n"),
            "{ran}"
        );
    }
}

#[test]
fn a_config_drive_is_read_and_rendered_as_on_2_6_32() {
    let tree = iso_common::Tree::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/configdrive-multinic");
    let iso = tree.build_from("config-2.iso", &["-V", "config-2", "-R", "-J"], &src);
    let m = Machine::new();
    let (code, out) = run(
        &m,
        &["--device", iso.to_str().unwrap(), "init", "--local"],
        true,
    );
    assert_eq!(code, Some(0), "{out}");
    let eni = m.read("/etc/network/interfaces.d/50-cloud-init");
    assert!(eni.contains("iface eth2 inet static"), "{eni}");
}
