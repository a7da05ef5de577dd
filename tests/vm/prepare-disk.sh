#!/usr/bin/env bash
# Makes a test disk from a built image (tests/vm/build-image.sh): a sparse
# copy of its disk.raw with the test hook installed and, unless the system
# under test is cloud-init, cloudboot's .deb installed in cloud-init's place
# exactly as a user would: `dpkg --remove cloud-init` (its configuration,
# /etc/cloud, stays) then `dpkg -i cloudboot_*.deb`, inside the guest's
# root.
#
#   sudo tests/vm/prepare-disk.sh IMAGE_DIR/INIT OUT.raw cloud-init
#   sudo tests/vm/prepare-disk.sh IMAGE_DIR/INIT OUT.raw dist/cloudboot_*.deb
#
# The test hook (tests/vm/after-boot.sh) runs after every boot: a systemd
# unit after multi-user.target, or rc.local on SysV.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
img=$1 out=$2 system=$3
[ "$(id -u)" = 0 ] || { echo "prepare-disk.sh: needs root (loop mount, chroot)" >&2; exit 1; }
[ -f "$img/disk.raw" ] || { echo "prepare-disk.sh: no $img/disk.raw" >&2; exit 1; }

cp --sparse=always "$img/disk.raw" "$out.tmp"
mnt=$(mktemp -d)
# The partition starts at sector 2048 (build-image.sh's table).
unshare --mount --propagation private --fork -- bash -euo pipefail -c '
    out=$1 mnt=$2 system=$3 here=$4 init=$5
    mount -o loop,offset=1048576 "$out" "$mnt"
    trap "umount -R $mnt" EXIT
    install -D -m 0755 "$here/after-boot.sh" "$mnt/usr/local/sbin/vm-after-boot"
    if [ "$init" = systemd ]; then
        cat >"$mnt/etc/systemd/system/vm-after-boot.service" <<UNIT
[Unit]
Description=VM test: record the boot and power off
After=multi-user.target

[Service]
Type=simple
ExecStart=/usr/local/sbin/vm-after-boot

[Install]
WantedBy=multi-user.target
UNIT
        mkdir -p "$mnt/etc/systemd/system/multi-user.target.wants"
        ln -sf /etc/systemd/system/vm-after-boot.service \
            "$mnt/etc/systemd/system/multi-user.target.wants/vm-after-boot.service"
    else
        # rc.local runs last in runlevel 2; the hook waits for the final
        # stage in the background.
        printf "#!/bin/sh\n/usr/local/sbin/vm-after-boot </dev/null >/dev/null 2>&1 &\nexit 0\n" >"$mnt/etc/rc.local"
        chmod 755 "$mnt/etc/rc.local"
    fi
    if [ "$system" != cloud-init ]; then
        cp "$system" "$mnt/tmp/cloudboot.deb"
        mount -t proc proc "$mnt/proc"
        mount --bind /dev "$mnt/dev"
        printf "#!/bin/sh\nexit 101\n" >"$mnt/usr/sbin/policy-rc.d"
        chmod 755 "$mnt/usr/sbin/policy-rc.d"
        export DEBIAN_FRONTEND=noninteractive LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin
        chroot "$mnt" dpkg --remove cloud-init >/dev/null
        chroot "$mnt" dpkg -i /tmp/cloudboot.deb >/dev/null
        rm -f "$mnt/tmp/cloudboot.deb" "$mnt/usr/sbin/policy-rc.d"
    fi
' _ "$out.tmp" "$mnt" "$system" "$HERE" "$(basename "$img")"
rmdir "$mnt"
mv "$out.tmp" "$out"
