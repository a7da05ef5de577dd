#!/usr/bin/env bash
# The .deb (cargo-deb) and the .rpm (cargo-generate-rpm, for EL6 and EL7)
# into dist/, and their file lists printed. Both carry the static musl build:
# it runs on any image whatever its libc (glibc 2.12 or none), keeps each
# stage under 4 MiB of peak RSS, and starts faster than the glibc 2.17 build,
# which stays a release artifact of its own (dist/cloudboot-x86_64-glibc2.17).
# Run scripts/release.sh first.
# Needs: cargo install cargo-deb cargo-generate-rpm.
set -euo pipefail
cd "$(dirname "$0")/.."
# The packaging tools read the binaries from ./target/<triple>/release.
export CARGO_TARGET_DIR=target
static=dist/cloudboot-x86_64-static
[ -x "$static" ] || {
    echo "package: no $static (scripts/release.sh, with the musl target installed)" >&2
    exit 1
}
rm -rf dist/pkg
mkdir -p dist/pkg/deb dist/pkg/rpm/etc/rc.d/init.d
"$static" --root dist/pkg/deb install --init systemd --files-only >/dev/null
"$static" --root dist/pkg/deb install --init sysv --files-only >/dev/null
"$static" --root dist/pkg/rpm install --init systemd --files-only >/dev/null
"$static" --root dist/pkg/rpm install --init sysv --files-only >/dev/null
# The compatibility name, shipped as a link in the .deb (the package replaces
# cloud-init's); cargo-generate-rpm packs links as copies, so the .rpm makes
# it in %post instead.
mkdir -p dist/pkg/deb/usr/bin && ln -sf cloudboot dist/pkg/deb/usr/bin/cloud-init
# cloud-init's helper for bootcmd and boothooks, gone with cloud-init's package.
ln -sf cloudboot dist/pkg/deb/usr/bin/cloud-init-per
ln -sf cloudboot dist/pkg/deb/usr/bin/cloud-id
# keys_to_console's helper, also gone with cloud-init's package: cloudboot
# answers to its name (src/fingerprints.rs).
mkdir -p dist/pkg/deb/usr/lib/cloud-init
ln -sf /usr/bin/cloudboot dist/pkg/deb/usr/lib/cloud-init/write-ssh-key-fingerprints
mkdir -p "$CARGO_TARGET_DIR/x86_64-unknown-linux-musl/release"
cp "$static" "$CARGO_TARGET_DIR/x86_64-unknown-linux-musl/release/cloudboot"
# With --target, cargo-deb reads Cargo.toml's `target/release/cloudboot` asset
# from target/x86_64-unknown-linux-musl/release; the package is still amd64.
cargo deb --no-build --no-strip --target x86_64-unknown-linux-musl -o dist/
cargo generate-rpm --target x86_64-unknown-linux-musl -o dist/
for deb in dist/*.deb; do echo "== $deb"; dpkg-deb -c "$deb" | awk '{print $1, $6, $7, $8}'; done
for rpm in dist/*.rpm; do
    echo "== $rpm"
    if command -v rpm >/dev/null; then rpm -qlvp "$rpm" 2>/dev/null | awk '{print $1, $9, $10, $11}'; fi
done
