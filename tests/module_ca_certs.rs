//! ca_certs with the real `update-ca-certificates` (and its `openssl
//! rehash`), in a copy of the Debian 12 root the module cases were
//! recorded in: a network stage with `ca_certs.trusted` leaves the
//! certificate where 22.4 puts it, named in `/etc/ca-certificates.conf`,
//! linked under `/etc/ssl/certs` and in the bundle; a second instance with
//! `remove_defaults` leaves a bundle of that certificate alone.
//!
//! Needs root and the Debian root (`common::skip`: skipped, visibly,
//! without them; a failure under `CLOUDBOOT_REQUIRE_ROOT_TESTS`).

mod common;
mod modules_common;

use std::fs;
use std::path::Path;

use modules_common::debian_copy::DebianCopy;

/// A self-signed CA certificate made for this test (its key was thrown away).
const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIDGzCCAgOgAwIBAgIUWEKvF1lR+vn9ScSWL0byLnGQHxMwDQYJKoZIhvcNAQEL
BQAwHDEaMBgGA1UEAwwRY2xvdWRib290LXRlc3QtY2EwIBcNMjYxMjA2MjI0MzEw
WhgPMjEyNjExMTIyMjQzMTBaMBwxGjAYBgNVBAMMEWNsb3VkYm9vdC10ZXN0LWNh
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuL7eisL3x1XqRyuj2H2k
cH7jZ1fNGYXnHjZVi8vxitwRn6GBx+HebhiWB/X5RI842RYrRSQmluwmRg4EtDhB
KBl2O5hj9V/8J+ItmDn56LM4wjsKOVacETYUU92cZbiyTLNW14KQksoJy62zupri
4i+EFsoWEojhGZSrgWPNKaepC1/O7EOCCk5+e1fHhThpPJ7bxV8cFfmgBZco7+K5
6UBxGf395KojRERbjkMvO1sYzHgYjf2cUV7PKQKd2i4XPSHhKr3Mt0y1lV5uyWwe
djXKCqbH7gzqFUtyHpii9C0zmOJBZgHQtX/SoaF+sowm4Kh7kp/dP7rs3O3BCPAV
UQIDAQABo1MwUTAdBgNVHQ4EFgQU3e9yhiuEn7mvnsF+RgCcKtLJ+xAwHwYDVR0j
BBgwFoAU3e9yhiuEn7mvnsF+RgCcKtLJ+xAwDwYDVR0TAQH/BAUwAwEB/zANBgkq
hkiG9w0BAQsFAAOCAQEAnHkOVsyZuviftwLu/YbKTvnAidcatyQSFvejikicD9Kq
IZsDOjxLksvxIgQbv/oOvct9fqDSDNywxsJ89Rgigxft3akZQC/zknriTi8/26hf
FCY0qCwSsHA5lxbH3fdtJuXegM07RvNY5y+YJSHqT0JlriHpBQPkne11HHGh91vA
i7jtBhu+G92iqF38irRILil7GOE4fElu2pk83LTfYTYOxlKvT0kHPByAoR4vu3Ms
XCUXEiJxDr+W6ILkWWtwTEO0jxw6583EqM4hJS3cz4C9xNw0PbOjKLWtHxphAnMS
Qk5+Qf6XpQwhNMAlkyr4QsF48b0DbODFQq89v1SqIg==
-----END CERTIFICATE-----
";

fn user_data(extra: &str) -> String {
    let indented: String = CERT.lines().map(|l| format!("      {l}\n")).collect();
    format!("#cloud-config\nca_certs:\n{extra}  trusted:\n    - |\n{indented}")
}

#[test]
fn update_ca_certificates_trusts_the_certificate_and_remove_defaults_leaves_it_alone() {
    let Some(base) = common::skip::debian_root() else {
        return;
    };
    if !base.join("usr/sbin/update-ca-certificates").exists() {
        eprintln!("SKIPPED: the Debian root has no ca-certificates package");
        assert!(std::env::var_os("CLOUDBOOT_REQUIRE_ROOT_TESTS").is_none());
        return;
    }
    let copy = DebianCopy::as_recorded(&base);
    let root = copy.root();
    let defaults = fs::read_to_string(root.join("etc/ca-certificates.conf")).unwrap();
    assert!(defaults.contains("mozilla/"), "{defaults}");

    copy.seed("instance-id: iid-ca-certs-1\n", &user_data(""));
    // The local and network stages (ca_certs is in Debian's cloud_init_modules).
    let (log, _) = copy.stages(2);
    let ours = root.join("usr/share/ca-certificates/cloud-init-ca-certs.crt");
    assert_eq!(fs::read_to_string(&ours).unwrap(), CERT, "{log}");
    let conf = fs::read_to_string(root.join("etc/ca-certificates.conf")).unwrap();
    assert!(conf.ends_with("\ncloud-init-ca-certs.crt\n"), "{conf}");
    assert!(conf.contains("mozilla/"), "{conf}");
    // What update-ca-certificates itself made of it.
    let link = root.join("etc/ssl/certs/cloud-init-ca-certs.pem");
    assert_eq!(
        fs::read_link(&link).unwrap(),
        Path::new("/usr/share/ca-certificates/cloud-init-ca-certs.crt"),
        "{log}"
    );
    let bundle = fs::read_to_string(root.join("etc/ssl/certs/ca-certificates.crt")).unwrap();
    assert!(bundle.contains(CERT.trim_end()), "{log}");
    assert!(bundle.matches("BEGIN CERTIFICATE").count() > 10, "{log}");
    assert!(root
        .join("var/lib/cloud/instances/iid-ca-certs-1/sem/config_ca_certs")
        .exists());

    // A reboot (a new /run) into a new instance that removes the
    // defaults: only ours is left.
    fs::remove_dir_all(root.join("run/cloud-init")).unwrap();
    copy.seed(
        "instance-id: iid-ca-certs-2\n",
        &user_data("  remove_defaults: true\n"),
    );
    let (log, _) = copy.stages(2);
    assert_eq!(
        fs::read_to_string(root.join("etc/ca-certificates.conf")).unwrap(),
        "cloud-init-ca-certs.crt\n",
        "{log}"
    );
    assert!(
        !root.join("usr/share/ca-certificates/mozilla").exists(),
        "{log}"
    );
    let bundle = fs::read_to_string(root.join("etc/ssl/certs/ca-certificates.crt")).unwrap();
    assert_eq!(bundle.matches("BEGIN CERTIFICATE").count(), 1, "{log}");
    assert!(bundle.contains(CERT.trim_end()), "{log}");
    let selections = fs::read_to_string(root.join("var/cache/debconf/config.dat")).unwrap();
    assert!(
        selections.contains("Name: ca-certificates/trust_new_crts\nTemplate: ca-certificates/trust_new_crts\nValue: no\n"),
        "{selections}"
    );
}
