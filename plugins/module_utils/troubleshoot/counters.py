# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What rises on a host while it is watched (vswitch_info's `watch`): the loss counters of the
vSwitches' ports (`dpctl/show -s`: rx/tx dropped and errors, counted now, not OVSDB's 5 s old
statistics) and the MAC tables' moves (`fdb/stats-show`'s port-moved counter, and the MACs
`fdb/show` finds on another port from one read to the next: a MAC flapping between two ports).
A counter read once says nothing (it counts since the daemon started); only a rise while
watched is evidence."""

from __future__ import annotations

import time

from ansible_collections.cloudnet.vswitch.plugins.module_utils.host import appctl
from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import (
    datapath,
    fdb_read,
)

READS = 3           # the FDB read this many times over the window (a flap needs two moves)


def read(run, world, names, timeout, ver=None):
    """One read: {ports: {interface: stats}, fdb: {bridge: {moved, where: {(mac, vlan):
    port}}}} for the bridges `names` (`ver`: ovs-vswitchd's version, parsed, if known)."""
    tables, _ver = fdb_read.tables(run, world, names, timeout, ver)
    shown = datapath.parse_dpctl_show(appctl.call(run, "dpctl/show", "-s", timeout=timeout))
    return {"ports": {n: p["stats"] for n, p in shown["ports"].items()
                      if n in world["interfaces"]},
            "fdb": {br: {"moved": (t.get("stats") or {}).get("moved"),
                         "where": {(e["mac"], e["vlan"]): e.get("port_name")
                                   for e in t["entries"]}}
                    for br, t in tables.items()}}


def watch(run, world, names, seconds, timeout, ver=None):
    """READS reads spread over `seconds`, judged by rising()."""
    reads = [read(run, world, names, timeout, ver)]
    for _read in range(READS - 1):
        time.sleep(seconds / (READS - 1))
        reads.append(read(run, world, names, timeout, ver))
    return rising(reads, seconds)


def rising(reads, seconds):
    """{seconds, interfaces: {interface: {stat: rise}} (the loss counters that rose, first read
    to last), moves: {bridge: {count (port-moved counter's rise), macs: [{mac, vlan, ports}]}}
    (MACs seen on more than one port across the reads, the ports in the order seen)}."""
    first, last = reads[0], reads[-1]
    interfaces = {}
    for name, stats in sorted(last["ports"].items()):
        if name in first["ports"]:
            rose = datapath.losses(datapath.stat_deltas(first["ports"][name], stats))
            if rose:
                interfaces[name] = rose
    moves = {}
    for br, now in sorted(last["fdb"].items()):
        was = first["fdb"].get(br) or {}
        count = (now["moved"] - was["moved"]) if isinstance(now.get("moved"), int) and \
            isinstance(was.get("moved"), int) and now["moved"] >= was["moved"] else 0
        seen = {}
        for r in reads:
            for key, port in (r["fdb"].get(br) or {}).get("where", {}).items():
                ports = seen.setdefault(key, [])
                if port and (not ports or ports[-1] != port):
                    ports.append(port)
        macs = [{"mac": mac, "vlan": vlan, "ports": ports}
                for (mac, vlan), ports in sorted(seen.items()) if len(ports) > 1]
        if count or macs:
            moves[br] = {"count": count, "macs": macs}
    return {"seconds": seconds, "interfaces": interfaces, "moves": moves}
