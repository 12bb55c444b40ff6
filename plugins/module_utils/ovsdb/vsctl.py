# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ovs-vsctl backend: the IDL client's interface for hosts without the python ovs bindings.
It reads with `--format=json --data=json` (decoded by rows.py like the IDL's reads) and commits
a plan as ONE ovs-vsctl transaction (vswitch/vsctl.py's, an argv, never a shell), which itself
waits for ovs-vswitchd."""

from __future__ import annotations

import json
import time

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    OvsdbError,
    OvsdbTimeout,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb.connect import resolve_remote
from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb.rows import (
    SELECT,
    interfaces_of,
    world_from_json,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import vsctl


def parse_vsctl_lists(text):
    """The JSON objects `ovs-vsctl --format=json --data=json list T -- list U ...` prints, one
    per line, as {table: [row dicts]} in the order of SELECT."""
    out = {}
    lines = [line for line in text.splitlines() if line.strip()]
    for (table, _columns), line in zip(SELECT, lines):
        data = json.loads(line)
        out[table] = [dict(zip(data["headings"], row)) for row in data["data"]]
    return out


class VsctlClient(object):
    """The IDL Client's interface over ovs-vsctl."""

    name = "vsctl"

    def __init__(self, db=None, timeout=30, run=None):
        if run is None:
            raise ValueError("VsctlClient needs a run callable")
        self.remote = resolve_remote(db)
        self.timeout = timeout
        self.run = run
        self.uuids = {}
        self.stats = {"retries": 0, "commit_s": 0.0, "wait_s": 0.0, "connect_s": 0.0}

    def _vsctl(self, args, what, timeout_msg):
        argv = ["ovs-vsctl", "--db=%s" % self.remote, "--timeout=%d" % max(1, self.timeout)]
        rc, out, err = self.run(argv + list(args))
        if rc != 0:
            text = (err or out or "").strip()
            # --timeout ends ovs-vsctl with SIGALRM (rc 142 through a shell, -14 without one)
            if rc in (142, -14) or "Alarm clock" in text or "timed out" in text:
                raise OvsdbTimeout("no answer within %ss: %s (ovs-vsctl: %s)"
                                   % (self.timeout, timeout_msg, text))
            raise OvsdbError("ovs-vsctl failed %s (rc=%s): %s" % (what, rc, text))
        return out

    def connect(self):
        start = time.monotonic()
        self.world()
        self.stats["connect_s"] = time.monotonic() - start
        return self

    def close(self):
        pass

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.close()

    def world(self):
        args = ["--format=json", "--data=json"]
        for i, (table, columns) in enumerate(SELECT):
            args += (["--"] if i else []) + ["--columns=%s" % ",".join(columns), "list", table]
        text = self._vsctl(args, "reading OVSDB", "ovsdb-server did not answer; is it running?")
        w, self.uuids = world_from_json(parse_vsctl_lists(text))
        return w

    def interfaces(self, names):
        return interfaces_of(self.world(), names)

    def apply(self, replan):
        plan = replan(self.world())
        if not plan.ops:
            return plan, None
        start = time.monotonic()
        try:
            self._vsctl(vsctl.transaction(plan.ops, self.uuids),
                        "applying the transaction (ovsdb-server refused it: nothing was changed)",
                        "either ovsdb-server did not answer (then nothing was changed) or it "
                        "committed the change and ovs-vswitchd did not apply it; ovs-vsctl "
                        "cannot tell which: check that both daemons run, then run again")
        finally:
            self.stats["commit_s"] += time.monotonic() - start
        return plan, True

    def wait_applied(self, next_cfg):
        """ovs-vsctl (without --no-wait) already waited for ovs-vswitchd."""
