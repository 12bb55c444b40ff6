# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one OVSDB client: the only file that touches the `ovs` Python IDL.

It connects to ovsdb-server's unix socket, fetches the schema from the server (no schema file
needed on the host), registers only the columns the engine reads or writes, waits for the first
snapshot with a deadline, turns it into the engine's plain "world" snapshot, and commits a plan
as ONE transaction: verify on every column the plan read, retry on TRY_AGAIN by re-reading and
re-planning (bounded), then wait like ovs-vsctl until ovs-vswitchd has applied it
(cur_cfg >= next_cfg) and read back `error` and `ofport` of every interface it touched.
Every wait has a deadline; every failure is an OvsdbError / OvsdbTimeout with a clear message.
"""

from __future__ import annotations

import json
import os
import time

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    MissingLibrary,
    OvsdbError,
    OvsdbTimeout,
)

try:
    import ovs.jsonrpc
    import ovs.poller
    import ovs.stream
    import ovs.vlog

    IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised on hosts without the bindings
    IMPORT_ERROR = exc

DEFAULT_SOCKETS = ("/run/openvswitch/db.sock", "/var/run/openvswitch/db.sock")
PACKAGES = "python3-openvswitch (Debian/Ubuntu), python3-openvswitch or python3-ovs " \
           "(RHEL family, from the NFV/OpenStack repositories), or 'pip install ovs'"

# Only what the engine reads or writes. (The Python IDL does not monitor columns registered
# as "readonly" at all, so the status columns vswitchd writes are registered like the rest.)
COLUMNS = {
    "Open_vSwitch": ["bridges", "next_cfg", "cur_cfg", "external_ids"],
    "Bridge": ["name", "ports", "datapath_type", "fail_mode", "stp_enable", "other_config",
               "external_ids", "mirrors"],
    "Port": ["name", "interfaces", "tag", "trunks", "vlan_mode", "bond_mode", "lacp",
             "other_config", "external_ids"],
    "Interface": ["name", "type", "external_ids", "mtu_request", "options", "ofport", "error",
                  "mac_in_use", "link_state", "admin_state", "mtu"],
    # The capture module's temporary mirrors.
    "Mirror": ["name", "select_src_port", "select_dst_port", "output_port", "external_ids"],
}
OPTIONAL = {"fail_mode", "tag", "vlan_mode", "bond_mode", "lacp", "mtu_request", "ofport",
            "error", "mac_in_use", "link_state"}


def _idl():
    """The IDL, imported when a commit needs it (reads never do: see Client.snapshot)."""
    import ovs.db.idl

    return ovs.db.idl


def require_ovs():
    if IMPORT_ERROR is not None:
        raise MissingLibrary("ovs", PACKAGES, IMPORT_ERROR)


def resolve_remote(db):
    """`db` as given, or the first default socket that exists."""
    if db:
        if db.startswith(("unix:", "tcp:", "ssl:")):
            return db
        return "unix:" + db
    for path in DEFAULT_SOCKETS:
        if os.path.exists(path):
            return "unix:" + path
    raise OvsdbError("no OVSDB socket at %s: is ovsdb-server running? (set db: to its "
                     "socket)" % " or ".join(DEFAULT_SOCKETS))


class Deadline(object):
    def __init__(self, seconds):
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left_ms(self):
        return max(0, int((self.end - time.monotonic()) * 1000))

    def expired(self):
        return time.monotonic() >= self.end


class Client(object):
    """One session with ovsdb-server for one task."""

    name = "idl"

    def __init__(self, db=None, timeout=30, retries=10):
        require_ovs()
        # The IDL logs through vlog; keep it off stderr, which Ansible would show as noise.
        ovs.vlog.Vlog.set_levels_from_string("any:console:off")
        self.remote = resolve_remote(db)
        self.timeout = timeout
        self.retries = retries
        self.idl = None
        self.stats = {"retries": 0, "commit_s": 0.0, "wait_s": 0.0, "connect_s": 0.0}

    # ------------------------------------------------------------------ connect / read
    def connect(self):
        """The IDL session that a commit needs: schema, registered columns, first snapshot."""
        if self.idl is not None:
            return self
        start = time.monotonic()
        deadline = Deadline(self.timeout)
        schema = self._request("get_schema", ["Open_vSwitch"], deadline, "the schema")
        helper = _idl().SchemaHelper(schema_json=schema)
        for table, columns in COLUMNS.items():
            helper.register_columns(table, columns)
        self.idl = _idl().Idl(self.remote, helper, probe_interval=0)
        self._run_until(lambda: self.idl.has_ever_connected() and self.idl.change_seqno > 0
                        and self._root() is not None, deadline, "the first OVSDB snapshot")
        self.stats["connect_s"] += time.monotonic() - start
        return self

    def close(self):
        if self.idl is not None:
            self.idl.close()
            self.idl = None

    def __enter__(self):
        # Nothing to open yet: reads are one `select` each (snapshot), and only a plan with
        # changes opens the IDL session (apply).
        return self

    def __exit__(self, *exc):
        self.close()

    def snapshot(self):
        """The world from ONE `transact` of `select`s of the registered columns, without the
        IDL: an idempotent run, check mode and the read-only modules never build a replica
        (at 1,000 ports the IDL's first sync and row access cost more than the rest of the
        run). Decoded by the same world_from_json as the ovs-vsctl backend's reads."""
        start = time.monotonic()
        ops = [{"op": "select", "table": table, "where": [], "columns": columns}
               for table, columns in SELECT]
        result = self._request("transact", ["Open_vSwitch"] + ops, Deadline(self.timeout),
                               "reading OVSDB")
        rows = {}
        for (table, _columns), answer in zip(SELECT, result):
            if "error" in answer:
                raise OvsdbError("%s: reading %s failed: %s %s" % (
                    self.remote, table, answer["error"], answer.get("details", "")))
            rows[table] = answer["rows"]
        self.stats["connect_s"] += time.monotonic() - start
        return world_from_json(rows)[0]

    def _request(self, method, params, deadline, what):
        """One JSON-RPC request on its own short connection; its result."""
        err, stream = ovs.stream.Stream.open(self.remote)
        if err:
            raise OvsdbError("cannot connect to %s: %s" % (self.remote, os.strerror(err)))
        try:
            while True:
                err = stream.connect()
                if err == 0:
                    break
                if err != _EAGAIN():
                    raise OvsdbError("cannot connect to %s: %s"
                                     % (self.remote, os.strerror(err)))
                self._block(deadline, "connecting to %s" % self.remote,
                            lambda p: stream.run_wait(p) or stream.connect_wait(p))
            rpc = ovs.jsonrpc.Connection(stream)
            err = rpc.send(ovs.jsonrpc.Message.create_request(method, params))
            while True:
                rpc.run()
                err, msg = rpc.recv()
                if msg is not None:
                    if msg.error:
                        raise OvsdbError("%s: %s failed: %s" % (self.remote, method, msg.error))
                    return msg.result
                if err and err != _EAGAIN():
                    raise OvsdbError("%s closed the connection: %s"
                                     % (self.remote, os.strerror(err)))

                def wait(p):
                    rpc.wait(p)
                    rpc.recv_wait(p)
                self._block(deadline, "%s from %s" % (what, self.remote), wait)
        finally:
            stream.close()

    def _block(self, deadline, what, wait):
        if deadline.expired():
            raise OvsdbTimeout("timed out after %ss waiting for %s (is ovsdb-server running "
                               "and responsive?)" % (deadline.seconds, what))
        poller = ovs.poller.Poller()
        wait(poller)
        poller.timer_wait(min(deadline.left_ms(), 200))
        poller.block()

    def _run_until(self, predicate, deadline, what, lost=None):
        """Run the IDL until predicate(); `lost` is the error if the connection drops (the IDL
        answers a commit on a dropped connection with TRY_AGAIN, like a conflict)."""
        while True:
            self.idl.run()
            if predicate():
                return
            if lost and not self.idl._session.is_connected():
                raise OvsdbError(lost)
            if not self.idl._session.is_connected() and deadline.expired():
                raise OvsdbTimeout("timed out after %ss waiting for %s: cannot reach "
                                   "ovsdb-server at %s" % (deadline.seconds, what, self.remote))
            self._block(deadline, what, self.idl.wait)

    def _root(self):
        rows = list(self.idl.tables["Open_vSwitch"].rows.values())
        return rows[0] if rows else None

    def world(self):
        """The engine's plain snapshot of OVSDB (kernel facts are added by kernel.py): from the
        IDL's replica while a session is open (a commit verifies what it planned on), else
        from one select."""
        from ansible_collections.cloudnet.vswitch.plugins.module_utils.model import empty_world

        if self.idl is None:
            return self.snapshot()
        self.idl.run()  # take in what the server sent since the last look
        w = empty_world()
        root = self._root()
        w["ovs"]["external_ids"] = dict(root.external_ids)
        for br in root.bridges:
            w["bridges"][br.name] = {
                "datapath_type": br.datapath_type, "fail_mode": _one(br.fail_mode),
                "stp_enable": bool(br.stp_enable), "other_config": dict(br.other_config),
                "external_ids": dict(br.external_ids),
                "ports": sorted(p.name for p in br.ports)}
            for port in br.ports:
                w["ports"][port.name] = {
                    "bridge": br.name, "interfaces": sorted(i.name for i in port.interfaces),
                    "tag": _one(port.tag), "trunks": sorted(port.trunks),
                    "vlan_mode": _one(port.vlan_mode), "bond_mode": _one(port.bond_mode),
                    "lacp": _one(port.lacp), "other_config": dict(port.other_config),
                    "external_ids": dict(port.external_ids)}
                for iface in port.interfaces:
                    w["interfaces"][iface.name] = _iface(iface, port.name)
            for m in br.mirrors:
                w.setdefault("mirrors", {})[m.name] = {
                    "bridge": br.name, "external_ids": dict(m.external_ids),
                    "select_src_port": sorted(p.name for p in m.select_src_port),
                    "select_dst_port": sorted(p.name for p in m.select_dst_port),
                    "output_port": [p.name for p in m.output_port][0] if m.output_port
                    else None}
        return w

    def interfaces(self, names):
        """Status of interfaces by name (after vswitchd applied a change)."""
        if self.idl is None:
            return _interfaces_of(self.snapshot(), names)
        out = {}
        for iface in self.idl.tables["Interface"].rows.values():
            if iface.name in names:
                out[iface.name] = _iface(iface, None)
        return out

    # ------------------------------------------------------------------ write
    def apply(self, replan):
        """Plan against the current snapshot and commit it as one transaction.

        `replan(world)` returns a Plan; on TRY_AGAIN (another client changed what we verified)
        the snapshot is refreshed and the plan rebuilt, up to `retries` times. Returns the plan
        that was committed (or found empty)."""
        plan = replan(self.snapshot()) if self.idl is None else None
        if plan is not None and not plan.ops:
            return plan, None
        self.connect()
        deadline = Deadline(self.timeout)
        attempt = 0
        while True:
            seqno = self.idl.change_seqno
            plan = replan(self.world())
            if not plan.ops:
                return plan, None
            start = time.monotonic()
            txn = _idl().Transaction(self.idl)
            txn.add_comment("cloudnet.vswitch: %d change(s)" % len(plan.ops))
            _Executor(self.idl, txn).run(plan.ops)
            root = self._root()
            root.increment("next_cfg")
            status = self._commit(txn, deadline)
            self.stats["commit_s"] += time.monotonic() - start
            if status == _idl().Transaction.SUCCESS:
                new = txn.get_increment_new_value()
                return plan, _scalar(new)
            if status == _idl().Transaction.UNCHANGED:
                return plan, None
            if status != _idl().Transaction.TRY_AGAIN:
                raise OvsdbError("ovsdb-server rejected the transaction (nothing was changed): "
                                 "%s" % txn.get_error())
            attempt += 1
            self.stats["retries"] = attempt
            if attempt > self.retries:
                raise OvsdbError("gave up after %d attempts: other clients kept changing the "
                                 "rows this task reads" % attempt)
            self._run_until(lambda seqno=seqno: self.idl.change_seqno != seqno, deadline,
                            "a fresh snapshot after a conflicting change", lost=(
                                "lost the connection to ovsdb-server (%s) during the commit; "
                                "the change may or may not have been applied: check that "
                                "ovsdb-server runs, then run again" % self.remote))

    def _commit(self, txn, deadline):
        while True:
            status = txn.commit()
            if status != _idl().Transaction.INCOMPLETE:
                return status
            self.idl.run()
            if deadline.expired():
                txn.abort()
                raise OvsdbTimeout("timed out after %ss waiting for ovsdb-server to commit "
                                   "(the transaction may or may not have been applied)"
                                   % deadline.seconds)

            def wait(p):
                self.idl.wait(p)
                txn.wait(p)
            self._block(deadline, "the commit", wait)

    def wait_applied(self, next_cfg):
        """Like ovs-vsctl: wait until ovs-vswitchd reports cur_cfg >= next_cfg."""
        if next_cfg is None:
            return
        start = time.monotonic()
        deadline = Deadline(self.timeout)
        try:
            while True:
                self.idl.run()
                if _scalar(self._root().cur_cfg) >= next_cfg:
                    return
                if deadline.expired():
                    raise OvsdbTimeout("the change was committed, but ovs-vswitchd did not apply "
                                       "it within %ss (is ovs-vswitchd running?)" % self.timeout)
                self._block(deadline, "ovs-vswitchd", self.idl.wait)
        finally:
            self.stats["wait_s"] += time.monotonic() - start


class _Executor(object):
    """Turns the planner's name-based ops into IDL row writes inside one transaction."""

    def __init__(self, idl, txn):
        self.idl = idl
        self.txn = txn
        self.rows = {t: {r.name: r for r in idl.tables[t].rows.values()}
                     for t in ("Bridge", "Port", "Interface", "Mirror")}
        self.root = next(iter(idl.tables["Open_vSwitch"].rows.values()))
        # Reference sets (Bridge.ports, ...): read and verified once, edited in Python, written
        # once by run(). Rewriting the whole set per added port made 1,000 ports quadratic.
        self._sets = {}

    @staticmethod
    def _verify(row, column):
        # A no-op for rows inserted by this transaction and columns it already wrote.
        row.verify(column)

    def _set_of(self, row, column):
        key = (row.uuid, column)
        if key not in self._sets:
            self._verify(row, column)
            self._sets[key] = (row, column, list(getattr(row, column)))
        return self._sets[key][2]

    def _add_to(self, row, column, item):
        self._set_of(row, column).append(item)

    def _remove_from(self, row, column, item):
        items = self._set_of(row, column)
        items[:] = [r for r in items if r.uuid != item.uuid]

    def _insert(self, table, **columns):
        row = self.txn.insert(self.idl.tables[table])
        for column, value in columns.items():
            setattr(row, column, _to_idl(column, value))
        self.rows[table][columns["name"]] = row
        return row

    def run(self, ops):
        for op in ops:
            getattr(self, "op_" + op["kind"])(op)
        for row, column, items in self._sets.values():
            setattr(row, column, items)

    def op_add_bridge(self, op):
        iface = self._insert("Interface", name=op["name"], type="internal")
        port = self._insert("Port", name=op["name"], interfaces=[iface], **op["port_columns"])
        br = self._insert("Bridge", name=op["name"], ports=[port], **op["columns"])
        self._add_to(self.root, "bridges", br)

    def op_del_bridge(self, op):
        self._remove_from(self.root, "bridges", self.rows["Bridge"][op["name"]])

    def op_set(self, op):
        row = self.rows[op["table"]][op["name"]]
        self._verify(row, op["column"])
        setattr(row, op["column"], _to_idl(op["column"], op["value"]))

    def op_setkey(self, op):
        row = self.rows[op["table"]][op["name"]]
        if row._data is None:  # inserted by this transaction: write the whole map
            current = dict(getattr(row, op["column"], {}))
            current[op["key"]] = op["value"]
            setattr(row, op["column"], current)
        else:  # a mutation: merges with keys other clients write meanwhile
            row.setkey(op["column"], op["key"], op["value"])

    def op_delkey(self, op):
        self.rows[op["table"]][op["name"]].delkey(op["column"], op["key"])

    def op_add_port(self, op):
        ifaces = [self._insert("Interface", name=i["name"], **i["columns"])
                  for i in op["interfaces"]]
        port = self._insert("Port", name=op["name"], interfaces=ifaces, **op["columns"])
        self._add_to(self.rows["Bridge"][op["bridge"]], "ports", port)

    def op_del_port(self, op):
        self._remove_from(self.rows["Bridge"][op["bridge"]], "ports",
                          self.rows["Port"][op["name"]])

    def op_move_port(self, op):
        port = self.rows["Port"][op["name"]]
        self._remove_from(self.rows["Bridge"][op["from_bridge"]], "ports", port)
        self._add_to(self.rows["Bridge"][op["bridge"]], "ports", port)

    def op_add_mirror(self, op):
        """A temporary capture: an internal port on the bridge and a Mirror of op["select"]
        (port names) to it, all marked with op["external_ids"]."""
        br = self.rows["Bridge"][op["bridge"]]
        iface = self._insert("Interface", name=op["output_port"], type="internal",
                             external_ids=op["external_ids"])
        port = self._insert("Port", name=op["output_port"], interfaces=[iface],
                            external_ids=op["external_ids"])
        self._add_to(br, "ports", port)
        selected = [self.rows["Port"][p] for p in op["select"]]
        mirror = self.txn.insert(self.idl.tables["Mirror"])
        mirror.name = op["name"]
        mirror.select_src_port = selected
        mirror.select_dst_port = selected
        mirror.output_port = [port]
        mirror.external_ids = op["external_ids"]
        self.rows["Mirror"][op["name"]] = mirror
        self._add_to(br, "mirrors", mirror)

    def op_del_mirror(self, op):
        """Unreference the Mirror from its bridge (OVSDB garbage-collects the row); the capture
        port goes with a del_port op in the same transaction."""
        self._remove_from(self.rows["Bridge"][op["bridge"]], "mirrors",
                          self.rows["Mirror"][op["name"]])

    def op_add_iface(self, op):
        iface = self._insert("Interface", name=op["name"])
        self._add_to(self.rows["Port"][op["port"]], "interfaces", iface)

    def op_del_iface(self, op):
        self._remove_from(self.rows["Port"][op["port"]], "interfaces",
                          self.rows["Interface"][op["name"]])


def _to_idl(column, value):
    if column in OPTIONAL:
        return [] if value is None else [value]
    return value


def _scalar(value):
    """Some IDL versions hand out an Atom where others give the Python value."""
    return getattr(value, "value", value)


def _one(value):
    if isinstance(value, list):
        return _scalar(value[0]) if value else None
    return _scalar(value)


def _interfaces_of(world, names):
    """Client.interfaces from a world read without the IDL (the select, ovs-vsctl)."""
    return {n: dict(i, port=None) for n, i in world["interfaces"].items() if n in names}


def _iface(iface, port):
    return {"port": port, "type": iface.type, "external_ids": dict(iface.external_ids),
            "mtu_request": _one(iface.mtu_request), "ofport": _one(iface.ofport),
            "error": _one(iface.error), "mac_in_use": _one(iface.mac_in_use),
            "options": dict(iface.options), "link_state": _one(iface.link_state),
            "admin_state": _one(iface.admin_state), "mtu": _one(iface.mtu)}


# ------------------------------------------------------------------ the ovs-vsctl backend

def open_client(db=None, timeout=30, backend="auto", run=None):
    """The IDL client where the python ovs bindings import (or backend=idl, which then
    requires them), else the ovs-vsctl client (hosts without the bindings: RHEL ships them only
    in extra repositories). Both read the same world and commit a plan as one transaction."""
    if backend == "idl" or (backend == "auto" and IMPORT_ERROR is None):
        return Client(db=db, timeout=timeout)
    return VsctlClient(db=db, timeout=timeout, run=run)


# What a read without the IDL selects (Client.snapshot, VsctlClient.world): the columns the
# IDL registers, each row with its _uuid (references are resolved by world_from_json).
SELECT = tuple((table, ["_uuid"] + columns) for table, columns in COLUMNS.items())


def _j_atom(value):
    if isinstance(value, list) and len(value) == 2 and value[0] in ("uuid", "named-uuid"):
        return value[1]
    return value


def _j_set(value):
    """OVSDB JSON: ["set", [...]] for 0 or 2+ elements, the bare atom for exactly one."""
    if isinstance(value, list) and len(value) == 2 and value[0] == "set":
        return [_j_atom(v) for v in value[1]]
    return [_j_atom(value)]


def _j_opt(value):
    items = _j_set(value)
    return items[0] if items else None


def _j_map(value):
    return {k: _j_atom(v) for k, v in value[1]} if isinstance(value, list) else {}


def parse_vsctl_lists(text):
    """The JSON objects `ovs-vsctl --format=json --data=json list T -- list U ...` prints, one
    per line, as {table: [row dicts]} in the order of SELECT."""
    out = {}
    lines = [line for line in text.splitlines() if line.strip()]
    for (table, _columns), line in zip(SELECT, lines):
        data = json.loads(line)
        out[table] = [dict(zip(data["headings"], row)) for row in data["data"]]
    return out


def world_from_json(tables):
    """The engine's world from OVSDB rows in RFC 7047 JSON ({table: [row dicts]}: the IDL
    client's select, or parse_vsctl_lists()), plus {(table, name): uuid}."""
    from ansible_collections.cloudnet.vswitch.plugins.module_utils.model import empty_world

    w, uuids = empty_world(), {}
    root = (tables.get("Open_vSwitch") or [{}])[0]
    w["ovs"]["external_ids"] = _j_map(root.get("external_ids", ["map", []]))
    ports = {_j_atom(r["_uuid"]): r for r in tables["Port"]}
    ifaces = {_j_atom(r["_uuid"]): r for r in tables["Interface"]}
    for br in tables["Bridge"]:
        name = br["name"]
        uuids[("Bridge", name)] = _j_atom(br["_uuid"])
        members = [ports[u] for u in _j_set(br["ports"]) if u in ports]
        w["bridges"][name] = {
            "datapath_type": br["datapath_type"], "fail_mode": _j_opt(br["fail_mode"]),
            "stp_enable": bool(br["stp_enable"]), "other_config": _j_map(br["other_config"]),
            "external_ids": _j_map(br["external_ids"]),
            "ports": sorted(p["name"] for p in members)}
        for port in members:
            uuids[("Port", port["name"])] = _j_atom(port["_uuid"])
            its = [ifaces[u] for u in _j_set(port["interfaces"]) if u in ifaces]
            w["ports"][port["name"]] = {
                "bridge": name, "interfaces": sorted(i["name"] for i in its),
                "tag": _j_opt(port["tag"]), "trunks": sorted(_j_set(port["trunks"])),
                "vlan_mode": _j_opt(port["vlan_mode"]), "bond_mode": _j_opt(port["bond_mode"]),
                "lacp": _j_opt(port["lacp"]), "other_config": _j_map(port["other_config"]),
                "external_ids": _j_map(port["external_ids"])}
            for i in its:
                uuids[("Interface", i["name"])] = _j_atom(i["_uuid"])
                w["interfaces"][i["name"]] = {
                    "port": port["name"], "type": i["type"],
                    "external_ids": _j_map(i["external_ids"]),
                    "mtu_request": _j_opt(i["mtu_request"]), "ofport": _j_opt(i["ofport"]),
                    "error": _j_opt(i["error"]), "mac_in_use": _j_opt(i["mac_in_use"]),
                    "options": _j_map(i["options"]), "link_state": _j_opt(i["link_state"]),
                    "admin_state": _j_opt(i["admin_state"]), "mtu": _j_opt(i["mtu"])}
        mirrors = {_j_atom(r["_uuid"]): r for r in tables.get("Mirror", [])}
        for m in (mirrors[u] for u in _j_set(br.get("mirrors", ["set", []])) if u in mirrors):
            out = [ports[u]["name"] for u in _j_set(m["output_port"]) if u in ports]
            w.setdefault("mirrors", {})[m["name"]] = {
                "bridge": name, "external_ids": _j_map(m["external_ids"]),
                "select_src_port": sorted(ports[u]["name"] for u in _j_set(m["select_src_port"])
                                          if u in ports),
                "select_dst_port": sorted(ports[u]["name"] for u in _j_set(m["select_dst_port"])
                                          if u in ports),
                "output_port": out[0] if out else None}
    return w, uuids


def vsctl_transaction(ops, uuids):
    """One ovs-vsctl argv (after the global options) for a plan's ops: the same clauses as the
    `commands` shown to users, made safe to replay (--may-exist / --if-exists) and exact where
    ovs-vsctl has no by-name form (moving a port or removing a bond member keeps its row)."""
    from ansible_collections.cloudnet.vswitch.plugins.module_utils.model import vsctl_clauses

    argv = []
    for op in ops:
        kind = op["kind"]
        if kind in ("add_mirror", "del_mirror"):
            raise OvsdbError("a mirror capture needs the python ovs bindings (%s)" % PACKAGES)
        if kind == "move_port":
            uuid = uuids[("Port", op["name"])]
            clauses = [["remove", "Bridge", op["from_bridge"], "ports", uuid],
                       ["add", "Bridge", op["bridge"], "ports", uuid]]
        elif kind == "del_iface":
            clauses = [["remove", "Port", op["port"], "interfaces",
                        uuids[("Interface", op["name"])]]]
        else:
            clauses = vsctl_clauses(op)
            first = clauses[0]
            if first[0] in ("add-br", "add-port"):
                clauses[0] = ["--may-exist"] + first
            elif first[0] in ("del-br", "del-port"):
                clauses[0] = ["--if-exists"] + first
        for clause in clauses:
            argv += ["--"] + clause
    return argv


class VsctlClient(object):
    """The Client's interface over ovs-vsctl: reads with --format=json, commits a plan as one
    ovs-vsctl transaction (argv, never a shell), which itself waits for ovs-vswitchd."""

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
        return _interfaces_of(self.world(), names)

    def apply(self, replan):
        plan = replan(self.world())
        if not plan.ops:
            return plan, None
        start = time.monotonic()
        try:
            self._vsctl(vsctl_transaction(plan.ops, self.uuids),
                        "applying the transaction (ovsdb-server refused it: nothing was changed)",
                        "either ovsdb-server did not answer (then nothing was changed) or it "
                        "committed the change and ovs-vswitchd did not apply it; ovs-vsctl "
                        "cannot tell which: check that both daemons run, then run again")
        finally:
            self.stats["commit_s"] += time.monotonic() - start
        return plan, True

    def wait_applied(self, next_cfg):
        """ovs-vsctl (without --no-wait) already waited for ovs-vswitchd."""


def _EAGAIN():
    import errno

    return errno.EAGAIN
