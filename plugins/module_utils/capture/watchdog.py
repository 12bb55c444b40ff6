# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The capture's watchdog: a detached process (host/proc.py's detach, so neither Ansible nor
SSH waits for it), started before anything else. The module tells it through a pipe which
tcpdumps run (PID + start time, so a recycled PID is never signalled), which mirrors exist,
and the deadline. It stops every tcpdump (SIGINT, SIGKILL KILL_AFTER later) and removes the
mirrors in one transaction when the deadline passes or the pipe closes without a "done" (the
module died), then exits; on "done" it exits at once. It never outlives its job."""

from __future__ import annotations

import json
import os
import select
import signal
import time

from ansible_collections.cloudnet.vswitch.plugins.module_utils.capture import targets
from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import VswitchError
from ansible_collections.cloudnet.vswitch.plugins.module_utils.host import proc
from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb import idl

# The watchdog stops tcpdump this long after the duration, and SIGKILLs it KILL_AFTER later:
# every tcpdump is gone by duration + GRACE + KILL_AFTER < duration + 5 s.
GRACE = 3.0
KILL_AFTER = 1.5


class Watchdog(object):
    """The module's end of the pipe to the detached watchdog process."""

    def __init__(self, deadline, db, timeout):
        rfd, wfd = os.pipe()
        self.pid, _start = proc.detach(lambda: _main(rfd, deadline, db, timeout), keep=(rfd,))
        os.close(rfd)
        self.fd = wfd

    def send(self, **msg):
        if self.fd is None:
            return
        try:
            os.write(self.fd, (json.dumps(msg) + "\n").encode())
        except OSError:
            pass  # the watchdog is gone: the module itself still cleans up

    def close(self, done):
        if self.fd is None:
            return
        if done:
            self.send(done=True)
        os.close(self.fd)
        self.fd = None


def _main(rfd, deadline, db, timeout):  # pragma: no cover - a detached process
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    procs, mirrors, tables = {}, [], []
    buf = b""
    while True:
        left = deadline - time.time()
        if left <= 0:
            break
        ready, _w, _x = select.select([rfd], [], [], min(left, 1.0))
        if not ready:
            continue
        chunk = os.read(rfd, 65536)
        if not chunk:
            break  # the module is gone without saying "done"
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                msg = json.loads(line.decode())
            except ValueError:
                continue
            if msg.get("done"):
                return
            if "deadline" in msg:
                deadline = msg["deadline"]
            if "pid" in msg:
                procs[msg["pid"]] = msg["start"]
            if "mirrors" in msg:
                mirrors = msg["mirrors"]
                tables = msg.get("tables", [])
                db, timeout = msg.get("db", db), msg.get("timeout", timeout)
    proc.stop(procs, KILL_AFTER)
    remove_mirrors(db, timeout, mirrors, tables, proc.run)


def remove_mirrors(db, timeout, mirrors, tables, run):
    """Remove our mirrors and capture ports (one transaction), then their nftables tables.
    Idempotent: only rows still present and marked as ours are touched. Returns errors."""
    errors = []
    if mirrors:
        try:
            with idl.Client(db=db, timeout=timeout) as client:
                _plan, next_cfg = client.apply(
                    lambda world: targets.OpsPlan(targets.unmirror_ops(world, mirrors)))
                client.wait_applied(next_cfg)
        except VswitchError as exc:
            errors.append("removing the mirrors %s: %s" % (
                ", ".join(m["name"] for m in mirrors), exc))
    for table in tables:
        rc, _out, err = run(["nft", "delete", "table", "netdev", table])
        if rc != 0 and "No such file" not in (err or ""):
            errors.append("nft delete table netdev %s: %s" % (table, (err or "").strip()))
    return errors
