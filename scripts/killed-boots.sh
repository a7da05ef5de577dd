#!/usr/bin/env bash
# Kills N boots (default 500) at random points of every stage, boots each
# again, and prints what it counted: torn files, duplicated script runs and
# appends, temporary files left behind, invalid JSON (all must be 0), and
# the scripts cut short by a kill (reported by the next boot, not run again).
# Needs root (scripts run inside scratch roots under chroot) and
# busybox-static. Repeat a run with CLOUDBOOT_KILL_SEED=<seed it printed>.
#
#   sudo scripts/killed-boots.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
export CLOUDBOOT_KILLED_BOOTS=${1:-500}
exec cargo test --release --test killed_boots -- --nocapture
