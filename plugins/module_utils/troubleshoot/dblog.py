# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who changed OVSDB, and when: the database file's own log (`ovsdb-tool show-log -mm`, read
only), whose every transaction carries its moment and its comment - ovs-vsctl writes its
command line and the process that invoked it ("ovs-vsctl (invoked by libvirtd): ...", "...
(invoked by bash): ..."), this collection "cloudnet.vswitch: N change(s)" (its IDL backend;
its vsctl backend's are ovs-vsctl's). ovsdb-server
compacts the file now and then: what is older than the last compaction is gone."""

from __future__ import annotations

import os
import re

DEFAULT_DB = "/etc/openvswitch/conf.db"
PIDFILES = ("/run/openvswitch/ovsdb-server.pid", "/var/run/openvswitch/ovsdb-server.pid")
TABLES = ("Bridge", "Port", "Interface")
KEEP = 200              # the last transactions kept that touch a bridge, port or interface

_RECORD = re.compile(r'^record \d+: (\S+ \S+)(?: "(.*)")?\s*$')
_TABLE = re.compile(r'^  table (\S+) (insert row|row|delete row) (?:"([^"]*)"|(\S+))')
_COLUMN = re.compile(r"^    ([a-z_]+)=")


def parse(text, keep=KEEP):
    """`ovsdb-tool show-log -mm` -> the last `keep` transactions that touch a Bridge, Port or
    Interface row, oldest first: [{time, comment, rows: [{table, row (its name), op (insert,
    update, delete), columns: [name]}]}]."""
    out, txn, row = [], None, None
    for line in (text or "").splitlines():
        m = _RECORD.match(line)
        if m:
            txn = {"time": m.group(1), "comment": m.group(2), "rows": []}
            out.append(txn)
            row = None
            continue
        m = _TABLE.match(line)
        if m and txn is not None:
            row = None
            if m.group(1) in TABLES and m.group(3):
                op = {"insert row": "insert", "row": "update", "delete row": "delete"}
                row = {"table": m.group(1), "row": m.group(3), "op": op[m.group(2)],
                       "columns": []}
                txn["rows"].append(row)
            continue
        m = _COLUMN.match(line)
        if m and row is not None:
            row["columns"].append(m.group(1))
    return [t for t in out if t["rows"]][-keep:]


def db_file(read, exists=os.path.exists):
    """The database file ovsdb-server serves: the first .db argument of its command line
    (its pidfile's process), else Debian's and Red Hat's default path; None if none exists."""
    for pidfile in PIDFILES:
        pid = (read(pidfile) or "").strip()
        if not pid.isdigit():
            continue
        argv = (read("/proc/%s/cmdline" % pid) or "").split("\0")
        for arg in argv[1:]:
            if arg.endswith(".db") and not arg.startswith("-") and exists(arg):
                return arg
    return DEFAULT_DB if exists(DEFAULT_DB) else None


def read_log(run, read, which):
    """{file, transactions, error}: the log of the database file (ovsdb-tool show-log -mm);
    an error in words where it cannot be read (no file, no ovsdb-tool, a clustered database)."""
    path = db_file(read)
    if path is None:
        return {"file": None, "transactions": [], "error": "no database file found"}
    if not which("ovsdb-tool"):
        return {"file": path, "transactions": [], "error": "ovsdb-tool not installed"}
    rc, out, err = run(["ovsdb-tool", "show-log", "-mm", path])
    if rc != 0:
        return {"file": path, "transactions": [],
                "error": "ovsdb-tool show-log: %s" % " ".join((err or out).split())[:200]}
    return {"file": path, "transactions": parse(out), "error": None}
