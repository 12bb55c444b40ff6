# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OVSDB events during a capture: one JSON-RPC `monitor` (RFC 7047 4.1.5) of the Bridge, Port
and Interface columns that decide where a frame goes (WATCHED), on a connection of its own,
read by a thread that stamps each update with the wall clock (time.time(), the clock tcpdump
stamps packets with) as it arrives. The thread lives in the module's process: it ends when
stop() is called or with the process, so there is nothing for the capture's watchdog to end.

decode() is pure: from the rows known so far and one update, the events (one per changed
column; one per inserted or deleted row), with references (Bridge.ports) as port names."""

from __future__ import annotations

import errno
import os
import threading
import time

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    OvsdbError,
    OvsdbTimeout,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb import idl
from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb.connect import (
    Deadline,
    resolve_remote,
)

try:
    import ovs.jsonrpc
    import ovs.poller
    import ovs.stream
except ImportError:  # pragma: no cover - idl.require_ovs() says what to install
    pass

WATCHED = {
    "Bridge": ["name", "ports", "datapath_type"],
    "Port": ["name", "tag", "trunks", "vlan_mode"],
    "Interface": ["name", "ofport", "link_state", "admin_state", "external_ids", "error",
                  "mtu"],
}
# Reference columns, shown as the names of the rows they point to.
REFERENCES = {("Bridge", "ports"): "Port"}
# Columns with at most one value: shown as that value or None, not as a list.
SCALARS = {"name", "tag", "vlan_mode", "datapath_type", "ofport", "link_state", "admin_state",
           "error", "mtu"}
MAX_EVENTS = 1000
POLL_MS = 100


def _atom(value):
    if isinstance(value, list) and len(value) == 2 and value[0] in ("uuid", "named-uuid"):
        return value[1]
    return value


def value_of(table, column, raw, names):
    """A column's RFC 7047 JSON as plain Python: a scalar (or None), a sorted list, a dict;
    references as the referenced rows' names (`names`: {uuid: name})."""
    if isinstance(raw, list) and len(raw) == 2 and raw[0] == "map":
        return {str(k): _atom(v) for k, v in raw[1]}
    items = [_atom(v) for v in raw[1]] if isinstance(raw, list) and len(raw) == 2 and \
        raw[0] == "set" else [_atom(raw)]
    if (table, column) in REFERENCES:
        items = [names.get(u, u) for u in items]
    if column in SCALARS:
        return items[0] if items else None
    return sorted(items, key=str)


def decode(rows, update, at, ignore=(), initial=False):
    """The events of one monitor update ({table: {uuid: {"old": ..., "new": ...}}}), and
    `rows` ({table: {uuid: {column: value}}}, the replica) brought up to date. Rows named in
    `ignore` (the capture's own temporary ports) make no event, nor do they appear in a
    Bridge's ports. Each event: {time, table, row, column, old, new, change} with change
    'modified' (one event per column), 'inserted' or 'deleted' (one event, column None, the
    row's watched columns in new or old). The `initial` rows (the monitor's reply) make none."""
    names = {}
    for table in ("Port", "Interface"):
        for uuid, row in rows.get(table, {}).items():
            names[uuid] = row.get("name")
    for uuid, change in (update.get("Port") or {}).items():  # ports inserted with the bridge
        if change.get("new") and "name" in change["new"]:
            names[uuid] = change["new"]["name"]
    events = []
    for table in ("Bridge", "Port", "Interface"):
        for uuid, change in sorted((update.get(table) or {}).items()):
            known = rows.setdefault(table, {})
            old_row = known.get(uuid)
            new_raw = change.get("new")
            if new_raw is None:   # deleted
                known.pop(uuid, None)
                if old_row is not None and old_row.get("name") not in ignore:
                    events.append(_event(at, table, old_row.get("name"), None, old_row, None,
                                         "deleted"))
                continue
            new_row = dict(old_row or {})
            for column, raw in new_raw.items():
                new_row[column] = value_of(table, column, raw, names)
            known[uuid] = new_row
            if new_row.get("name") in ignore:
                continue
            if initial:
                continue
            if old_row is None:
                events.append(_event(at, table, new_row.get("name"), None, None, new_row,
                                     "inserted"))
                continue
            for column in WATCHED[table]:
                if column not in (change.get("old") or {}):
                    continue
                old, new = old_row.get(column), new_row.get(column)
                if (table, column) in REFERENCES:
                    old = [n for n in old or [] if n not in ignore]
                    new = [n for n in new or [] if n not in ignore]
                if old != new:
                    events.append(_event(at, table, new_row.get("name"), column, old, new,
                                         "modified"))
    return events


def _event(at, table, row, column, old, new, change):
    return {"time": at, "table": table, "row": row, "column": column, "old": old, "new": new,
            "change": change}


class Monitor(object):
    """Watch WATCHED from start() to stop(); `events` in the order they arrived."""

    def __init__(self, db=None, timeout=10, ignore=(), clock=time.time):
        idl.require_ovs()
        self.remote = resolve_remote(db)
        self.timeout = timeout
        self.ignore = set(ignore)
        self.clock = clock
        self.events = []
        self.error = None
        self.dropped = 0
        self.rows = {}
        self._stream = None
        self._rpc = None
        self._thread = None
        self._stop = threading.Event()

    def start(self):
        """Connect, ask for the monitor and take its first snapshot (bounded by `timeout`),
        then watch in a thread. Raises OvsdbError/OvsdbTimeout if it cannot start."""
        jsonrpc, stream = ovs.jsonrpc, ovs.stream
        deadline = Deadline(self.timeout)
        err, self._stream = stream.Stream.open(self.remote)
        if err:
            raise OvsdbError("cannot connect to %s: %s" % (self.remote, os.strerror(err)))
        try:
            while True:
                err = self._stream.connect()
                if err == 0:
                    break
                if err != _EAGAIN:
                    raise OvsdbError("cannot connect to %s: %s" % (self.remote,
                                                                   os.strerror(err)))
                self._block(deadline, lambda p: self._stream.run_wait(p) or
                            self._stream.connect_wait(p))
            self._rpc = jsonrpc.Connection(self._stream)
            requests = {t: {"columns": cols} for t, cols in WATCHED.items()}
            msg = jsonrpc.Message.create_request("monitor", ["Open_vSwitch", None, requests])
            self._rpc.send(msg)
            while True:
                self._rpc.run()
                err, reply = self._rpc.recv()
                if reply is not None and reply.id == msg.id:
                    if reply.error:
                        raise OvsdbError("%s: monitor failed: %s" % (self.remote, reply.error))
                    decode(self.rows, reply.result, self.clock(), self.ignore, initial=True)
                    break
                if err and err != _EAGAIN:
                    raise OvsdbError("%s closed the connection: %s" % (self.remote,
                                                                       os.strerror(err)))
                self._block(deadline, lambda p: (self._rpc.wait(p), self._rpc.recv_wait(p)))
        except Exception:
            self._close()
            raise
        self._thread = threading.Thread(target=self._loop, name="ovsdb-monitor")
        self._thread.daemon = True
        self._thread.start()
        return self

    def _block(self, deadline, wait):
        if deadline.expired():
            raise OvsdbTimeout("timed out after %ss starting an OVSDB monitor on %s"
                               % (deadline.seconds, self.remote))
        p = ovs.poller.Poller()
        wait(p)
        p.timer_wait(min(deadline.left_ms(), POLL_MS))
        p.block()

    def _loop(self):
        jsonrpc = ovs.jsonrpc
        try:
            while not self._stop.is_set():
                self._rpc.run()
                err, msg = self._rpc.recv()
                if msg is not None:
                    at = self.clock()
                    if msg.type == jsonrpc.Message.T_NOTIFY and msg.method == "update":
                        self._take(decode(self.rows, msg.params[1], at, self.ignore))
                    elif msg.type == jsonrpc.Message.T_REQUEST and msg.method == "echo":
                        self._rpc.send(jsonrpc.Message.create_reply(msg.params, msg.id))
                    continue
                if err and err != _EAGAIN:
                    self.error = "the OVSDB monitor lost its connection: %s" % os.strerror(err)
                    return
                p = ovs.poller.Poller()
                self._rpc.wait(p)
                self._rpc.recv_wait(p)
                p.timer_wait(POLL_MS)
                p.block()
        except Exception as exc:  # a thread's error is reported, never raised
            self.error = "the OVSDB monitor failed: %s: %s" % (type(exc).__name__, exc)

    def _take(self, events):
        room = MAX_EVENTS - len(self.events)
        self.events.extend(events[:max(0, room)])
        self.dropped += max(0, len(events) - max(0, room))

    def stop(self):
        """End the watch (within POLL_MS); the events seen."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        self._close()
        return self.events

    def _close(self):
        if self._rpc is not None:
            self._rpc.close()
            self._rpc = None
        elif self._stream is not None:
            self._stream.close()
        self._stream = None


_EAGAIN = errno.EAGAIN
