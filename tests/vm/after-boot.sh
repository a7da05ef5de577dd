#!/bin/sh
# Runs in the guest on every boot (a systemd unit after multi-user.target, or
# rc.local on SysV): waits until this boot's final stage has written
# boot-finished, records what the boot left in /var/vm-test/boot-N, and
# powers the guest off. The test reads the records from the disk after QEMU
# has exited (debugfs, no mount). Whatever happens, the guest powers off
# within 8 minutes.
set -u
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mkdir -p /var/vm-test
n=$(( $(cat /var/vm-test/boots 2>/dev/null || echo 0) + 1 ))
echo "$n" >/var/vm-test/boots
out=/var/vm-test/boot-$n
mkdir -p "$out"
btime=$(awk '/^btime/ {print $2}' /proc/stat)
finished=/var/lib/cloud/instance/boot-finished
waited=0
while :; do
    if [ -e "$finished" ] && [ "$(stat -L -c %Y "$finished")" -ge "$btime" ]; then
        break
    fi
    if [ "$waited" -ge 480 ]; then
        echo "boot-finished never came" >"$out/timeout"
        break
    fi
    sleep 1
    waited=$((waited + 1))
done
cat /proc/uptime >"$out/uptime-after-final"
cp "$finished" "$out/boot-finished" 2>/dev/null
ip -o addr show >"$out/addr"
ip -o link show >"$out/link"
ip -4 route show >"$out/route"
ip -6 route show >"$out/route6"
ls /sys/class/net >"$out/nics"
hostname >"$out/hostname"
cloud-init status --long >"$out/status" 2>&1
cp /var/log/cloud-init.log /var/log/cloud-init-output.log "$out/" 2>/dev/null
cp -r /etc/network/interfaces.d "$out/interfaces.d" 2>/dev/null
cp /etc/udev/rules.d/70-persistent-net.rules "$out/" 2>/dev/null
find /home /root -name authorized_keys -exec sh -c 'for f; do echo "== $f"; cat "$f"; done' _ {} + >"$out/authorized_keys" 2>&1
cp /var/lib/cloud/data/result.json /var/lib/cloud/data/status.json "$out/" 2>/dev/null
cat /etc/ssh/ssh_host_*_key.pub >"$out/host-keys" 2>/dev/null
cat /etc/machine-id >"$out/machine-id" 2>/dev/null
cat /etc/fstab >"$out/fstab"
findmnt -rn -o TARGET,SOURCE,SIZE >"$out/mounts" 2>/dev/null || cat /proc/mounts >"$out/mounts"
df -B1 --output=size / | tail -1 >"$out/root-size"
ls -l /etc/rcS.d /etc/rc2.d >"$out/rc-links" 2>/dev/null
# Service start order as the init system saw it.
if command -v systemd-analyze >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemd-analyze critical-chain >"$out/critical-chain" 2>&1
fi
# `cloudboot analyze boot` reads systemd's timestamps and this boot's log;
# beside it, what systemd itself says (and the kernel's boot time), for the
# test to compare.
echo "$btime" >"$out/btime"
if command -v cloudboot >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    cloudboot analyze boot >"$out/analyze-boot" 2>&1
    echo "exit $?" >>"$out/analyze-boot"
    {
        systemctl show -p UserspaceTimestampMonotonic
        for unit in cloudboot-local cloud-init-local; do
            echo "$unit $(systemctl show "$unit" -p InactiveExitTimestampMonotonic)"
        done
    } >"$out/systemd-timestamps" 2>&1
fi
sync
poweroff
