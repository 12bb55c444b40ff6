# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health findings from what vswitch_info and fdb_info read (OVSDB's Interface status columns,
bond/show and lacp/show, the FDB's size): each one names the host, the vSwitch and the port,
cites the value it comes from, and says what to do. Nothing is judged that the host did not
report: a healthy host gives none. Pure."""

from __future__ import annotations

# a member that is not "current attached" has a partner that is not in sync (lacp/show)
LACP_IN_SYNC = "current attached"


def _where(host, vs, port):
    return "%s: %s %s %s" % (host, vs["name"], port.get("role") or "port", port["name"])


def _port(host, vs, port):
    out = []
    where = _where(host, vs, port)
    if port.get("error"):
        out.append("%s: OVS reports the error %r (Interface error); the port forwards nothing"
                   % (where, port["error"]))
    elif port.get("ofport") == -1:
        out.append("%s: ofport -1 (OVS could not add the interface); the port forwards nothing"
                   % where)
    if port.get("role") == "vnet" and not port.get("error"):
        mac = (port.get("external_ids") or {}).get("attached-mac")
        vm = " (VM %s)" % mac if mac else ""
        if port.get("kernel") is False:
            out.append("%s%s: its tap device is gone (kernel: no such interface; link_state "
                       "%s): a VM that died without unplugging; provision with purge_stale "
                       "removes the port" % (where, vm, port.get("link_state")))
        elif port.get("link_state") == "down":
            out.append("%s%s: link down (link_state down): the VM's NIC is not up" % (where, vm))
    if port.get("role") == "uplink" and not port.get("bond") and \
            port.get("link_state") == "down":
        out.append("%s: link down (link_state down, no carrier): the vSwitch is cut off from "
                   "the network" % where)
    return out


def _bond(host, vs, port):
    """A bond's faults; when LACP failed, one finding for it (its members' states inside it),
    not one more per member for the same cause."""
    bond, where, out = port["bond"], _where(host, vs, port), []
    members = bond.get("members") or []
    lacp_on = bond.get("lacp") in ("active", "passive")
    failed = lacp_on and bond.get("lacp_status") not in (None, "negotiated")
    for m in members:
        if m.get("link_state") == "down":
            out.append("%s: member %s has no carrier (link_state down)" % (where, m["name"]))
        elif not failed:
            if m.get("enabled") is False:
                out.append("%s: member %s is up but not enabled by the bond (bond/show)"
                           % (where, m["name"]))
            if lacp_on and m.get("lacp") and m["lacp"] != LACP_IN_SYNC:
                out.append("%s: member %s's LACP partner is not in sync (lacp/show: %s)"
                           % (where, m["name"], m["lacp"]))
    if failed:
        up = [m["name"] for m in members if m.get("enabled") and m.get("link_state") != "down"]
        out.append("%s: LACP is %s here but %s (bond/show lacp_status; lacp/show: %s): the "
                   "switch side does not speak LACP on these ports; %s" % (
                       where, bond["lacp"], bond["lacp_status"], ", ".join(
                           "%s %s%s" % (m["name"], m.get("lacp") or "-",
                                        "" if m.get("enabled") else " (not enabled)")
                           for m in members),
                       "the bond forwards on %s only" % ", ".join(up) if up else
                       "no member is enabled, the bond forwards nothing"))
    mtus = {m.get("mtu") for m in members if m.get("mtu")}
    if len(mtus) > 1:
        out.append("%s: members differ in MTU (%s)" % (where, ", ".join(
            "%s %s" % (m["name"], m.get("mtu")) for m in members)))
    return out


def findings(host, data):
    """The health findings of one host, one sentence each."""
    out = []
    fdbs = {b.get("name") or b.get("bridge"): b for b in data.get("fdb") or []}
    for vs in data.get("vswitches") or []:
        for port in vs.get("ports") or []:
            out += _port(host, vs, port)
            if port.get("bond"):
                out += _bond(host, vs, port)
        stats = (fdbs.get(vs["name"]) or {}).get("stats") or {}
        size, current = stats.get("max"), stats.get("current")
        if size and current is not None and current >= size:
            out.append("%s: %s's MAC table is full (%s of %s entries, fdb/stats-show): new MACs "
                       "are not learned and their frames are flooded; raise mac_table_size"
                       % (host, vs["name"], current, size))
    return out
