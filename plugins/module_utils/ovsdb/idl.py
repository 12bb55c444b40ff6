# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IDL client: the only code that touches the `ovs` Python IDL.

A read that changes nothing is ONE `transact` of `select`s (snapshot). A plan with changes opens
the IDL session: it fetches the schema from the server (no schema file needed on the host),
registers only the columns rows.py decodes, waits for the first snapshot with a deadline, and
commits the plan as ONE transaction (the _Executor turns the planner's name-based ops into row
writes): verify on every column the plan read, retry on TRY_AGAIN by re-reading and re-planning
(bounded), then wait like ovs-vsctl until ovs-vswitchd has applied it (cur_cfg >= next_cfg).
Every wait has a deadline; every failure is an OvsdbError / OvsdbTimeout with a clear message.
"""

from __future__ import annotations

import os
import time

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    MissingLibrary,
    OvsdbError,
    OvsdbTimeout,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb.connect import (
    PACKAGES,
    Deadline,
    resolve_remote,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb.rows import (
    COLUMNS,
    OPTIONAL,
    SELECT,
    interface_from_json,
    interfaces_of,
    world_from_json,
)

try:
    import ovs.jsonrpc
    import ovs.poller
    import ovs.stream
    import ovs.vlog

    IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised on hosts without the bindings
    IMPORT_ERROR = exc


def _idl():
    """The IDL, imported when a commit needs it (reads never do: see Client.snapshot)."""
    import ovs.db.idl

    return ovs.db.idl


def require_ovs():
    if IMPORT_ERROR is not None:
        raise MissingLibrary("ovs", PACKAGES, IMPORT_ERROR, package="python3-openvswitch")


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

    def _block(self, deadline, what, wait, expired=None):
        """Block until `wait`'s events or 200 ms; `expired` is the error once the deadline has
        passed (the caller's own message: the deadline may pass between its check and this)."""
        if deadline.expired():
            raise OvsdbTimeout(expired or "timed out after %ss waiting for %s (is ovsdb-server "
                               "running and responsive?)" % (deadline.seconds, what))
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
        """The engine's world: from the IDL's replica while a session is open (a commit
        verifies what it planned on), else from one select. Both go through rows.py."""
        if self.idl is None:
            return self.snapshot()
        self.idl.run()  # take in what the server sent since the last look
        return world_from_json({t: self._json_rows(t) for t in COLUMNS})[0]

    def _json_rows(self, table, names=None):
        """The replica's rows of `table` (those named `names`, if given) as RFC 7047 JSON,
        the form rows.py decodes."""
        columns = COLUMNS[table]
        return [dict({c: row._data[c].to_json() for c in columns if c in row._data},
                     _uuid=["uuid", str(row.uuid)])
                for row in self.idl.tables[table].rows.values()
                if names is None or row.name in names]

    def interfaces(self, names):
        """Status of interfaces by name (after vswitchd applied a change): from the replica,
        only the rows asked for; else from one select."""
        if self.idl is None:
            return interfaces_of(self.snapshot(), names)
        self.idl.run()
        return {r["name"]: interface_from_json(r, None)
                for r in self._json_rows("Interface", names)}

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
        expired = ("timed out after %ss waiting for ovsdb-server to commit (the transaction "
                   "may or may not have been applied)" % deadline.seconds)
        while True:
            status = txn.commit()
            if status != _idl().Transaction.INCOMPLETE:
                return status
            self.idl.run()

            def wait(p):
                self.idl.wait(p)
                txn.wait(p)
            try:
                self._block(deadline, "the commit", wait, expired)
            except OvsdbTimeout:
                txn.abort()
                raise

    def wait_applied(self, next_cfg):
        """Like ovs-vsctl: wait until ovs-vswitchd reports cur_cfg >= next_cfg."""
        if next_cfg is None:
            return
        start = time.monotonic()
        deadline = Deadline(self.timeout)
        expired = ("the change was committed, but ovs-vswitchd did not apply it within %ss (is "
                   "ovs-vswitchd running?)" % self.timeout)
        try:
            while True:
                self.idl.run()
                if _scalar(self._root().cur_cfg) >= next_cfg:
                    return
                self._block(deadline, "ovs-vswitchd", self.idl.wait, expired)
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


def _EAGAIN():
    import errno

    return errno.EAGAIN
