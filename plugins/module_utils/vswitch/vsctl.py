# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A plan's OVSDB ops as ovs-vsctl: the clauses of the equivalent transaction (the `commands`
a task returns, and what `rendered` prints), and the transaction the ovs-vsctl backend
commits (ovsdb/vsctl.py): the same clauses made safe to replay."""

from __future__ import annotations

import re
import shlex

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import OvsdbError


def render_value(value):
    """A value in ovs-vsctl's column syntax."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple, set)):
        return "[" + ",".join(render_value(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = ('"%s"=%s' % (k, render_value(v)) for k, v in sorted(value.items()))
        return "{" + ",".join(pairs) + "}"
    text = str(value)
    # ovs-vsctl reads a bare empty value as an error ('use "" to represent the empty string')
    return '"%s"' % text.replace('"', '\\"') if not text or re.search(r'[^\w.\-]', text) \
        else text


def render_sets(columns):
    """column=value arguments; maps as column:key=value so they merge like our setkey."""
    out = []
    for column, value in sorted(columns.items()):
        if isinstance(value, dict):
            out += ["%s:%s=%s" % (column, k, render_value(v)) for k, v in sorted(value.items())]
        else:
            out.append("%s=%s" % (column, render_value(value)))
    return out


def clauses(op):
    """ovs-vsctl argv clauses (without the separating '--') for one op."""
    kind = op["kind"]
    if kind == "add_bridge":
        out = [["add-br", op["name"]]]
        for table, columns in (("Bridge", op["columns"]), ("Port", op["port_columns"])):
            sets = render_sets(columns)
            if sets:
                out.append(["set", table, op["name"]] + sets)
        return out
    if kind == "del_bridge":
        return [["del-br", op["name"]]]
    if kind == "set":
        if op["value"] in (None, [], {}):
            return [["clear", op["table"], op["name"], op["column"]]]
        return [["set", op["table"], op["name"], "%s=%s" % (op["column"],
                                                            render_value(op["value"]))]]
    if kind == "setkey":
        return [["set", op["table"], op["name"], '%s:%s=%s' % (op["column"], op["key"],
                                                               render_value(op["value"]))]]
    if kind == "delkey":
        return [["remove", op["table"], op["name"], op["column"], op["key"]]]
    if kind == "add_port":
        ifaces = op["interfaces"]
        if len(ifaces) == 1 and ifaces[0]["name"] == op["name"]:
            out = [["add-port", op["bridge"], op["name"]]]
        elif len(ifaces) > 1:
            out = [["add-bond", op["bridge"], op["name"]] + [i["name"] for i in ifaces]]
        else:  # one interface named unlike its port: create both rows explicitly
            out = [["--id=@%s" % ifaces[0]["name"], "create", "Interface",
                    "name=%s" % ifaces[0]["name"]],
                   ["--id=@%s" % op["name"], "create", "Port", "name=%s" % op["name"],
                    "interfaces=@%s" % ifaces[0]["name"]],
                   ["add", "Bridge", op["bridge"], "ports", "@%s" % op["name"]]]
        sets = render_sets(op["columns"])
        if sets:
            out.append(["set", "Port", op["name"]] + sets)
        for i in ifaces:
            sets = render_sets(i["columns"])
            if sets:
                out.append(["set", "Interface", i["name"]] + sets)
        return out
    if kind == "del_port":
        return [["del-port", op["bridge"], op["name"]]]
    if kind == "move_port":
        # ovs-vsctl cannot move a row; the closest equivalent re-adds the port.
        return [["del-port", op["from_bridge"], op["name"]], ["add-port", op["bridge"], op["name"]]]
    if kind == "add_iface":
        out = [["add", "Port", op["port"], "interfaces", "@%s" % op["name"]],
               ["--id=@%s" % op["name"], "create", "Interface", "name=%s" % op["name"]]]
        return out
    if kind == "del_iface":
        return [["remove", "Port", op["port"], "interfaces", "[Interface]%s" % op["name"]]]
    raise ValueError("unknown op %r" % kind)


def commands(ops, kernel=()):
    """The equivalent commands as a user would type them: one ovs-vsctl transaction for `ops`,
    then the `ip` argv lists of `kernel`."""
    out = []
    argv = ["ovs-vsctl"]
    for op in ops:
        for clause in clauses(op):
            argv += ["--"] + clause
    if len(argv) > 1:
        out.append(" ".join(shlex.quote(a) for a in argv))
    out.extend(" ".join(shlex.quote(a) for a in argv) for argv in kernel)
    return out


def transaction(ops, uuids):
    """One ovs-vsctl argv (after the global options) for a plan's ops: the same clauses as
    commands(), made safe to replay (--may-exist / --if-exists) and exact where ovs-vsctl has
    no by-name form (moving a port or removing a bond member keeps its row). `uuids`:
    {(table, name): uuid} of the world the plan was made on."""
    argv = []
    for op in ops:
        kind = op["kind"]
        if kind in ("add_mirror", "del_mirror"):
            raise OvsdbError("a mirror capture needs the python ovs bindings")
        if kind == "move_port":
            uuid = uuids[("Port", op["name"])]
            out = [["remove", "Bridge", op["from_bridge"], "ports", uuid],
                   ["add", "Bridge", op["bridge"], "ports", uuid]]
        elif kind == "del_iface":
            out = [["remove", "Port", op["port"], "interfaces",
                    uuids[("Interface", op["name"])]]]
        else:
            out = clauses(op)
            first = out[0]
            if first[0] in ("add-br", "add-port", "add-bond"):
                out[0] = ["--may-exist"] + first
            elif first[0] in ("del-br", "del-port"):
                out[0] = ["--if-exists"] + first
        for clause in out:
            argv += ["--"] + clause
    return argv
