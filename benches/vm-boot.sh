#!/usr/bin/env bash
# Boot time in a real VM, cloud-init 22.4 against cloudboot: the same Debian
# 12 systemd image (tests/vm/build-image.sh), once with Debian's cloud-init
# as built and once with cloudboot's .deb in its place
# (tests/vm/prepare-disk.sh), the same config drive on /dev/sr0 (a static
# address with the default gateway, an ssh key, a runcmd), the same QEMU
# settings (tests/vm/run-vm.sh: TCG unless KVM is proven to work, 1 vCPU,
# 1 GiB, restricted user networking). Boots alternate, each a first boot
# of a fresh copy of the disk. Per boot:
#
# - boot-finished: guest uptime when the final stage finished (the first
#   field of /var/lib/cloud/instance/boot-finished, both tools write it);
# - each stage's own time, finished - start, from status.json (both write
#   cloud-init's v1 record);
# - sshd: seconds from QEMU's start until the guest's sshd answers with its
#   banner through a hostfwd on 127.0.0.1 (host clock; includes QEMU's own
#   start, under a second).
#
# It prints every boot and then the medians and the ratio.
#
#   sudo benches/vm-boot.sh [RUNS]        (default 5 boots of each)
#
# With CLOUDBOOT_VM_LOGS=DIR, each system's last /var/log/cloud-init.log is
# kept as DIR/<system>.log (for `cloudboot analyze blame|plot -i`), and the
# cloudboot guest's last `cloudboot analyze boot` as DIR/cloudboot.analyze-boot.
#
# Needs root, the built images (sudo tests/vm/build-image.sh) and the .deb
# (scripts/release.sh && scripts/package.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
[ "$(id -u)" = 0 ] || { echo "vm-boot: run as root" >&2; exit 1; }
images=$(tests/vm/build-image.sh --cached-only)
deb=$(ls dist/cloudboot_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { echo "vm-boot: no dist/cloudboot_*.deb (scripts/release.sh && scripts/package.sh)" >&2; exit 1; }
work=$(mktemp -d "${CLOUDBOOT_VM_SCRATCH:-/var/tmp}/cloudboot-vm-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "vm-boot: images $images, $deb, $runs boots each" >&2

# The accelerator probe (run-vm.sh) once, before any boot is timed.
CLOUDBOOT_VM_ACCEL=${CLOUDBOOT_VM_ACCEL:-$(tests/vm/run-vm.sh --kernel-dir "$images/systemd" --disk - --serial - --probe-only)}
export CLOUDBOOT_VM_ACCEL
echo "vm-boot: accelerator $CLOUDBOOT_VM_ACCEL" >&2
tests/vm/prepare-disk.sh "$images/systemd" "$work/cloud-init.raw" cloud-init
tests/vm/prepare-disk.sh "$images/systemd" "$work/cloudboot.raw" "$deb"

mac=52:54:00:c0:00:01
mkdir -p "$work/cd/openstack/latest"
cat >"$work/cd/openstack/latest/meta_data.json" <<EOF
{"uuid": "bench-1", "hostname": "bench", "name": "bench",
 "public_keys": {"k": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOL4dEmcYrmIOlI03W/PWKCHTf2lA7JUX6SQQsrSJ4QD vm-test"}}
EOF
cat >"$work/cd/openstack/latest/network_data.json" <<EOF
{"links": [{"id": "tap1", "type": "phy", "ethernet_mac_address": "$mac"}],
 "networks": [{"id": "n1", "type": "ipv4", "link": "tap1", "ip_address": "10.0.2.15",
   "netmask": "255.255.255.0",
   "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.0.2.2"}]}],
 "services": []}
EOF
# runcmd makes its directory: the test hook, which also does, may start
# after the final stage (both come after multi-user.target).
printf '#cloud-config\nruncmd:\n  - [sh, -c, "mkdir -p /var/vm-test && echo ran >> /var/vm-test/runcmd.log"]\n' \
    >"$work/cd/openstack/latest/user_data"
genisoimage -quiet -J -r -V config-2 -o "$work/seed.iso" "$work/cd"

# Seconds (host clock) from now until a TCP client gets "SSH-" on $1.
wait_for_ssh() {
    local port=$1 start=$2 banner
    while :; do
        banner=$(timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && head -c 4 <&3" 2>/dev/null || true)
        if [ "$banner" = SSH- ]; then
            awk -v now="$(date +%s.%N)" -v start="$start" 'BEGIN { printf "%.2f\n", now - start }'
            return
        fi
        sleep 0.2
    done
}

results="$work/results.tsv"
for i in $(seq 1 "$runs"); do
    for system in cloud-init cloudboot; do
        disk="$work/boot.raw"
        cp --sparse=always "$work/$system.raw" "$disk"
        port=$((20000 + RANDOM % 20000))
        start=$(date +%s.%N)
        wait_for_ssh "$port" "$start" >"$work/ssh" &
        waiter=$!
        tests/vm/run-vm.sh --kernel-dir "$images/systemd" --disk "$disk" \
            --serial "$work/console.log" --cdrom "$work/seed.iso" \
            --nic "$mac,net=10.0.2.0/24,hostfwd=tcp:127.0.0.1:$port-:22" --timeout 900 2>/dev/null
        kill "$waiter" 2>/dev/null || true
        wait "$waiter" 2>/dev/null || true
        rm -rf "$work/out"
        mkdir "$work/out"
        debugfs -R "rdump /var/vm-test $work/out" "$disk?offset=1048576" >/dev/null 2>&1
        rec="$work/out/vm-test/boot-1"
        if [ -n "${CLOUDBOOT_VM_LOGS:-}" ]; then
            mkdir -p "$CLOUDBOOT_VM_LOGS"
            cp "$rec/cloud-init.log" "$CLOUDBOOT_VM_LOGS/$system.log"
            if [ -f "$rec/analyze-boot" ]; then
                cp "$rec/analyze-boot" "$CLOUDBOOT_VM_LOGS/$system.analyze-boot"
            fi
        fi
        python3 - "$system" "$i" "$rec" "$(cat "$work/ssh" 2>/dev/null)" >>"$results" <<'PY'
import json, sys
system, i, rec, ssh = sys.argv[1:5]
finished = open(f"{rec}/boot-finished").read().split()[0]
status = json.load(open(f"{rec}/status.json"))["v1"]
stages = []
for s in ("init-local", "init", "modules-config", "modules-final"):
    st = status.get(s) or {}
    stages.append("%.3f" % (st["finished"] - st["start"]) if st.get("finished") and st.get("start") else "nan")
print("\t".join([system, i, finished, *stages, ssh or "nan"]))
PY
        tail -1 "$results" >&2
    done
done

python3 - "$results" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
cols = ["boot-finished", "local", "network", "config", "final", "sshd"]
med = {}
for system in ("cloud-init", "cloudboot"):
    mine = [r for r in rows if r[0] == system]
    med[system] = [statistics.median(float(r[2 + c]) for r in mine) for c in range(len(cols))]
    n = len(mine)
print(f"VM first boot, medians of {n} boots each (seconds; boot-finished is guest uptime,")
print("stages from status.json, sshd is host time from QEMU start to the SSH banner)")
print(f"{'':14}" + "".join(f"{c:>15}" for c in cols))
for system in ("cloud-init", "cloudboot"):
    print(f"{system:14}" + "".join(f"{v:15.2f}" for v in med[system]))
print(f"{'ratio':14}" + "".join(
    f"{(a / b if b else float('nan')):14.1f}x" for a, b in zip(med["cloud-init"], med["cloudboot"])))
PY
