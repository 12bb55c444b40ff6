# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ovs-appctl calls to ovs-vswitchd (fdb/show, bond/show, lacp/show, ofproto/trace, ...), as
argv lists with a timeout. `run` is a callable argv -> (rc, stdout, stderr)."""

from __future__ import annotations

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import OvsdbError


def call(run, *args, **kw):
    """stdout of `ovs-appctl [--target=T] --timeout=S ARGS`; OvsdbError naming the command
    and ovs-appctl's message on failure."""
    argv = ["ovs-appctl", "--timeout=%d" % kw.get("timeout", 10)]
    if kw.get("target"):
        argv.append("--target=%s" % kw["target"])
    argv += [str(a) for a in args]
    rc, out, err = run(argv)
    if rc != 0:
        raise OvsdbError("'%s' failed (rc=%s): %s" % (" ".join(argv), rc,
                                                      (err or out or "").strip()))
    return out
