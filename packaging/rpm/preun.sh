# $1 is 0 on erase (not upgrade).
if [ "$1" = 0 ]; then
    for s in cloudboot-local cloudboot cloudboot-config cloudboot-final; do
        rm -f /etc/systemd/system/multi-user.target.wants/$s.service
        [ -x /sbin/chkconfig ] && /sbin/chkconfig --del $s || :
    done
    for link in /usr/bin/cloud-init /usr/bin/cloud-init-per /usr/bin/cloud-id; do
        [ "$(readlink $link 2>/dev/null)" = cloudboot ] && rm -f $link || :
    done
    rm -f /etc/systemd/system/sockets.target.wants/cloudboot-hotplugd.socket
    link=/usr/libexec/cloud-init/hook-hotplug
    [ "$(readlink $link 2>/dev/null)" = /usr/lib/cloud-init/hook-hotplug ] && rm -f $link || :
    link=/usr/libexec/cloud-init/write-ssh-key-fingerprints
    if [ "$(readlink $link 2>/dev/null)" = /usr/bin/cloudboot ]; then
        rm -f $link
        rmdir /usr/libexec/cloud-init 2>/dev/null || :
    fi
fi
