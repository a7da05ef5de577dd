#!/usr/bin/env bash
# Fuzz the in-place filesystem readers, the network_data.json converter and
# the network config inputs (v1, v2, ENI; each through every renderer), the
# YAML loader and dumper, user-data processing and NoCloud meta-data for
# SECONDS each (default 300), starting from real images built by genisoimage
# and mkfs.vfat/mtools, the parity corpora, the network fixtures, and the
# tests' seeds and user-data (MIME, gzip, archive, jsonp, jinja and include
# ones made here).
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain
# accept them. Usage: fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-300}; shift || true
targets=("${@:-iso9660 vfat network_data_json network_config yaml userdata nocloud_meta_data}")
export RUSTC_BOOTSTRAP=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src/openstack/latest" "$work/corpus/iso9660" "$work/corpus/vfat" "$work/corpus/network_data_json" \
    "$work/corpus/network_config" "$work/corpus/yaml" "$work/corpus/userdata" "$work/corpus/nocloud_meta_data"
for f in ../tests/fixtures/net/cases/*/input.json ../tests/fixtures/net-odj/cases/*/input.json; do
    [ -f "$f" ] && cp "$f" "$work/corpus/network_data_json/$(basename "$(dirname "$f")").json"
done
# Every v1/v2 YAML and ENI input of the network fixtures, named after its case.
for f in ../tests/fixtures/net/cases/*/input.yaml ../tests/fixtures/net/cases/*/input.eni \
         ../tests/fixtures/net-eni/cases/*/input.eni ../tests/fixtures/networkd/*/input.yaml \
         ../tests/fixtures/sysconfig-extra/*/input.yaml ../tests/fixtures/netplan-extra/cases/*/input.yaml; do
    [ -f "$f" ] && cp "$f" "$work/corpus/network_config/$(basename "$(dirname "$f")")-$(basename "$f")"
done
cp ../tests/fixtures/yaml/*.yaml ../tests/fixtures/yaml-dump/*.yaml ../tests/fixtures/yaml-fuzz/*.yaml "$work/corpus/yaml/"
n=0
for f in ../examples/*/user-data ../tests/fixtures/modules/cases/*/user-data ../tests/fixtures/write_files_docs/user-data; do
    [ -f "$f" ] && cp "$f" "$work/corpus/userdata/$((n += 1))"
done
for f in ../examples/*/meta-data ../tests/fixtures/modules/cases/*/meta-data; do
    [ -f "$f" ] && cp "$f" "$work/corpus/nocloud_meta_data/$((n += 1))"
done
printf 'instance-id: i-1\nseedfrom: file:///srv/seed/\ndsmode: local\npublic-keys: [ssh-rsa AAAA x]\n' > "$work/corpus/nocloud_meta_data/seedfrom"
printf 'root=/dev/vda1 ds=nocloud;i=i-2;h=host;s=file:///srv/seed/ quiet\n' > "$work/corpus/nocloud_meta_data/cmdline"
python3 - "$work/corpus/userdata" <<'PY'
import base64, gzip, sys
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.mime.application import MIMEApplication
out = sys.argv[1]
def put(name, data):
    open(f"{out}/{name}", "wb").write(data if isinstance(data, bytes) else data.encode())
m = MIMEMultipart()
m.attach(MIMEText("#cloud-config\nruncmd: [ls]\nmerge_how: 'list(append)+dict(recurse_array)'\n", "cloud-config"))
m.attach(MIMEText("#!/bin/sh\necho hi\n", "x-shellscript"))
inner = MIMEMultipart("alternative")
inner.attach(MIMEText("#cloud-boothook\necho boot\n", "cloud-boothook"))
inner.attach(MIMEText("#include\nhttp://h/%23cloud-config%0Aa%3A%201\n", "x-include-url"))
m.attach(inner)
gz = MIMEApplication(gzip.compress(b"#cloud-config\nb: 2\n"), "gzip")
gz.add_header("Content-Disposition", "attachment", filename="b.gz")
m.attach(gz)
b64 = MIMEText("#cloud-config\nc: 3\n", "cloud-config", "utf-8")
m.attach(b64)
put("mime", m.as_string())
put("gzip", gzip.compress(b"#cloud-config\nruncmd: [gz]\n"))
put("archive", "#cloud-config-archive\n- type: text/cloud-config\n  content: 'a: 1'\n  launch-index: 0\n- '#!/bin/sh\n  echo x'\n- {content: !!binary aGk=, filename: bin}\n")
put("jsonp", '#cloud-config-jsonp\n[{"op": "add", "path": "/runcmd", "value": ["x"]}]\n')
put("jinja", "## template: jinja\n#cloud-config\nhostname: {{ v1.local_hostname }} {{ ds.meta_data['tags'].a_b }} {# c #}\n")
put("include", "#include-once\nhttp://h/%23include%0Afile:///srv/include\n#include\nfile:///srv/include\n")
put("upstart", "#upstart-job\ndescription 'x'\n")
PY
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
