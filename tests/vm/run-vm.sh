#!/usr/bin/env bash
# Boots one guest disk under QEMU until the guest powers itself off (or the
# timeout), its serial console written to a file. No network leaves the
# machine: every NIC is QEMU's user networking with restrict=on (the guest
# reaches nothing but the explicit guestfwd forwards given here).
#
#   tests/vm/run-vm.sh --kernel-dir DIR --disk DISK --serial LOG \
#       [--nic MAC[,net=CIDR][,guestfwd=RULE]]... [--cdrom ISO] [--drive RAW]... \
#       [--smbios TYPE1-OPTIONS] [--timeout SECONDS]
#   tests/vm/run-vm.sh --kernel-dir DIR --disk - --serial - --probe-only   # prints kvm or tcg
#
# DIR holds vmlinuz and initrd.img (tests/vm/build-image.sh makes them); the
# kernel boots /dev/vda1 with net.ifnames=0, so NICs are eth0, eth1, ... in
# the order given. The accelerator is KVM only where a probe shows that a
# kernel gets as far as its root-mount panic under it within 30 s (KVM may
# exist and hang); else TCG. CLOUDBOOT_VM_ACCEL=kvm|tcg skips the probe.
# Exit status: QEMU's; 124 when the timeout killed it.
set -euo pipefail

kdir="" disk="" serial="" cdrom="" smbios="" timeout=600 probe_only=""
nics=() drives=()
while [ $# -gt 0 ]; do
    case "$1" in
        --probe-only) probe_only=1; shift; continue ;;
        --kernel-dir) kdir=$2 ;;
        --disk) disk=$2 ;;
        --serial) serial=$2 ;;
        --nic) nics+=("$2") ;;
        --cdrom) cdrom=$2 ;;
        --drive) drives+=("$2") ;;
        --smbios) smbios=$2 ;;
        --timeout) timeout=$2 ;;
        *) echo "run-vm.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift 2
done
[ -n "$kdir" ] && [ -n "$disk" ] && [ -n "$serial" ] || { echo "run-vm.sh: --kernel-dir, --disk and --serial are required" >&2; exit 2; }

QEMU=${QEMU:-qemu-system-x86_64}

# The probe's answer is kept for this machine's boot (keyed on its boot id):
# a hung KVM costs its 30 s once, not per guest.
probe_accel() {
    if [ -n "${CLOUDBOOT_VM_ACCEL:-}" ]; then
        echo "$CLOUDBOOT_VM_ACCEL"
        return
    fi
    if [ ! -w /dev/kvm ]; then
        echo tcg
        return
    fi
    local cache log answer
    cache="${TMPDIR:-/tmp}/cloudboot-vm-accel.$(cat /proc/sys/kernel/random/boot_id).$(id -u)"
    if [ -f "$cache" ]; then
        cat "$cache"
        return
    fi
    log=$(mktemp)
    timeout -k 5 30 "$QEMU" -accel kvm -m 256 -display none -monitor none -no-reboot \
        -serial "file:$log" -kernel "$kdir/vmlinuz" \
        -append "console=ttyS0 panic=-1 root=/dev/cloudboot-probe-none" >/dev/null 2>&1 || true
    if grep -q "Kernel panic" "$log"; then answer=kvm; else answer=tcg; fi
    rm -f "$log"
    echo "$answer" >"$cache"
    echo "$answer"
}
accel=$(probe_accel)
if [ -n "$probe_only" ]; then
    echo "$accel"
    exit 0
fi

args=(-accel "$accel" -m 1024 -smp 1 -display none -monitor none -no-reboot
    -serial "file:$serial"
    -kernel "$kdir/vmlinuz" -initrd "$kdir/initrd.img"
    -append "root=/dev/vda1 ro console=ttyS0 net.ifnames=0 panic=-1"
    -drive "file=$disk,format=raw,if=virtio")
for d in "${drives[@]}"; do
    args+=(-drive "file=$d,format=raw,if=virtio")
done
if [ -n "$cdrom" ]; then
    args+=(-drive "file=$cdrom,media=cdrom,if=ide,readonly=on")
fi
if [ -n "$smbios" ]; then
    args+=(-smbios "type=1,$smbios")
fi
i=0
for nic in "${nics[@]}"; do
    mac=${nic%%,*}
    extra=""
    [ "$nic" != "$mac" ] && extra=",${nic#*,}"
    args+=(-netdev "user,id=n$i,restrict=on$extra" -device "virtio-net-pci,netdev=n$i,mac=$mac")
    i=$((i + 1))
done
[ "$i" -gt 0 ] || args+=(-nic none)

echo "run-vm.sh: $QEMU ${args[*]}" >&2
status=0
timeout -k 10 "$timeout" "$QEMU" "${args[@]}" </dev/null || status=$?
exit "$status"
