"""Run argv as a child and write its peak resident set size (kernel's ru_maxrss of the waited-for
children, i.e. the largest of them: the child itself here) and wall time as JSON to OUT.

  python bench/tools/peak_rss.py OUT -- argv...

The child's stdout/stderr pass through unchanged; the exit status is the child's. Used for the
module process on the host (P = 5,000) and for the pcap report beside tshark and capinfos.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def main(argv):
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write("usage: peak_rss.py OUT -- argv...\n")
        return 2
    out, cmd = argv[0], argv[2:]
    start = time.monotonic()
    rc = subprocess.call(cmd)
    wall = time.monotonic() - start
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w") as f:
        json.dump({"rc": rc, "wall_s": wall, "maxrss_kib": ru.ru_maxrss,
                   "user_s": ru.ru_utime, "sys_s": ru.ru_stime}, f)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
