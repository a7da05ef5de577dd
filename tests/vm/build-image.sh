#!/usr/bin/env bash
# Builds the Debian 12 guest images the VM tests boot, once, into a cache
# keyed on what made them (this script's commands and package lists; its
# comments do not count):
#
#   $CACHE/<key>/systemd/{disk.raw,vmlinuz,initrd.img,packages.txt}
#   $CACHE/<key>/sysv/{disk.raw,vmlinuz,initrd.img,packages.txt}
#
# Each is a stock cloud image as Debian would make one: cloud-init 22.4 from
# Debian's packages, ifupdown with dhclient, sshd, no network configuration
# but loopback, no identity. The systemd image has systemd as init; the SysV
# image has sysvinit-core. Each disk.raw is a 4 GiB sparse file holding an
# MBR partition table with one 2 GiB ext4 partition (room to grow), made
# from the debootstrap'd root with `mke2fs -d` (no loop device, no mount).
# The kernel and initramfs are Debian's own (linux-image-amd64), taken out
# beside the disk for QEMU's direct kernel boot. tests/vm/prepare-disk.sh
# turns a copy into a test disk (cloudboot's .deb in cloud-init's place, the
# test hook).
#
#   sudo tests/vm/build-image.sh            # prints the image directory
#   tests/vm/build-image.sh --cached-only   # the same, but never builds:
#                                           # exit 3 when not built yet
#
# A build interrupted part way resumes from its last finished step.
# Environment: CLOUDBOOT_VM_CACHE (default /var/cache/cloudboot-vm),
# CLOUDBOOT_VM_MIRROR (debootstrap's mirror; default its own).
set -euo pipefail

CACHE=${CLOUDBOOT_VM_CACHE:-/var/cache/cloudboot-vm}
SUITE=bookworm
# What every image has: a kernel, udev, ifupdown with dhclient (Debian's
# cloud images' network stack), sshd, sudo, cloud-init and the tools its
# modules and the tests use.
PACKAGES="linux-image-amd64 initramfs-tools udev kmod ifupdown isc-dhcp-client iproute2 \
openssh-server sudo cloud-init cloud-guest-utils e2fsprogs procps netbase dbus"
# Only the systemd image has these; the SysV one gets sysvinit-core instead.
SYSTEMD_PACKAGES="systemd-sysv"
SYSV_PACKAGES="sysvinit-core"
DISK_SIZE=4G
PART_MIB=2048

log() { printf '[vm-image] %s\n' "$*" >&2; }
die() { printf '[vm-image] ERROR: %s\n' "$*" >&2; exit 1; }

key=$(grep -v '^[[:space:]]*#' "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)
out="$CACHE/$key"
if [ -f "$out/ready" ]; then
    echo "$out"
    exit 0
fi
if [ "${1:-}" = --cached-only ]; then
    echo "[vm-image] not built yet: $out (run tests/vm/build-image.sh as root, with a Debian mirror in reach)" >&2
    exit 3
fi
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot)"
for t in debootstrap mke2fs sfdisk; do
    command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || [ -x "/sbin/$t" ] || die "$t is missing"
done
mkdir -p "$CACHE"
work="$out.build"
mkdir -p "$work"

# Runs a command in a root, with /proc and /dev, in a private mount and UTS
# namespace; no daemon may start.
in_root() {
    local root=$1 status=0
    shift
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
    unshare --mount --uts --propagation private --fork -- bash -c '
        set -e
        r=$1; shift
        hostname localhost
        mount -t proc proc "$r/proc"
        mount --bind /dev "$r/dev"
        export DEBIAN_FRONTEND=noninteractive LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin
        chroot "$r" "$@"
    ' _ "$root" "$@" || status=$?
    rm -f "$root/usr/sbin/policy-rc.d"
    return "${status:-0}"
}

# Step 1: debootstrap. Step 2: the common packages with apt (debootstrap's
# own resolver cannot pick providers of virtual packages, which
# cloud-init's python3-cryptography needs).
base="$work/base"
if [ ! -f "$work/base.done" ]; then
    rm -rf "$base"
    log "debootstrap $SUITE (minbase)"
    # shellcheck disable=SC2086
    unshare --mount --propagation private --fork -- \
        debootstrap --variant=minbase "$SUITE" "$base" ${CLOUDBOOT_VM_MIRROR:-} >"$work/debootstrap.log" 2>&1 \
        || { tail -30 "$work/debootstrap.log" >&2; die "debootstrap failed ($work/debootstrap.log)"; }
    touch "$work/base.done"
fi
if [ ! -f "$work/packages.done" ]; then
    log "apt-get install $PACKAGES"
    # The initramfs is made for the guest, not for this machine's disks.
    mkdir -p "$base/etc/initramfs-tools/conf.d"
    echo MODULES=most >"$base/etc/initramfs-tools/conf.d/cloudboot-vm"
    # (An interrupted earlier attempt may have left dpkg half done.)
    in_root "$base" dpkg --configure -a >"$work/apt-base.log" 2>&1
    # shellcheck disable=SC2086
    in_root "$base" apt-get install -y -qq --no-install-recommends $PACKAGES >>"$work/apt-base.log" 2>&1 \
        || { tail -30 "$work/apt-base.log" >&2; die "apt-get install failed ($work/apt-base.log)"; }
    touch "$work/packages.done"
fi

for init in systemd sysv; do
    d="$work/images/$init"
    [ -f "$d/packages.txt" ] && continue
    r="$work/$init"
    log "$init root"
    rm -rf "$r" "$d"
    cp -a "$base" "$r"
    if [ "$init" = systemd ]; then extra=$SYSTEMD_PACKAGES; else extra=$SYSV_PACKAGES; fi
    # shellcheck disable=SC2086
    in_root "$r" apt-get install -y -qq --no-install-recommends $extra >"$work/apt-$init.log" 2>&1 \
        || { tail -30 "$work/apt-$init.log" >&2; die "apt-get install $extra failed"; }
    in_root "$r" apt-get clean
    if [ "$init" = sysv ]; then
        # Packages installed before sysv-rc made no rc links: make them now
        # from each script's LSB headers, as their postinsts would have.
        in_root "$r" sh -c 'for s in /etc/init.d/*; do update-rc.d "${s##*/}" defaults >/dev/null 2>&1 || true; done'
    fi
    # A fresh cloud image: no identity, no network config but loopback, a
    # root on the first virtio disk.
    echo localhost >"$r/etc/hostname"
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"
    : >"$r/etc/machine-id"
    printf '/dev/vda1\t/\text4\terrors=remount-ro\t0\t1\n' >"$r/etc/fstab"
    printf 'auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n' >"$r/etc/network/interfaces"
    echo LANG=C.UTF-8 >"$r/etc/default/locale"
    rm -f "$r"/etc/ssh/ssh_host_*
    if [ "$init" = systemd ]; then
        # A getty on the console hangs up (vhangup) every other writer.
        ln -sf /dev/null "$r/etc/systemd/system/serial-getty@ttyS0.service"
        ln -sf /dev/null "$r/etc/systemd/system/getty@tty1.service"
    else
        sed -i '/getty/s/^\([^#]\)/#\1/' "$r/etc/inittab"
    fi
    rm -rf "$r/var/lib/cloud" "$r/var/lib/apt/lists/"*_* "$r/var/cache/apt/"*.bin
    find "$r/var/log" -type f -exec truncate -s 0 {} +

    mkdir -p "$d"
    cp "$r"/boot/vmlinuz-* "$d/vmlinuz"
    cp "$r"/boot/initrd.img-* "$d/initrd.img"
    # The partition's filesystem, then the disk around it.
    log "$init disk"
    truncate -s "${PART_MIB}M" "$work/part-$init.ext4"
    mke2fs -q -t ext4 -L root -d "$r" "$work/part-$init.ext4" >/dev/null
    rm -f "$d/disk.raw"
    truncate -s "$DISK_SIZE" "$d/disk.raw"
    printf 'label: dos\nstart=2048, size=%d, type=83\n' $((PART_MIB * 2048)) | sfdisk -q "$d/disk.raw"
    dd if="$work/part-$init.ext4" of="$d/disk.raw" bs=1M seek=1 conv=notrunc,sparse status=none
    rm -f "$work/part-$init.ext4"
    chroot "$r" dpkg-query -W -f '${Package}\t${Version}\n' >"$d/packages.txt.tmp"
    rm -rf "$r"
    mv "$d/packages.txt.tmp" "$d/packages.txt"
done

rm -rf "$out"
mv "$work/images" "$out"
rm -rf "$work"
touch "$out/ready"
log "images ready: $out"
echo "$out"
