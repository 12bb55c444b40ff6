# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health findings from what vswitch_info and fdb_info read (OVSDB's Interface status columns,
bond/show and lacp/show, the FDB's size): each one names the host, the vSwitch and the port,
cites the value it comes from, and says what to do. Nothing is judged that the host did not
report: a healthy host gives none. Pure."""

from __future__ import annotations

from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot.info import bond_faults

# How bad a finding is, the order a report lists them in: traffic stops (or OVS does not do
# what OVSDB says), traffic is degraded or at risk, something to clean up.
STOPS, DEGRADED, NOTICE = 0, 1, 2
SEVERITY = {STOPS: "traffic stops", DEGRADED: "degraded", NOTICE: "to clean up"}


def _where(host, vs, port):
    return "%s: %s %s %s" % (host, vs["name"], port.get("role") or "port", port["name"])


def _port(host, vs, port):
    out = []
    where = _where(host, vs, port)
    if port.get("error"):
        out.append((STOPS, "%s: OVS reports the error %r (Interface error); the port forwards "
                           "nothing" % (where, port["error"])))
    elif port.get("ofport") == -1:
        out.append((STOPS, "%s: ofport -1 (OVS could not add the interface); the port forwards "
                           "nothing" % where))
    if port.get("role") == "vnet" and not port.get("error"):
        mac = (port.get("external_ids") or {}).get("attached-mac")
        vm = " (VM %s)" % mac if mac else ""
        if port.get("kernel") is False:
            out.append((NOTICE, "%s%s: its tap device is gone (kernel: no such interface; "
                                "link_state %s): a VM that died without unplugging; provision "
                                "with purge_stale removes the port"
                        % (where, vm, port.get("link_state"))))
        elif port.get("link_state") == "down":
            out.append((DEGRADED, "%s%s: link down (link_state down): the VM's NIC is not up"
                        % (where, vm)))
    if port.get("role") == "uplink" and not port.get("bond") and \
            port.get("link_state") == "down":
        out.append((STOPS, "%s: link down (link_state down, no carrier): the vSwitch is cut "
                           "off from the network" % where))
    return out


def _bond(host, vs, port):
    where = _where(host, vs, port)
    said, dead = bond_faults(port["bond"])
    return [(STOPS if dead else DEGRADED, "%s: %s" % (where, s)) for s in said]


def _ovs(host, data):
    """Open vSwitch itself (vswitch_info's `ovs`): ovs-vswitchd answering, applying what OVSDB
    asks, and each vSwitch on a datapath of the type it asked for."""
    ovs = data.get("ovs") or {}
    if not ovs:
        return []
    out = []
    if ovs.get("vswitchd") not in (None, "running"):
        out.append((STOPS, "%s: ovs-vswitchd %s: the vSwitches do not follow OVSDB (is it "
                           "running?)" % (host, ovs["vswitchd"])))
    cur, nxt = ovs.get("cur_cfg"), ovs.get("next_cfg")
    if isinstance(cur, int) and isinstance(nxt, int) and cur < nxt:
        out.append((STOPS, "%s: ovs-vswitchd has not applied OVSDB's last change (Open_vSwitch "
                           "cur_cfg %d, next_cfg %d, read twice a second apart): see "
                           "ovs-vswitchd.log" % (host, cur, nxt)))
    got = ovs.get("datapaths")
    for vs in data.get("vswitches") or [] if got is not None else []:
        want = vs.get("datapath_type") or "system"
        if vs["name"] not in got:
            out.append((STOPS, "%s: %s has no datapath in ovs-vswitchd (dpif/show; datapath_type "
                               "%s%s): it forwards nothing" % (
                                   host, vs["name"], want, ": is the openvswitch kernel module "
                                   "loaded?" if want == "system" else "")))
        elif got[vs["name"]] != want:
            out.append((DEGRADED, "%s: %s runs on the %s datapath, %s asked (dpif/show)"
                        % (host, vs["name"], got[vs["name"]], want)))
    return out


MIN_MOVES = 2       # MAC moves while watched that make a finding (one is a VM migrating)


def rising(host, data):
    """What rose while vswitch_info watched (its `rising`): a port's loss counters (not the
    transmit drops of a port whose link is down: what is flooded to it goes nowhere, as it
    should), MAC moves."""
    rising = data.get("rising") or {}
    ports = {p["name"]: (vs["name"], p) for vs in data.get("vswitches") or []
             for p in vs.get("ports") or []}
    members = {m["name"]: (vs["name"], p) for vs in data.get("vswitches") or []
               for p in vs.get("ports") or []
               for m in (p.get("bond") or {}).get("members") or []}
    out = []
    for name, rose in sorted((rising.get("interfaces") or {}).items()):
        vs, port = ports.get(name) or members.get(name) or (None, None)
        if port is None:
            continue
        down = port.get("link_state") == "down"
        rose = {k: v for k, v in rose.items() if not (down and k == "tx_dropped")}
        if rose:
            what = name if name == port["name"] else "%s member %s" % (port["name"], name)
            said = "%s: %s %s %s: %s in %g s (dpctl/show -s, read at the start and the end)" % (
                host, vs, port.get("role") or "port", what,
                ", ".join("%s +%d" % kv for kv in sorted(rose.items())), rising["seconds"])
            out.append((DEGRADED, said))
    for vs, moved in sorted((rising.get("moves") or {}).items()):
        flapped = any(len(m["ports"]) > 2 for m in moved.get("macs") or [])
        if moved.get("count", 0) < MIN_MOVES and not flapped:
            continue
        flaps = "; ".join("%s (VLAN %s) on %s" % (m["mac"], m["vlan"], ", then ".join(m["ports"]))
                          for m in moved.get("macs") or [])
        out.append((DEGRADED, "%s: %s: %d MAC move(s) in %g s (fdb/stats-show, port moved)%s: "
                              "a MAC flapping between ports (the same MAC on two VMs, or a "
                              "loop)" % (host, vs, moved.get("count", 0), rising["seconds"],
                                         "; " + flaps if flaps else "")))
    return out


def graded(host, data):
    """The health findings of one host: [(severity, sentence)], the worst first."""
    out = _ovs(host, data) + rising(host, data)
    fdbs = {b.get("name") or b.get("bridge"): b for b in data.get("fdb") or []}
    for vs in data.get("vswitches") or []:
        for port in vs.get("ports") or []:
            out += _port(host, vs, port)
            if port.get("bond"):
                out += _bond(host, vs, port)
        stats = (fdbs.get(vs["name"]) or {}).get("stats") or {}
        size, current = stats.get("max"), stats.get("current")
        if size and current is not None and current >= size:
            out.append((DEGRADED, "%s: %s's MAC table is full (%s of %s entries, "
                                  "fdb/stats-show): new MACs are not learned and their frames "
                                  "are flooded; raise mac_table_size"
                        % (host, vs["name"], current, size)))
    return sorted(out, key=lambda f: f[0])


def findings(host, data):
    """The health findings of one host, one sentence each, the worst first."""
    return [said for _severity, said in graded(host, data)]
