#!/usr/bin/env bash
# Fuzz the in-place filesystem readers, the network_data.json converter
# (through every renderer) and the YAML loader and dumper for SECONDS each
# (default 300), starting from real images built by genisoimage and
# mkfs.vfat/mtools and the parity corpora.
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain
# accept them. Usage: fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-300}; shift || true
targets=("${@:-iso9660 vfat network_data_json yaml}")
export RUSTC_BOOTSTRAP=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src/openstack/latest" "$work/corpus/iso9660" "$work/corpus/vfat" "$work/corpus/network_data_json" "$work/corpus/yaml"
for f in ../tests/fixtures/net/cases/*/input.json ../tests/fixtures/net-odj/cases/*/input.json; do
    [ -f "$f" ] && cp "$f" "$work/corpus/network_data_json/$(basename "$(dirname "$f")").json"
done
cp ../tests/fixtures/yaml/*.yaml ../tests/fixtures/yaml-dump/*.yaml ../tests/fixtures/yaml-fuzz/*.yaml "$work/corpus/yaml/"
echo '{"uuid": "fuzz"}' > "$work/src/openstack/latest/meta_data.json"
printf '#cloud-config\n' > "$work/src/openstack/latest/user_data"
printf 'instance-id: fuzz\n' > "$work/src/meta-data"
genisoimage -quiet -o "$work/corpus/iso9660/rr-joliet.iso" -V config-2 -R -J "$work/src"
genisoimage -quiet -o "$work/corpus/iso9660/plain.iso" -V cidata "$work/src"
truncate -s 1M "$work/corpus/vfat/fat12.img"
mkfs.vfat -n cidata "$work/corpus/vfat/fat12.img" >/dev/null
mcopy -i "$work/corpus/vfat/fat12.img" "$work/src/meta-data" ::/meta-data
mmd -i "$work/corpus/vfat/fat12.img" ::/openstack
for t in ${targets[@]}; do
    echo "== $t for ${secs}s"
    cargo fuzz run -O "$t" "$work/corpus/$t" -- -max_total_time="$secs" -max_len=2000000 -rss_limit_mb=2048 2>&1 \
        | grep -E "^#[0-9]+.*(DONE|pulse)|Done|ERROR|panicked|SUMMARY" | tail -3
done
