# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The datapath's evidence around a capture window, on the host (capture/run.py drives it):

- before: `coverage/show`, `dpctl/show -s` (every datapath port's counters), `bond/show` and
  `lacp/show` of the bonds on the captured bridges, read in a thread while the tcpdumps start
  (the start is never delayed), and an OVSDB monitor (ovsdb/monitor.py) started before them;
- after, as soon as the tcpdumps stopped: `coverage/show` first, then the counters and the
  bonds again, the monitor's events, `dpif/dump-flows` of each captured bridge (the flows
  that name a followed address: the datapath idles flows out after 10 s), every vSwitch's
  FDB (fdb_info's tables, for the report's fdb/<host>.json: the traffic still flows).

ovs-vswitchd adds each thread's counts to the coverage totals it prints about once a second, so
both coverage reads lag the moment they are taken by up to a second: the deltas cover a window
as long as the capture's, up to a second earlier. (Waiting a second more after the stop would
not make the window exact, since the first read lags as well, and would make every capture a
second longer to bring back.)

Nothing here fails the capture: a read that fails is named in `errors`, and the rest stands.
The parsers are troubleshoot/datapath.py's (and info.py's for the bonds)."""

from __future__ import annotations

import ipaddress
import struct
import threading
import time

from ansible_collections.cloudnet.vswitch.plugins.module_utils.capture import pcapfile
from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    PcapError,
    VswitchError,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.host import appctl
from ansible_collections.cloudnet.vswitch.plugins.module_utils.host import proc as process
from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb import idl
from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb import monitor as ovsdb_monitor
from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import (
    datapath,
    fdb_read,
    info,
)

# MACs of the followed addresses are looked for in the first packets of each pcap only.
MAC_SCAN_PACKETS = 2000


class Evidence(object):
    """One capture's datapath evidence: begin() before the tcpdumps start, before_read() as
    they start, end() once they stopped, result() for the module's result."""

    def __init__(self, params, world, targets, spec, ignore=(), run=process.run):
        self.p = params
        self.run = run   # subprocess directly: the before-read runs in a thread of its own
        self.world = world
        self.targets = targets
        self.addresses = [a for a in [spec.get("host")] + [x["addr"] for x in spec["peers"]]
                          if a]
        self.ignore = list(ignore)
        self.errors = []
        self.monitor = None
        self.bridges = sorted({t["bridge"] for t in targets if t.get("bridge")})
        self.before = {}
        self.after = {}
        self.read_at = {"before": None, "after": None, "coverage_after": None}
        self._thread = None
        self.flows = []
        self.events = None
        self.fdb = []

    def _call(self, what, *args):
        try:
            return appctl.call(self.run, *args, timeout=min(10, self.p["timeout"]))
        except VswitchError as exc:
            self.errors.append("%s: %s" % (what, exc))
            return None

    # ------------------------------------------------------------------ before
    def begin(self):
        """The OVSDB monitor, before the start."""
        if idl.IMPORT_ERROR is not None:
            self.errors.append("OVSDB was not watched during the capture: the Python library "
                               "'ovs' (python3-openvswitch) is missing on this host")
            return
        try:
            self.monitor = ovsdb_monitor.Monitor(self.p["db"], min(10, self.p["timeout"]),
                                                 ignore=self.ignore).start()
        except VswitchError as exc:
            self.monitor = None
            self.errors.append("OVSDB was not watched during the capture: %s" % exc)

    def before_read(self):
        """Read the counters in a thread (the tcpdumps start meanwhile)."""
        self._thread = threading.Thread(target=self._read, args=(self.before, "before"),
                                        name="datapath-before")
        self._thread.daemon = True
        self._thread.start()

    def _read(self, into, when):
        self.read_at[when] = time.time()
        self._coverage(into)
        text = self._call("dpctl/show -s", "dpctl/show", "-s")
        if text is not None:
            into["dpctl"] = datapath.parse_dpctl_show(text)
        into["bonds"] = self._bonds()

    def _coverage(self, into):
        text = self._call("coverage/show", "coverage/show")
        if text is not None:
            into["coverage"] = datapath.parse_coverage(text)

    def _bonds(self):
        out = {}
        for br in self.bridges:
            try:
                bonds, lacp = info.read_bonds(self.run, self.world, br)
            except VswitchError as exc:
                self.errors.append("bond/show on %s: %s" % (br, exc))
                continue
            for name, bond in bonds.items():
                out[name] = {"bridge": br, "bond": bond, "lacp": lacp.get(name)}
        return out

    # ------------------------------------------------------------------ after
    def end(self):
        """Right after the tcpdumps stopped: the counters (coverage first) and the bonds, the
        events, the flows, the FDBs."""
        if self._thread is not None:
            self._thread.join(10)
        self._read(self.after, "after")
        self.read_at["coverage_after"] = self.read_at["after"]
        if self.monitor is not None:
            self.events = self.monitor.stop()
            if self.monitor.error:
                self.errors.append(self.monitor.error)
            if self.monitor.dropped:
                self.errors.append("%d OVSDB event(s) past the first %d were not kept" % (
                    self.monitor.dropped, ovsdb_monitor.MAX_EVENTS))
        addresses = self.addresses + sorted(macs_of([t["path"] for t in self.targets],
                                                    self.addresses))
        for br in self.bridges:
            text = self._call("dpif/dump-flows %s" % br, "dpif/dump-flows", br)
            now = time.time()
            if text is not None:
                self.flows += [dict(f, bridge=br, last_used=datapath.used_at(f["used"], now))
                               for f in datapath.flows_of(datapath.parse_dump_flows(text),
                                                          addresses)]
        try:      # every vSwitch's FDB, joined to port names and roles (fdb_info's tables)
            found, _ver = fdb_read.tables(self.run, self.world, sorted(self.world["bridges"]),
                                          min(10, self.p["timeout"]))
            self.fdb = [found[br] for br in sorted(found)]
        except VswitchError as exc:
            self.errors.append("fdb/show: %s" % exc)

    def stop(self):
        """On a failed run: end the monitor (never raises)."""
        if self.monitor is not None:
            try:
                self.monitor.stop()
            except Exception:  # the module's failure is what matters
                pass

    # ------------------------------------------------------------------ the result
    def result(self):
        if self._thread is not None:
            self._thread.join(10)
        b, a = self.before, self.after
        cov = datapath.coverage_deltas(b["coverage"], a["coverage"]) \
            if "coverage" in b and "coverage" in a else None
        interfaces, lookups = {}, {}
        if "dpctl" in b and "dpctl" in a:
            for name in self.interface_names():
                if name in a["dpctl"]["ports"] and name in b["dpctl"]["ports"]:
                    interfaces[name] = datapath.stat_deltas(b["dpctl"]["ports"][name]["stats"],
                                                            a["dpctl"]["ports"][name]["stats"])
            lookups = datapath.lookup_deltas(b["dpctl"]["datapaths"],
                                             a["dpctl"]["datapaths"])
        bonds = {}
        for name in sorted(set(b.get("bonds") or {}) | set(a.get("bonds") or {})):
            start, end = (b.get("bonds") or {}).get(name), (a.get("bonds") or {}).get(name)
            bonds[name] = {"bridge": (start or end)["bridge"], "start": _bond_view(start),
                           "end": _bond_view(end),
                           "changes": datapath.bond_changes(name, start or {}, end or {}),
                           "faults": self._bond_faults(name, end or start)}
        return {
            "coverage": cov, "meanings": datapath.meanings(cov or {}),
            "interfaces": interfaces, "lookups": lookups, "flows": self.flows,
            "bonds": bonds, "bridges": self.bridges, "read_at": self.read_at,
            "watched": self.monitor is not None, "errors": self.errors,
        }

    def _bond_faults(self, name, read):
        """What is wrong with the bond as the capture ended (info.bond_faults: members
        without carrier or not enabled, LACP not negotiated), [] when healthy."""
        port = self.world["ports"].get(name)
        if port is None:
            return []
        ifaces = [info.interface(self.world, i) for i in port["interfaces"]]
        return info.bond_faults(info.bond_facts(port, ifaces, read["bond"], read.get("lacp")))[0]

    def interface_names(self):
        """Every captured interface and every interface of the captured bridges' ports."""
        names = {t["interface"] for t in self.targets}
        for pname, port in self.world["ports"].items():
            if port["bridge"] in self.bridges and pname not in self.ignore:
                names.update(port["interfaces"])
        return sorted(n for n in names if n not in self.ignore)


def _bond_view(read):
    if read is None:
        return None
    bond, lacp = read["bond"], read.get("lacp") or {}
    return {"mode": bond.get("mode"), "lacp_status": bond.get("lacp_status"),
            "active_member": bond.get("active_member"),
            "members": {m["name"]: {"enabled": m["enabled"], "active": m["active"],
                                    "may_enable": m.get("may_enable")}
                        for m in bond.get("members") or []},
            "lacp": {m["name"]: m.get("state") for m in lacp.get("members") or []} or None}


def macs_of(paths, ips, limit=MAC_SCAN_PACKETS):
    """The source MACs of the frames sent by `ips` (IPv4/IPv6 source, ARP sender) in the
    first `limit` packets of each pcap: what dpif/dump-flows shows of an address (a datapath
    flow of a switched frame rarely matches on IP)."""
    wanted = set()
    for ip in ips:
        try:
            wanted.add(ipaddress.ip_address(ip).packed)
        except ValueError:
            continue
    found = set()
    if not wanted:
        return found
    for path in paths:
        try:
            for n, rec in enumerate(pcapfile.read_pcap(path)):
                if n >= limit:
                    break
                src = _sender(rec[4])
                if src is not None and src[1] in wanted:
                    found.add(src[0])
        except (OSError, PcapError):
            continue
    return found


def _sender(frame):
    """(source MAC, sender address bytes) of an Ethernet frame (802.1Q tags skipped) that is
    IPv4, IPv6 or ARP; None otherwise."""
    if len(frame) < 14:
        return None
    mac = ":".join("%02x" % b for b in frame[6:12])
    off = 12
    etype = struct.unpack("!H", frame[off:off + 2])[0]
    while etype in (0x8100, 0x88A8) and len(frame) >= off + 6:
        off += 4
        etype = struct.unpack("!H", frame[off:off + 2])[0]
    off += 2
    if etype == 0x0800 and len(frame) >= off + 20:
        return mac, frame[off + 12:off + 16]
    if etype == 0x86DD and len(frame) >= off + 40:
        return mac, frame[off + 8:off + 24]
    if etype == 0x0806 and len(frame) >= off + 28:
        return mac, frame[off + 14:off + 18]
    return None
