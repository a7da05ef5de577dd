"""Runs a command and writes `<exit code> <peak RSS in KiB> <seconds>` to a file.

Usage: peak_rss.py RESULT_FILE COMMAND [ARG...]

The kernel starts a child's ru_maxrss at the high-water mark of the process it
was forked from, so a command started straight from a large test process would
report that process's peak. Forked from this small interpreter instead, the
figure is the command's own, or this interpreter's (about 10 MiB) if larger.
"""
import os
import sys
import time

result, argv = sys.argv[1], sys.argv[2:]
start = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
elapsed = time.monotonic() - start
with open(result, "w") as f:
    f.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss} {elapsed:.3f}\n")
