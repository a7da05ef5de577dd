# shellcheck shell=bash
# The private boot harness: boots a copy of a Debian root (cloud-init's stages or cloudboot's)
# as if it were a machine of its own, without touching this one. Sourced, not run, by
# benches/vs-cloud-init.sh, tests/fixtures/analyze/record.sh and tests/fixtures/modules/record.sh,
# so that the timings, the analyze fixtures and the module fixtures all come from one harness.
#
#   source scripts/chroot-harness.sh
#   harness_boot FUNCTION [ARG]...        run the caller's shell FUNCTION as PID 1 of fresh
#                                         namespaces (it sees its ARGs and this file, nothing else)
#   harness_unshare COMMAND [ARG]...      run COMMAND as PID 1 of fresh namespaces
#   harness_enter ROOT TAG [HOSTNAME]     inside them: give ROOT what a booted system has
#   harness_run ROOT [NAME=VALUE]... COMMAND [ARG]...
#                                         run COMMAND chrooted into ROOT with a clean environment
#
# The namespaces (uts, mount, pid, net, ipc) are private: the hostname, the mounts and the
# network a tool changes are the harness's, and go when its PID 1 exits.

HARNESS_LIB=$(realpath "${BASH_SOURCE[0]}")
# The PATH a command run in the root gets (a booted Debian's); harness_run's callers may
# give another as PATH=..., and a wrapper (/usr/bin/time) put before chroot uses it directly.
HARNESS_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

harness_unshare() {
    unshare --uts --mount --pid --net --ipc --propagation private --fork -- "$@"
}

# The function is shipped to the new bash as its own text (declare -f), so it must not use
# the caller's variables or other functions: what it needs comes in as arguments.
harness_boot() {
    local fn=$1
    shift
    harness_unshare bash -c "set -e; source \"\$0\"; $(declare -f "$fn"); $fn \"\$@\"" "$HARNESS_LIB" "$@"
}

# TAG names the mounts (TAG-proc, TAG-dev, TAG-run), so that one seen where it should not be
# says whose it is. HOSTNAME defaults to localhost, as is one it cannot set.
harness_enter() {
    local root=$1 tag=$2 name=${3:-localhost} d n ma mi
    # unshare --propagation private has done this already; done again so that nothing
    # mounted below can reach this machine's namespace, however the caller got here.
    mount --make-rprivate /
    hostname "$name" 2>/dev/null || hostname localhost
    # The root must be a mount point, as on a real system: cloud-init reads the
    # filesystem of / from /proc/self/mountinfo (cc_mounts' swap file code does).
    mount --bind "$root" "$root"
    mount -t proc "$tag-proc" "$root/proc"
    # /dev and /run are small tmpfs of the harness's own: the tools see the devices a
    # system has, never this machine's disks, and cannot fill its memory.
    mount -t tmpfs -o mode=0755,size=16m "$tag-dev" "$root/dev"
    for d in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
        IFS=: read -r n ma mi <<<"$d"
        mknod -m 666 "$root/dev/$n" c "$ma" "$mi"
    done
    ln -s /proc/self/fd "$root/dev/fd"
    ln -s /proc/self/fd/0 "$root/dev/stdin"
    ln -s /proc/self/fd/1 "$root/dev/stdout"
    ln -s /proc/self/fd/2 "$root/dev/stderr"
    mkdir -p "$root/dev/pts" "$root/dev/shm"
    mount -t tmpfs -o mode=0755,size=64m "$tag-run" "$root/run"
    mkdir -p "$root/run/lock"
}

# env -i: nothing of this machine's environment reaches the tool; env applies its
# assignments in order, so a caller's PATH=... replaces HARNESS_PATH.
harness_run() {
    local root=$1
    shift
    chroot "$root" /usr/bin/env -i PATH="$HARNESS_PATH" "$@"
}
