# cloudboot takes cloud-init's place: /usr/bin/cloud-init becomes a link to it
# (cargo-generate-rpm cannot ship links), and its stages start at boot: systemd units on EL7+, chkconfig on EL6
# (the scripts' chkconfig lines put the local stage before network and
# NetworkManager).
ln -sf cloudboot /usr/bin/cloud-init
# cloud-init's helper for bootcmd and boothooks, gone with cloud-init's package.
[ -e /usr/bin/cloud-init-per ] || ln -s cloudboot /usr/bin/cloud-init-per
[ -e /usr/bin/cloud-id ] || ln -s cloudboot /usr/bin/cloud-id
# keys_to_console's helper (EL's usr_lib_exec is /usr/libexec), likewise.
if [ ! -e /usr/libexec/cloud-init/write-ssh-key-fingerprints ]; then
    mkdir -p /usr/libexec/cloud-init
    ln -s /usr/bin/cloudboot /usr/libexec/cloud-init/write-ssh-key-fingerprints
fi
# Network hotplug's hook, where the udev rule looks on EL (libexecdir).
mkdir -p /usr/libexec/cloud-init
[ -e /usr/libexec/cloud-init/hook-hotplug ] || ln -s /usr/lib/cloud-init/hook-hotplug /usr/libexec/cloud-init/hook-hotplug
if [ -d /run/systemd/system ] || [ -x /usr/bin/systemctl ]; then
    mkdir -p /etc/systemd/system/multi-user.target.wants
    for s in cloudboot-local cloudboot cloudboot-config cloudboot-final; do
        ln -sf /usr/lib/systemd/system/$s.service /etc/systemd/system/multi-user.target.wants/$s.service
    done
    mkdir -p /etc/systemd/system/sockets.target.wants
    ln -sf /usr/lib/systemd/system/cloudboot-hotplugd.socket /etc/systemd/system/sockets.target.wants/cloudboot-hotplugd.socket
elif [ -x /sbin/chkconfig ]; then
    for s in cloudboot-local cloudboot cloudboot-config cloudboot-final; do
        /sbin/chkconfig --add $s || :
    done
fi
