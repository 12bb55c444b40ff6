# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet's diagnostics as a report a person reads (report.md and report.html, the same
blocks, plugin_utils/document.py), built on the controller from
what vswitch_info, fdb_info, path_check and locate returned per host. Pure: dicts in, text out.

Input: {host: {"vswitches": [...], "mtu_mismatches": [...], "fdb": [{"name": bridge,
"entries": [...]}], "paths": [...], "locate": {...} or None, "drift": {"before": [...],
"after": [...]} or {"error": msg} or None}}.
"""

from __future__ import annotations

import collections
import json

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import (
    document,
    drift,
    health,
    path_evidence,
)


def duplicates(hosts):
    """MACs, VM ports and IPs that live on two hosts at once (a migration leftover, a clone, a
    typo): a MAC on a vnet or internal port (not learned via an uplink) of more than one host,
    a vnet's iface-id (the VM's NIC, libvirt's interfaceid or Neutron's port) plugged on more
    than one host, and an internal-port address configured on more than one host."""
    macs, ips, ifaces = {}, {}, {}
    for host, data in sorted(hosts.items()):
        for vs in data.get("vswitches") or []:
            for port in vs["ports"]:
                if port["role"] == "internal":
                    for addr in port.get("addresses") or []:
                        ips.setdefault(addr.split("/")[0], set()).add((host, port["name"]))
                if port["role"] == "vnet":
                    ids = port.get("external_ids") or {}
                    if ids.get("attached-mac"):
                        macs.setdefault(ids["attached-mac"].lower(), set()).add(
                            (host, port["name"]))
                    if ids.get("iface-id"):
                        ifaces.setdefault(ids["iface-id"], set()).add((host, port["name"]))
        for br in data.get("fdb") or []:
            for e in br.get("entries") or []:
                if e.get("role") == "vnet":
                    macs.setdefault(e["mac"].lower(), set()).add((host, e.get("port_name")))
    out = []
    for kind, seen in (("MAC", macs), ("iface-id", ifaces), ("IP", ips)):
        for value, where in sorted(seen.items()):
            if len({h for h, _p in where}) > 1:
                out.append({"kind": kind, "value": value,
                            "where": sorted("%s:%s" % hw for hw in where)})
    return out


NOTHING = ("Nothing abnormal: no path with evidence of an asymmetry, MTUs agree, no MAC or "
           "IP on two hosts.")


def _routes(hosts):
    probed = _probed(hosts)
    return {h: [dict(p, peer_neighbours=[
        n for n in p.get("peer_neighbours") or [] if (h, p.get("peer")) not in probed])
        for p in d.get("paths") or []] for h, d in hosts.items()}


def _probed(hosts):
    """{(host, address)}: the neighbour entries DF probes write, which are no evidence of a
    path - a probe's target resolves the address probed, the probed host answers (and learns)
    the probing port's addresses. This run probes some pairs of hosts (diagnostics_mtu_peers),
    or none (diagnostics_mtu_probes false), and an earlier run may have probed others, their
    entries still there: each host's entry for any other host's address on a vSwitch of the
    same name (the pairs some run probes) is the diagnostics' own."""
    out = set()
    for ring in _rings({h: d.get("vswitches") for h, d in hosts.items()}).values():
        out.update((h, a) for h in ring for other, (addresses, _mtu, _port) in ring.items()
                   if other != h for a in addresses)
    return out


def _internal(vs):
    return next((p for p in vs.get("ports") or [] if p.get("role") == "internal"), None)


def _owners(hosts):
    """{address: (host, vswitch)} of every internal port's address."""
    return {a.split("/")[0]: (h, vs) for h, d in hosts.items() for vs in d.get("vswitches") or []
            for a in (_internal(vs) or {}).get("addresses") or []}


def _rings(vswitches):
    """{vSwitch name: {host: ([address], its internal port's MTU, the port's name)}}, the hosts
    in the order of their names, of the hosts whose vSwitch of that name has addresses of its
    own (not link-local). vswitches: {host: vswitch_info's vswitches}."""
    out = {}
    for host, vss in sorted(vswitches.items()):
        for o in vss or []:
            port = _internal(o) or {}
            found = [a.split("/")[0] for a in port.get("addresses") or []
                     if not a.lower().startswith("fe80:")]
            if found:
                out.setdefault(o.get("name"), {})[host] = (found, port.get("mtu") or 0,
                                                           port.get("name"))
    return out


def _probes(i, j, n, mine, theirs):
    """Whether host i of the n around the circle probes host j: the larger MTU probes; between
    equal ones, i probes the next n/2."""
    if mine != theirs:
        return mine > theirs
    d = (j - i) % n
    return 0 < d < (n + 1) // 2 or (d * 2 == n and i < j)


def distances(n, peers):
    """The distances around the circle of n hosts at which two hosts are paired: every one
    (each pair of hosts) when `peers` is 0 or covers half the circle, else `peers` of them
    spread from 1 (the next host) to n/2 (the far side), so a host is paired with near and far
    ones (not one rack's, when names follow racks)."""
    if peers < 0:
        raise ValueError("peers: %r is below 0 (0 pairs every host with every other)" % peers)
    half = n // 2
    if not peers or half <= peers:
        return set(range(1, half + 1))
    if peers == 1:
        return {1}
    return {1 + round(k * (half - 1) / (peers - 1)) for k in range(peers)}


def mtu_peers(vswitches, host=None, peers=0):
    """{internal port: [address]}: for each of `host`'s vSwitches with an address of its own,
    the other hosts' addresses on the vSwitch of the same name that it probes; without `host`,
    {host: that} for every host. The hosts of a vSwitch are paired at distances() around the
    circle of their names (every pair with peers=0), each pair probed from one side only: the
    one whose port takes the larger MTU (a probe goes up to its sender's MTU), between equal
    ones the pairs spread evenly. A probe tests the path there with DF set; its reply comes
    back by the same VLAN, fragmented where it must be. vswitches: {host: vswitch_info's
    vswitches}."""
    out = {}
    for _name, ring in sorted(_rings(vswitches).items()):
        names = list(ring)
        n = len(names)
        apart = distances(n, peers)
        for i, me in enumerate(names):
            if host is not None and me != host:
                continue
            port = ring[me][2]
            theirs = [a for j, other in enumerate(names)
                      if j != i and min((j - i) % n, (i - j) % n) in apart
                      and _probes(i, j, n, ring[me][1], ring[other][1])
                      for a in ring[other][0]]
            if theirs:
                out.setdefault(me, {})[port] = theirs
    return out.get(host, {}) if host is not None else out


def mtu_findings(hosts):
    """The paths whose largest answered DF probe is below the sending port's MTU, one finding
    per pair of hosts and vSwitch (either direction), naming the narrowest hop: the smallest
    MTU of the two hosts' uplinks and the peer's internal port, else the physical network
    between them."""
    owner = _owners(hosts)
    out, said = [], set()
    for host, data in sorted(hosts.items()):
        for pr in data.get("mtu_probes") or []:
            if not pr.get("answered") or not pr.get("mtu") or pr.get("largest") is None or \
                    pr["largest"] >= pr["mtu"]:
                continue                        # healthy, silent, or lossy: no MTU evidence
            there, their_vs = owner.get(pr["address"], (None, None))
            mine = next((vs for vs in data.get("vswitches") or []
                         if (_internal(vs) or {}).get("name") == pr["interface"]), None)
            key = (tuple(sorted([host, there or pr["address"]])), pr["interface"])
            if key in said:
                continue
            said.add(key)
            hops = []
            for h, vs in ((host, mine), (there, their_vs)):
                up = next((p for p in (vs or {}).get("ports") or [] if p.get("role") == "uplink"),
                          None)
                if up and up.get("mtu"):
                    hops.append((up["mtu"], h, up["name"]))
            uplinks = list(hops)
            peer = _internal(their_vs) if their_vs else None
            if peer and peer.get("mtu"):                # the probe's last hop: the peer's port
                hops.append((peer["mtu"], there, peer["name"]))
            narrow = min(hops) if hops else None
            where = ("%s %s (MTU %d)" % (narrow[1], narrow[2], narrow[0])
                     if narrow and narrow[0] < pr["mtu"] else
                     "the physical network between %s" % " and ".join(
                         "%s %s" % (h, n) for _m, h, n in uplinks) if len(uplinks) == 2 else
                     "between %s and %s" % (host, there or pr["address"]))
            out.append("%s: %s to %s%s: packets above %d bytes do not get through with DF set, "
                       "the vSwitch's port takes %d (DF probes); the narrowest hop: %s" % (
                           host, pr["interface"], pr["address"],
                           " (%s)" % there if there else "", pr["largest"], pr["mtu"], where))
    return out


def graded(hosts, host_ip=None):
    """The report's findings with their severity (health.STOPS, DEGRADED, NOTICE), the worst
    first, in the order found within each: [(severity, sentence)]. A path is one only with
    evidence (path_evidence.py); host_ip (what the run was narrowed to) found on no host is
    one."""
    # a request answered by another interface is degraded (a stateful firewall or a switch may
    # drop the reply); one dropped, or unreachable, stops
    problems = [(health.DEGRADED if v == "asymmetric-answered" else health.STOPS, p)
                for v, p in path_evidence.split(_routes(hosts), verdicts=True)[0]]
    for host, data in sorted(hosts.items()):
        problems += health.graded(host, data)
        for m in data.get("mtu_mismatches") or []:
            problems.append((health.DEGRADED, "%s: MTU mismatch on %s: %s %s has MTU %s, its "
                             "uplink %s has %s" % (host, m.get("vswitch"), m["role"],
                                                   m["port"], m["mtu"], m["uplink"],
                                                   m["uplink_mtu"])))
        for error in data.get("errors") or []:
            problems.append((health.STOPS, "%s: %s" % (host, error)))
    problems += [(health.DEGRADED, f) for f in mtu_findings(hosts)]
    for d in duplicates(hosts):
        problems.append((health.DEGRADED, "%s %s is on more than one host: %s (a migration "
                         "leftover?)" % (d["kind"], d["value"], ", ".join(d["where"]))))
    located = [d["locate"] for d in hosts.values() if d.get("locate")]
    if host_ip and located and not any(loc.get("found") for loc in located):
        problems.append((health.NOTICE, (
            "%s was found on no host: no vnet, internal port, FDB or neighbour entry (nor "
            "libvirt, where virsh exists) places it on any of the %d host(s) read. "
            "collect_captures.yml -e host_ip=%s listens for it, captures wide if need be, and "
            "says where it shows up or that it sends nothing." % (host_ip, len(located),
                                                                  host_ip))))
    return sorted(problems, key=lambda f: f[0])


def findings(hosts, host_ip=None):
    """The report's findings, one sentence each, the worst first ([] when nothing is
    abnormal)."""
    return [said for _severity, said in graded(hosts, host_ip)]


def severities(hosts, host_ip=None):
    """'Worst first: 2 where traffic stops, 1 degraded.' ('' when healthy)."""
    counts = collections.Counter(s for s, _said in graded(hosts, host_ip))
    if not counts:
        return ""
    return "Worst first: %s." % ", ".join("%d %s" % (counts[s], "where " + health.SEVERITY[s]
                                                     if s == health.STOPS else
                                                     health.SEVERITY[s])
                                          for s in sorted(counts))


def drift_rows(hosts):
    """Every host's differences from the inventory (plugin_utils/drift.py), host by host. A
    host whose check failed is a row too: its drift is unknown, never taken for none."""
    out = []
    for host, data in sorted(hosts.items()):
        d = data.get("drift") or {}
        if "after" in d:
            uplinks = {vs["name"]: drift.uplink_port(vs) for vs in d.get("before") or []}
            for row in drift.rows(host, d.get("before"), d["after"],
                                  [vs["name"] for vs in data.get("vswitches") or []]):
                if data.get("history"):
                    row["changed"] = drift.changed_by(row, data["history"],
                                                      uplinks.get(row["object"]))
                out.append(row)
        elif "error" in d:
            out.append({"host": host, "object": "(every vSwitch)", "field": "drift check",
                        "declared": "checked", "live": "not checked: %s" % " ".join(
                            str(d["error"]).split())})
        out += drift.boot_rows(host, data.get("vswitches"), data.get("network_files"))
    return out


BOOT = " at boot"


def _drift_check(hosts):
    checked = sorted(h for h, d in hosts.items() if "after" in (d.get("drift") or {}))
    failed = sorted("%s (%s)" % (h, d["drift"]["error"]) for h, d in hosts.items()
                    if "error" in (d.get("drift") or {}))
    rows = [r for r in drift_rows(hosts) if r["field"] != "drift check"]
    boot = [r for r in rows if r["field"].endswith(BOOT)]
    persisting = sorted(h for h, d in hosts.items() if d.get("network_files"))
    said = "At boot: %s" % ("%d host(s) persist their vSwitches' addresses in files, %d "
                            "difference(s) with what lives." % (len(persisting), len(boot))
                            if persisting else "no host persists its vSwitches' addresses in "
                            "files (runtime), nothing to compare.")
    if not checked and not failed:
        return ["Drift from the inventory: not checked (no host has vswitches in the "
                "inventory).", said]
    rows = [r for r in rows if r not in boot]
    text = "Drift from the inventory: %d host(s) checked, %d difference(s)%s" % (
        len(checked), len(rows), " on %s" % ", ".join(sorted({r["host"] for r in rows}))
        if rows else "")
    return [text + ("; not checked on %s." % "; ".join(failed) if failed else "."), said]


def checks(hosts):
    """Each check that ran and its result, one sentence each (silence is not a result)."""
    paths = [p for d in hosts.values() for p in d.get("paths") or []]
    found, could = path_evidence.split(_routes(hosts))
    vswitches = sum(len(d.get("vswitches") or []) for d in hosts.values())
    mtu = sum(len(d.get("mtu_mismatches") or []) for d in hosts.values())
    dups = duplicates(hosts)
    unread = sorted(h for h, d in hosts.items() if d.get("errors"))
    ports = [p for d in hosts.values() for vs in d.get("vswitches") or []
             for p in vs.get("ports") or []]
    sick = sum(len(health.findings(h, d)) for h, d in hosts.items())
    return [
        "Hosts read: %d of %d%s." % (len(hosts) - len(unread), len(hosts),
                                     " (not: %s)" % ", ".join(unread) if unread else ""),
        "Open vSwitch, ports, bonds and MAC tables: %d port(s) read, %d problem(s) "
        "(ovs-vswitchd answering and applying OVSDB, each bridge's datapath, errors, links "
        "down, stale vnets, bond members and LACP, full tables)." % (len(ports), sick),
        "MTU along each vSwitch: %d mismatch(es) on %d vSwitch(es)." % (mtu, vswitches),
        "MACs, VM ports (iface-id) and IPs on two hosts: %s." % (len(dups) or "none"),
        "Reverse paths: %d checked, %d symmetric, %d with evidence of an asymmetry (findings), "
        "%d that could happen (below)." % (
            len(paths), len(paths) - len(found) - len(could), len(found), len(could)),
    ] + _df_probed(hosts) + _drift_check(hosts) + _watched(hosts)


def _df_probed(hosts):
    probes = [p for d in hosts.values() for p in d.get("mtu_probes") or []]
    if not probes:
        return ["MTU end to end: not probed (diagnostics_mtu_probes false, or no two hosts "
                "share a vSwitch with addresses)."]
    short = mtu_findings(hosts)
    lossy = sum(1 for p in probes if p.get("lossy"))
    owner = _owners(hosts)
    probed = {(tuple(sorted((h, owner.get(p.get("address"), (p.get("address"),))[0]))),
               p.get("interface")) for h, d in hosts.items() for p in d.get("mtu_probes") or []}
    sharing = sum(len(r) * (len(r) - 1) // 2
                  for r in _rings({h: d.get("vswitches") for h, d in hosts.items()}).values())
    return ["MTU end to end: %d path(s) probed with DF set from the hosts' internal ports, %d "
            "answered%s, between %d of the %d pair(s) of hosts that share a vSwitch%s; %d "
            "pair(s) of hosts carry less than the port's MTU." % (
                len(probes), sum(1 for p in probes if p.get("answered")),
                " (%d lost replies and were probed again)" % lossy if lossy else "",
                len(probed), sharing,
                " (each host with a few near and far ones: diagnostics_mtu_peers)"
                if len(probed) < sharing else "", len(short))]


def _watched(hosts):
    rising = {h: d["rising"] for h, d in hosts.items() if d.get("rising")}
    if not rising:
        return ["Counters: not watched (diagnostics_counters 0)."]
    rose = sum(len(health.rising(h, hosts[h])) for h in rising)
    return ["Counters watched %g s on %d host(s) (ports' rx/tx drops and errors, MAC moves): "
            "%s." % (max(r["seconds"] for r in rising.values()), len(rising),
                     "%d rose" % rose if rose else "nothing rose")]


TITLE = "vSwitch diagnostics"


def blocks(hosts, generated=None, host_ip=None, files=None):
    """The report as document blocks (plugin_utils/document.py): its verdict first."""
    found = findings(hosts, host_ip)
    drifted = drift_rows(hosts)
    opening = ["%d finding(s). %s" % (len(found), severities(hosts, host_ip)) if found else
               "Healthy: no finding on %d host(s)." % len(hosts)]
    if drifted:
        opening[0] += " %d difference(s) from the inventory on %s." % (
            len(drifted), ", ".join(sorted({r["host"] for r in drifted})))
    if generated:
        opening.append("Collected %s from %d host(s)%s." % (
            generated, len(hosts), " for %s" % host_ip if host_ip else ""))
    out = [document.block(None, opening),
           document.block("Findings", found or [NOTHING], bullets=True),
           document.block("Checks", checks(hosts), bullets=True, cls="checks")]
    if drifted:
        out.append(document.block(
            "Drift from the inventory",
            ["What the inventory declares (provision.yml would apply it) against what lives; "
             "who changed it, where OVSDB's log of the database file still tells (the last "
             "transaction on that object: its moment and comment, ovs-vsctl's command and the "
             "process that invoked it). A field \"at boot\" compares what the host's network "
             "files (those provision.yml persisted) bring back at the next boot with what "
             "lives: an address added by hand is gone after it, one removed comes back."],
            table_=(["host", "object", "field", "declared", "live",
                     "changed (OVSDB's log, the file's time)"],
                    [[r["host"], r["object"], r["field"], r["declared"], r["live"],
                      r.get("changed") or "-"] for r in drifted]), cls="drift"))
    could = path_evidence.split(_routes(hosts))[1]
    if could:
        out.append(document.block("Could happen (not seen)", [path_evidence.COULD_HAPPEN]))
        out.append(document.block(None, could, bullets=True, cls="could"))
    versions = [[h, o.get("version") or "-", o.get("vswitchd") or "-", o.get("kernel") or "-",
                 "%s of %s" % (o.get("cur_cfg"), o.get("next_cfg")),
                 ", ".join("%s %s" % kv for kv in sorted((o.get("datapaths") or {}).items()))
                 or "-"]
                for h, o in sorted((h, d.get("ovs")) for h, d in hosts.items()) if o]
    if versions:
        out.append(document.block("Open vSwitch per host", [], (
            ["host", "OVS", "ovs-vswitchd", "kernel", "cur_cfg of next_cfg", "datapaths"],
            versions), cls="ovs"))
    for host, data in sorted(hosts.items()):
        out += _host(host, data, host_ip)
    if files:
        out.append(document.block("Files", files, bullets=True, cls="files"))
    return out


def markdown(hosts, generated=None, host_ip=None, files=None):
    return document.markdown(TITLE, blocks(hosts, generated, host_ip, files))


def html(hosts, generated=None, host_ip=None, files=None):
    return document.html(TITLE, blocks(hosts, generated, host_ip, files))


def _vlan(p):
    if p.get("tag") is not None:
        return "tag %s" % p["tag"]
    return "trunks %s" % ",".join(str(t) for t in p["trunks"]) if p.get("trunks") else ""


def _ports(vs):
    rows = []
    for p in vs["ports"]:
        detail = p.get("addresses") or (p.get("external_ids") or {}).get("attached-mac")
        if p.get("bond"):
            b = p["bond"]
            members = ", ".join("%s %s%s" % (m["name"], m.get("link_state"),
                                             " (active)" if m.get("active") else "")
                                for m in b["members"])
            detail = "%s, lacp %s: %s" % (b["mode"], b.get("lacp_status") or b["lacp"], members)
        rows.append([p["name"], p["role"], "LOCAL" if p.get("ofport") == 65534
                     else p.get("ofport"), p.get("mac"), _vlan(p), p.get("mtu"),
                     p.get("link_state"), detail, p.get("error")])
    return (["port", "role", "ofport", "MAC", "VLAN", "MTU", "link", "detail", "error"], rows)


MAX_MACS = 6


def fdb_by_port(entries):
    """The FDB grouped by port: [port, name, role, VLANs, MAC count, MACs, youngest age]."""
    groups = {}
    for e in entries:
        groups.setdefault((str(e.get("port")), e.get("port_name"), e.get("role")), []).append(e)
    rows = []
    vnets_first = sorted(groups.items(), key=lambda kv: (kv[0][2] != "vnet", kv[0][1] or ""))
    for (port, name, role), es in vnets_first:
        macs = sorted(e["mac"] for e in es)
        ages = [e["age"] for e in es if not e.get("static") and e.get("age") is not None]
        rows.append([port, name, role, sorted({e.get("vlan") for e in es}), len(macs),
                     macs[:MAX_MACS] + (["+%d more" % (len(macs) - MAX_MACS)]
                                        if len(macs) > MAX_MACS else []),
                     "static" if not ages else "%s s" % min(ages)])
    return (["port", "name", "role", "VLANs", "MACs", "which", "youngest"], rows)


def silent_vnets(vs, entries):
    """A sentence for the vnets of `vs` with no FDB entry: their VMs sent nothing within the
    MAC aging time (an entry ages out that long after the last frame), or None."""
    learned = {e.get("port_name") for e in entries}
    quiet = ["%s (%s)" % (p["name"], (p.get("external_ids") or {}).get("attached-mac") or "?")
             for p in vs["ports"] if p["role"] == "vnet" and p["name"] not in learned]
    if not quiet:
        return None
    return ("No FDB entry for %s: %s sent no frame in the last %s s (the MAC aging time); "
            "the MAC shown is libvirt's attached-mac." % (
                ", ".join(quiet), "its VM" if len(quiet) == 1 else "their VMs",
                vs["mac_aging_time"]["effective"]))


def _host(host, data, host_ip=None):
    out = [document.block(host, ["Where is it: %s" % data["locate"].get("summary", "")]
                          if data.get("locate") else [])]
    fdbs = {b.get("name") or b.get("bridge"): b for b in data.get("fdb") or []}
    for vs in data.get("vswitches") or []:
        out.append(document.block("%s: %s (%s, MAC aging %ss, table %s)" % (
            host, vs["name"], vs["datapath_type"], vs["mac_aging_time"]["effective"],
            vs["mac_table_size"]["effective"]), [], _ports(vs), level=3))
        fdb = fdbs.get(vs["name"])
        if fdb is not None:
            entries = fdb.get("entries") or []
            lines = ["FDB of %s: %d entr%s on %d port(s)%s." % (
                vs["name"], len(entries), "y" if len(entries) == 1 else "ies",
                len({e.get("port") for e in entries}),
                ", only those of %s (the table holds %s)" % (
                    host_ip, (fdb.get("stats") or {}).get("current", "more")) if host_ip
                else "")]
            # narrowed to host_ip, a vnet without an entry says nothing about its VM
            quiet = None if host_ip else silent_vnets(vs, entries)
            out.append(document.block(None, lines + ([quiet] if quiet else []),
                                      fdb_by_port(entries) if entries else None))
    paths = data.get("paths") or []
    if paths:
        out.append(document.block("%s: paths" % host, [], (
            ["local", "peer", "in", "out", "verdict", "why"],
            [[p.get("local_address"), p.get("peer"), p.get("interface"), p.get("egress"),
              p.get("verdict"), p.get("explanation")] for p in paths]), level=3))
    return out


NO_DATA = {"errors": ["no data: the host was unreachable or a module failed; see the play "
                      "output"]}
# Each host's files: {file: the keys of its results it holds} (a list: one object of them;
# a key: that value as it is, no file when it is None).
HOST_FILES = (("vswitches.json", ["vswitches", "mtu_mismatches", "ovs", "rising", "mtu_probes",
                                  "network_files"]),
              ("fdb.json", "fdb"), ("routes.json", "paths"), ("locate.json", "locate"))


def run_files(hosts, generated=None, host_ip=None):
    """A diagnostics run as {relative path: text}: each host's JSON (HOST_FILES; none for a
    host without results, None in `hosts`), report.md, report.html and summary.json; and the
    findings and drift rows, for the play. Pure."""
    clash = sorted(set(hosts) & {"report.md", "report.html", "summary.json"})
    if clash:
        raise ValueError("a host named %s would overwrite the run's own file" % clash[0])
    data = {h: d if isinstance(d, dict) else NO_DATA for h, d in hosts.items()}
    out = {}
    for host, d in sorted(hosts.items()):
        if not isinstance(d, dict):
            continue
        for name, keys in HOST_FILES:
            value = {k: d.get(k) for k in keys} if isinstance(keys, list) else d.get(keys)
            if value is not None:
                out["%s/%s" % (host, name)] = json.dumps(value, indent=4, sort_keys=True) + "\n"
    listed = ["%s/{vswitches,fdb,routes}.json" % h for h in sorted(hosts)
              if isinstance(hosts[h], dict)]
    found = findings(data, host_ip)
    drifted = drift_rows(data)
    report = blocks(data, generated, host_ip, listed)       # once, for both renderings
    out["report.md"] = document.markdown(TITLE, report)
    out["report.html"] = document.html(TITLE, report)
    out["summary.json"] = json.dumps({"hosts": len(data), "findings": found, "drift": drifted},
                                     indent=4, sort_keys=True) + "\n"
    return out, found, drifted
