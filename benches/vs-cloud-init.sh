#!/usr/bin/env bash
# cloudboot against cloud-init 22.4 on the same image and seed. Each run is three boots of one
# fresh copy of a Debian 12 root (debootstrap'd once and cached by
# tests/fixtures/modules/record.sh --build-only: cloud-init, openssh-server, sudo): the first
# boot, a reboot (same instance), and a boot as a new instance (the seed's instance-id changed).
# Every boot runs the four stages inside fresh private uts/mount/pid/net/ipc namespaces with the
# root chrooted and a fresh /run (scripts/chroot-harness.sh), so neither tool can touch this
# machine's hostname, mounts or network. Both do the same work (Debian's cloud.cfg module
# lists). Printed: wall-clock time per stage run (median of RUNS runs), the harness's own floor
# (the same namespaces, chroot and env running /bin/true), each tool's time beyond the floor,
# the ratios, and the peak RSS of any stage run: cloudboot's own (from its log: it records
# getrusage's peak at each stage's end) and the largest process of the stage, cloudboot or a
# program it ran (one more run under /usr/bin/time, not timed).
#
#   sudo benches/vs-cloud-init.sh [SEED_DIR] [RUNS]    (defaults: benches/engine-only, 5)
#
# benches/engine-only is the engine-only seed: 50 write_files and a runcmd, no users, no host
# keys, no locale: what each tool costs on its own. examples/nocloud-write-files is a typical one.
# CLOUDBOOT_BIN=path times another cloudboot binary (default: this tree's static musl build,
# as scripts/release.sh makes it for the rpm and for old images; the glibc build when the musl
# target is missing);
# CLOUDBOOT_BEFORE=path adds a column for an older build, for before/after figures from one run.
# Needs root, the tools record.sh needs (debootstrap on first use) and /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/chroot-harness.sh
source scripts/chroot-harness.sh
seed=$(realpath "${1:-benches/engine-only}")
runs=${2:-5}
# Swap is not namespaced: a seed's swap file would be switched on for this
# whole machine by either tool's `swapon -a`; and a power_state would ask
# for a shutdown. Neither belongs in a timing run.
if grep -qs '^\(swap\|power_state\):' "$seed/user-data" "$seed/vendor-data"; then
    echo "vs-cloud-init: $seed configures swap or power_state, which would act on this machine; use a seed without them" >&2
    exit 1
fi
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "vs-cloud-init: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
export CLOUDBOOT_RECORDER_CACHE=${CLOUDBOOT_RECORDER_CACHE:-/var/cache/cloudboot-recorder}
tests/fixtures/modules/record.sh --build-only
base="$CLOUDBOOT_RECORDER_CACHE/root"
if [ -z "${CLOUDBOOT_BIN:-}" ]; then
    if rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
        # scripts/release.sh's static build, in a directory of its own (other RUSTFLAGS).
        dir=${CARGO_TARGET_DIR:-target}/bench-static
        RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" CARGO_TARGET_DIR=$dir \
            cargo build --release -q --target x86_64-unknown-linux-musl
        CLOUDBOOT_BIN=$dir/x86_64-unknown-linux-musl/release/cloudboot
    else
        cargo build --release -q
        CLOUDBOOT_BIN=${CARGO_TARGET_DIR:-target}/release/cloudboot
    fi
fi
echo "cloudboot: $CLOUDBOOT_BIN ($(file -b "$CLOUDBOOT_BIN" | cut -d, -f1-2))" >&2
tools=(floor cloud-init cloudboot)
[ -n "${CLOUDBOOT_BEFORE:-}" ] && tools+=(before)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A fresh root with the seed for tool $1, its dirty pages written out first: the copy is
# this bench's doing, and a first sync (cloudboot's syncfs) must not pay for it.
prepare_root() {
    local tool=$1 root="$work/root" bin=$CLOUDBOOT_BIN
    [ "$tool" = before ] && bin=$CLOUDBOOT_BEFORE
    rm -rf "$root"
    cp -a "$base" "$root"
    mkdir -p "$root/var/lib/cloud/seed/nocloud"
    for f in meta-data user-data vendor-data network-config; do
        [ -f "$seed/$f" ] && install -m 0644 "$seed/$f" "$root/var/lib/cloud/seed/nocloud/$f"
    done
    printf 'datasource_list: [NoCloud, None]\nnetwork: {config: disabled}\ngrowpart: {mode: "off"}\nresize_rootfs: false\n' \
        >"$root/etc/cloud/cloud.cfg.d/90-bench.cfg"
    install -m 0755 "$bin" "$root/usr/local/bin/cloudboot"
    sync
}

# The four stages of one boot with $2 (/bin/true for each stage: the floor), inside the
# harness (harness_boot) on root $1. $3 = time: prints four stage times in microseconds;
# $3 = rss: runs each stage under /usr/bin/time (its output file in $4) and prints four
# peak RSS in KiB.
boot_stages() {
    local root=$1 cmd=$2 mode=$3 work=$4 args out=""
    harness_enter "$root" bench
    for args in "init --local" "init" "modules --mode=config" "modules --mode=final"; do
        [ "$cmd" = /bin/true ] && args=""
        if [ "$mode" = rss ]; then
            # /usr/bin/time is put before chroot, so that the process it measures is the
            # tool's (harness_run would make it a bash function's).
            # shellcheck disable=SC2086
            /usr/bin/time -f %M -o "$work/rss" chroot "$root" /usr/bin/env -i PATH="$HARNESS_PATH" \
                $cmd $args </dev/null >/dev/null 2>&1 || true
            out="$out $(tail -1 "$work/rss")"
            continue
        fi
        t0=${EPOCHREALTIME/./}
        # shellcheck disable=SC2086
        harness_run "$root" $cmd $args </dev/null >/dev/null 2>&1 || true
        t1=${EPOCHREALTIME/./}
        out="$out $(( t1 - t0 ))"
    done
    echo "${out# }"
}

# One boot of the prepared root by tool $1 (cloud-init | cloudboot | before | floor), in
# mode $2 (time | rss, as boot_stages).
boot_once() {
    local tool=$1 cmd=/usr/local/bin/cloudboot
    case $tool in
        cloud-init) cmd=/usr/bin/cloud-init ;;
        floor) cmd=/bin/true ;;
    esac
    harness_boot boot_stages "$work/root" "$cmd" "$2" "$work"
}

# One run of tool $1 in mode $2: first boot, reboot, new instance; one line of 12 fields.
# cloudboot's own peak per stage, from its log, goes to $work/$1.own (one line of 12).
run_once() {
    local tool=$1 mode=$2 line
    prepare_root "$tool"
    line=$(boot_once "$tool" "$mode")
    line="$line $(boot_once "$tool" "$mode")"
    sed -i 's/^instance-id:.*/instance-id: iid-vs-cloud-init-new/' "$work/root/var/lib/cloud/seed/nocloud/meta-data"
    line="$line $(boot_once "$tool" "$mode")"
    echo "$line"
    sed -n "s/.*cloudboot's peak memory in this stage: \([0-9]*\) KiB.*/\1/p" "$work/root/var/log/cloud-init.log" \
        2>/dev/null | tr '\n' ' ' >>"$work/$tool.own" || true
    echo >>"$work/$tool.own"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

for _ in $(seq "$runs"); do
    for tool in "${tools[@]}"; do run_once "$tool" time >>"$work/$tool.times"; done
done
for tool in "${tools[@]}"; do run_once "$tool" rss >"$work/$tool.rss"; done

# Milliseconds, median over runs: column $2 (1..12) of tool $1, or with $2 = total the sum.
ms() {
    awk -v c="$2" '{t = 0; for (i = 1; i <= NF; i++) if (c == "total" || i == c) t += $i; print t / 1000}' \
        "$work/$1.times" | median
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0fx", (b > 0) ? a / b : 0}'; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a - b}'; }

echo "seed: $seed; $runs runs of three boots (first, reboot, new instance)"
echo "wall-clock ms per stage run (median); 'own' = beyond the harness floor (chroot + env + /bin/true)"
header="%-21s %9s %10s %8s %7s %9s %9s"
[ -n "${CLOUDBOOT_BEFORE:-}" ] && header="$header %9s %9s"
labels=("stage run" floor cloud-init cloudboot ratio "ci own" "cb own")
[ -n "${CLOUDBOOT_BEFORE:-}" ] && labels+=(before "before own")
# shellcheck disable=SC2059
printf "$header\n" "${labels[@]}"
boots=(first reboot new-instance)
names=(local network config final)
for i in $(seq 1 12) total; do
    if [ "$i" = total ]; then name="total (12 stage runs)"; else
        name="${boots[$(( (i-1) / 4 ))]}/${names[$(( (i-1) % 4 ))]}"
    fi
    fl=$(ms floor "$i") ci=$(ms cloud-init "$i") cb=$(ms cloudboot "$i")
    row=("$name" "$fl" "$ci" "$cb" "$(ratio "$ci" "$cb")" "$(minus "$ci" "$fl")" "$(minus "$cb" "$fl")")
    if [ -n "${CLOUDBOOT_BEFORE:-}" ]; then
        bf=$(ms before "$i"); row+=("$bf" "$(minus "$bf" "$fl")")
    fi
    # shellcheck disable=SC2059
    printf "$header\n" "${row[@]}"
done
echo "best possible ratio in this harness (cloud-init / floor): $(ratio "$(ms cloud-init total)" "$(ms floor total)")"
[ -n "${CLOUDBOOT_BEFORE:-}" ] && echo "cloudboot before -> now: $(ms before total) -> $(ms cloudboot total) ms, $(ratio "$(ms cloud-init total)" "$(ms before total)") -> $(ratio "$(ms cloud-init total)" "$(ms cloudboot total)") vs cloud-init"
peak() { tr ' ' '\n' <"$work/$1" | grep . | sort -n | tail -1 | grep . || echo n/a; }
line="peak RSS (KiB), cloudboot's own in any stage run (getrusage, from its log): $(peak cloudboot.own)"
[ -n "${CLOUDBOOT_BEFORE:-}" ] && [ -s "$work/before.own" ] && line="$line (before: $(peak before.own))"
echo "$line"
echo "  per stage run, last run: $(tail -1 "$work/cloudboot.own")"
line="peak RSS (KiB) of the largest process of any stage run (/usr/bin/time: the tool or a program it ran):"
line="$line cloud-init $(peak cloud-init.rss), cloudboot $(peak cloudboot.rss)"
[ -n "${CLOUDBOOT_BEFORE:-}" ] && line="$line, before $(peak before.rss)"
echo "$line"
