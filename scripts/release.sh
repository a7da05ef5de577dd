#!/usr/bin/env bash
# Release builds of cloudboot for the images it exists for:
#   dist/cloudboot-x86_64-glibc2.17   CentOS/RHEL 7, Ubuntu 14.04, Debian 8 and later
#                                     (cargo zigbuild against glibc 2.17)
#   dist/cloudboot-x86_64-static      CentOS/RHEL 6 (glibc 2.12, kernel 2.6.32) and anything
#                                     else: fully static, musl, non-PIE; the one the .deb
#                                     and the .rpm carry (scripts/package.sh): it keeps a
#                                     stage under 4 MiB and starts faster, mapping no libc
# and checks that the glibc build needs no symbol version above GLIBC_2.17.
#
# Needs: zig (pip install ziglang), cargo-zigbuild (cargo install cargo-zigbuild), and for the
# static build the musl target (rustup target add x86_64-unknown-linux-musl); without the
# target the static build is skipped with a message.
# Usage: scripts/release.sh [--check-only]   (--check-only: the glibc build and check, for CI)
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist
mkdir -p "$out"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}

# zig from PyPI's ziglang, found as `python3 -m ziglang` by cargo-zigbuild.
cargo zigbuild --release --locked --target x86_64-unknown-linux-gnu.2.17
gnu="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/cloudboot"
cp "$gnu" "$out/cloudboot-x86_64-glibc2.17"
newest=$(objdump -T "$gnu" | grep -o 'GLIBC_[0-9][0-9.]*' | sort -Vu | tail -1)
echo "glibc build: $(stat -c %s "$gnu") bytes, newest symbol version $newest"
if [ "$(printf '%s\nGLIBC_2.17\n' "$newest" | sort -V | tail -1)" != "GLIBC_2.17" ]; then
    echo "release: $gnu needs $newest, newer than GLIBC_2.17" >&2
    objdump -T "$gnu" | grep -v 'GLIBC_2\.\(1[0-7]\|[0-9]\)\b' | grep GLIBC_ >&2 || true
    exit 1
fi
[ "${1:-}" = --check-only ] && exit 0

if rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
    # Non-PIE: the plainest executable an old kernel loads.
    RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
        cargo build --release --locked --target x86_64-unknown-linux-musl
    static="$CARGO_TARGET_DIR/x86_64-unknown-linux-musl/release/cloudboot"
    cp "$static" "$out/cloudboot-x86_64-static"
    echo "static build: $(stat -c %s "$static") bytes; $(file -b "$static" | cut -d, -f1-4)"
else
    echo "static build skipped: rustup target add x86_64-unknown-linux-musl" >&2
fi
ls -l "$out"
