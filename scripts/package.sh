#!/usr/bin/env bash
# The .deb (cargo-deb, from the glibc 2.17 build) and the .rpm
# (cargo-generate-rpm, from the static musl build, for EL6 and EL7) into dist/,
# and their file lists printed. Run scripts/release.sh first.
# Needs: cargo install cargo-deb cargo-generate-rpm.
set -euo pipefail
cd "$(dirname "$0")/.."
# The packaging tools read the binaries from ./target/<triple>/release.
export CARGO_TARGET_DIR=target
gnu=dist/cloudboot-x86_64-glibc2.17
static=dist/cloudboot-x86_64-static
[ -x "$gnu" ] && [ -x "$static" ] || { echo "package: run scripts/release.sh first" >&2; exit 1; }
rm -rf dist/pkg
mkdir -p dist/pkg/deb dist/pkg/rpm/etc/rc.d/init.d
"$gnu" --root dist/pkg/deb install --init systemd --files-only >/dev/null
"$gnu" --root dist/pkg/deb install --init sysv --files-only >/dev/null
"$gnu" --root dist/pkg/rpm install --init systemd --files-only >/dev/null
"$gnu" --root dist/pkg/rpm install --init sysv --files-only >/dev/null
# The compatibility name, shipped as a link in the .deb (the package replaces
# cloud-init's); cargo-generate-rpm packs links as copies, so the .rpm makes
# it in %post instead.
mkdir -p dist/pkg/deb/usr/bin && ln -sf cloudboot dist/pkg/deb/usr/bin/cloud-init
# cloud-init's helper for bootcmd and boothooks, gone with cloud-init's package.
ln -sf cloudboot dist/pkg/deb/usr/bin/cloud-init-per
ln -sf cloudboot dist/pkg/deb/usr/bin/cloud-id
mkdir -p "$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release" "$CARGO_TARGET_DIR/x86_64-unknown-linux-musl/release"
cp "$gnu" "$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/cloudboot"
cp "$static" "$CARGO_TARGET_DIR/x86_64-unknown-linux-musl/release/cloudboot"
cargo deb --no-build --no-strip --target x86_64-unknown-linux-gnu -o dist/
cargo generate-rpm --target x86_64-unknown-linux-musl -o dist/
for deb in dist/*.deb; do echo "== $deb"; dpkg-deb -c "$deb" | awk '{print $1, $6, $7, $8}'; done
for rpm in dist/*.rpm; do
    echo "== $rpm"
    if command -v rpm >/dev/null; then rpm -qlvp "$rpm" 2>/dev/null | awk '{print $1, $9, $10, $11}'; fi
done
