#!/usr/bin/env bash
# cloudboot against cloud-init 22.4 on the same image and seed: each boot runs
# the four stages in a fresh copy of a Debian 12 root (debootstrap'd once and
# cached by tests/fixtures/modules/record.sh --build-only: cloud-init,
# openssh-server, sudo), inside private uts/mount/pid/net/ipc namespaces with
# the root chrooted, so neither tool can touch this machine's hostname,
# mounts or network. Both do the same work (Debian's cloud.cfg module lists:
# the default user, ssh host keys, ...); the figures are wall-clock times per
# stage, median of RUNS boots, and the ratio.
#
#   sudo benches/vs-cloud-init.sh [SEED_DIR] [RUNS]    (defaults: examples/nocloud-write-files, 5)
#
# Needs root, the tools record.sh needs (debootstrap on first use), and a
# release build (built here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
seed=$(realpath "${1:-examples/nocloud-write-files}")
runs=${2:-5}
# Swap is not namespaced: a seed's swap file would be switched on for this
# whole machine by either tool's `swapon -a`; and a power_state would ask
# for a shutdown. Neither belongs in a timing run.
if grep -qs '^\(swap\|power_state\):' "$seed/user-data" "$seed/vendor-data"; then
    echo "vs-cloud-init: $seed configures swap or power_state, which would act on this machine; use a seed without them" >&2
    exit 1
fi
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
export CLOUDBOOT_RECORDER_CACHE=${CLOUDBOOT_RECORDER_CACHE:-/var/cache/cloudboot-recorder}
tests/fixtures/modules/record.sh --build-only
base="$CLOUDBOOT_RECORDER_CACHE/root"
cargo build --release -q
bin=${CARGO_TARGET_DIR:-target}/release/cloudboot
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One boot: $1 = cloud-init | cloudboot; prints "ms ms ms ms" (the four stages).
boot_once() {
    local tool=$1 root="$work/root"
    rm -rf "$root"
    cp -a "$base" "$root"
    mkdir -p "$root/var/lib/cloud/seed/nocloud"
    for f in meta-data user-data vendor-data network-config; do
        [ -f "$seed/$f" ] && install -m 0644 "$seed/$f" "$root/var/lib/cloud/seed/nocloud/$f"
    done
    printf 'datasource_list: [NoCloud, None]\nnetwork: {config: disabled}\ngrowpart: {mode: "off"}\nresize_rootfs: false\n' \
        >"$root/etc/cloud/cloud.cfg.d/90-bench.cfg"
    local cmd=/usr/bin/cloud-init
    if [ "$tool" = cloudboot ]; then
        install -m 0755 "$bin" "$root/usr/local/bin/cloudboot"
        cmd=/usr/local/bin/cloudboot
    fi
    unshare --uts --mount --pid --net --ipc --propagation private --fork -- bash -c '
        set -e
        root=$1 cmd=$2
        hostname localhost
        mount --bind "$root" "$root"
        mount -t proc bench-proc "$root/proc"
        mount -t tmpfs -o mode=0755 bench-dev "$root/dev"
        for d in null:1:3 zero:1:5 random:1:8 urandom:1:9 tty:5:0; do
            IFS=: read -r n ma mi <<<"$d"; mknod -m 666 "$root/dev/$n" c "$ma" "$mi"
        done
        ln -s /proc/self/fd "$root/dev/fd"
        mkdir -p "$root/dev/pts" "$root/dev/shm"
        mount -t tmpfs -o mode=0755 bench-run "$root/run"
        mkdir -p "$root/run/lock"
        times=""
        for args in "init --local" "init" "modules --mode=config" "modules --mode=final"; do
            t0=$(date +%s%N)
            # shellcheck disable=SC2086
            chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
                $cmd $args </dev/null >/dev/null 2>&1 || true
            t1=$(date +%s%N)
            times="$times $(( (t1 - t0) / 1000000 ))"
        done
        echo $times
    ' _ "$root" "$cmd"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

declare -A all
for tool in cloud-init cloudboot; do
    : >"$work/$tool.times"
    for _ in $(seq "$runs"); do boot_once "$tool" >>"$work/$tool.times"; done
done

echo "seed: $seed; $runs boots each; wall-clock ms, median"
printf '%-8s %12s %12s %8s\n' stage cloud-init cloudboot ratio
names=(local network config final)
for i in 1 2 3 4 5; do
    for tool in cloud-init cloudboot; do
        if [ "$i" = 5 ]; then
            all[$tool]=$(awk '{print $1+$2+$3+$4}' "$work/$tool.times" | median)
        else
            all[$tool]=$(awk -v c="$i" '{print $c}' "$work/$tool.times" | median)
        fi
    done
    name=${names[$((i-1))]:-total}
    ratio=$(awk -v a="${all[cloud-init]}" -v b="${all[cloudboot]}" 'BEGIN {printf (b > 0) ? "%.1fx" : "-", a / b}')
    printf '%-8s %12s %12s %8s\n' "$name" "${all[cloud-init]}" "${all[cloudboot]}" "$ratio"
done
