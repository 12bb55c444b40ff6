# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet's diagnostics as a report a person reads (Markdown), built on the controller from
what vswitch_info, fdb_info, path_check and locate returned per host. Pure: dicts in, text out.

Input: {host: {"vswitches": [...], "mtu_mismatches": [...], "fdb": [{"name": bridge,
"entries": [...]}], "paths": [...], "locate": {...} or None}}.
"""

from __future__ import annotations

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import path_evidence
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils.markdown import table as _table


def duplicates(hosts):
    """MACs and IPs that live on two hosts at once (a migration leftover, a clone, a typo):
    a MAC on a vnet or internal port (not learned via an uplink) of more than one host, and an
    internal-port address configured on more than one host."""
    macs, ips = {}, {}
    for host, data in sorted(hosts.items()):
        for vs in data.get("vswitches") or []:
            for port in vs["ports"]:
                if port["role"] == "internal":
                    for addr in port.get("addresses") or []:
                        ips.setdefault(addr.split("/")[0], set()).add((host, port["name"]))
                if port["role"] == "vnet":
                    mac = (port.get("external_ids") or {}).get("attached-mac")
                    if mac:
                        macs.setdefault(mac.lower(), set()).add((host, port["name"]))
        for br in data.get("fdb") or []:
            for e in br.get("entries") or []:
                if e.get("role") == "vnet":
                    macs.setdefault(e["mac"].lower(), set()).add((host, e.get("port_name")))
    out = []
    for kind, seen in (("MAC", macs), ("IP", ips)):
        for value, where in sorted(seen.items()):
            if len({h for h, _p in where}) > 1:
                out.append({"kind": kind, "value": value,
                            "where": sorted("%s:%s" % hw for hw in where)})
    return out


NOTHING = ("Nothing abnormal: no path with evidence of an asymmetry, MTUs agree, no MAC or "
           "IP on two hosts.")


def _routes(hosts):
    return {h: d.get("paths") or [] for h, d in hosts.items()}


def findings(hosts):
    """The report's findings, one sentence each, the host first ([] when nothing is
    abnormal). A path is one only with evidence (path_evidence.py)."""
    problems = path_evidence.split(_routes(hosts))[0]
    for host, data in sorted(hosts.items()):
        for m in data.get("mtu_mismatches") or []:
            problems.append("%s: MTU mismatch on %s: %s %s has MTU %s, its uplink %s has %s" % (
                host, m.get("vswitch"), m["role"], m["port"], m["mtu"], m["uplink"],
                m["uplink_mtu"]))
        for error in data.get("errors") or []:
            problems.append("%s: %s" % (host, error))
    for d in duplicates(hosts):
        problems.append("%s %s is on more than one host: %s (a migration leftover?)" % (
            d["kind"], d["value"], ", ".join(d["where"])))
    return problems


def checks(hosts):
    """Each check that ran and its result, one sentence each (silence is not a result)."""
    paths = [p for d in hosts.values() for p in d.get("paths") or []]
    found, could = path_evidence.split(_routes(hosts))
    vswitches = sum(len(d.get("vswitches") or []) for d in hosts.values())
    mtu = sum(len(d.get("mtu_mismatches") or []) for d in hosts.values())
    dups = duplicates(hosts)
    unread = sorted(h for h, d in hosts.items() if d.get("errors"))
    return [
        "Hosts read: %d of %d%s." % (len(hosts) - len(unread), len(hosts),
                                     " (not: %s)" % ", ".join(unread) if unread else ""),
        "MTU along each vSwitch: %d mismatch(es) on %d vSwitch(es)." % (mtu, vswitches),
        "MACs and IPs on two hosts: %s." % (len(dups) or "none"),
        "Reverse paths: %d checked, %d symmetric, %d with evidence of an asymmetry (findings), "
        "%d that could happen (below)." % (len(paths), len(paths) - len(found) - len(could),
                                          len(found), len(could)),
    ]


def markdown(hosts, generated=None, host_ip=None, files=None):
    found = findings(hosts)
    lines = ["# vSwitch diagnostics", "",
             "**%s**" % ("%d finding(s)." % len(found) if found else
                         "Healthy: no finding on %d host(s)." % len(hosts)), ""]
    if generated:
        lines.append("Collected %s from %d host(s)%s." % (
            generated, len(hosts), " for %s" % host_ip if host_ip else ""))
        lines.append("")
    lines.append("## Findings")
    lines.append("")
    lines += ["- " + p for p in found] or ["- " + NOTHING]
    lines.append("")
    lines += ["## Checks", ""] + ["- " + c for c in checks(hosts)] + [""]
    could = path_evidence.split(_routes(hosts))[1]
    if could:
        lines += ["## Could happen (not seen)", "", path_evidence.COULD_HAPPEN, ""]
        lines += ["- " + c for c in could] + [""]
    for host, data in sorted(hosts.items()):
        lines += _host(host, data)
    if files:
        lines += ["## Files", ""] + ["- `%s`" % f for f in files] + [""]
    return "\n".join(lines) + "\n"


def _host(host, data):
    lines = ["## %s" % host, ""]
    loc = data.get("locate")
    if loc:
        lines += ["**Where is it:** %s" % loc.get("summary", ""), ""]
    fdbs = {b.get("name") or b.get("bridge"): b for b in data.get("fdb") or []}
    for vs in data.get("vswitches") or []:
        lines.append("### %s (%s, MAC aging %ss, table %s)" % (
            vs["name"], vs["datapath_type"], vs["mac_aging_time"]["effective"],
            vs["mac_table_size"]["effective"]))
        lines.append("")
        rows = []
        for p in vs["ports"]:
            vlan = ("tag %s" % p["tag"]) if p.get("tag") is not None else (
                "trunks %s" % ",".join(str(t) for t in p["trunks"]) if p.get("trunks") else "")
            detail = p.get("addresses") or (p.get("external_ids") or {}).get("attached-mac")
            if p.get("bond"):
                b = p["bond"]
                members = ", ".join("%s %s%s" % (m["name"], m.get("link_state"),
                                                 " (active)" if m.get("active") else "")
                                    for m in b["members"])
                detail = "%s, lacp %s: %s" % (b["mode"], b.get("lacp_status") or b["lacp"],
                                              members)
            rows.append([p["name"], p["role"], "LOCAL" if p.get("ofport") == 65534
                         else p.get("ofport"), p.get("mac"), vlan, p.get("mtu"),
                         p.get("link_state"), detail, p.get("error")])
        lines += _table(["port", "role", "ofport", "MAC", "VLAN", "MTU", "link", "detail",
                         "error"], rows)
        lines.append("")
        fdb = fdbs.get(vs["name"])
        if fdb is not None:
            entries = fdb.get("entries") or []
            lines.append("FDB (%d entr%s):" % (len(entries), "y" if len(entries) == 1 else "ies"))
            lines.append("")
            if entries:
                lines += _table(["port", "name", "role", "VLAN", "MAC", "age"], [
                    [e.get("port"), e.get("port_name"), e.get("role"), e.get("vlan"),
                     e.get("mac"), "static" if e.get("static") else e.get("age")]
                    for e in entries])
                lines.append("")
    paths = data.get("paths") or []
    if paths:
        lines.append("### Paths")
        lines.append("")
        lines += _table(["local", "peer", "in", "out", "verdict", "why"], [
            [p.get("local_address"), p.get("peer"), p.get("interface"), p.get("egress"),
             p.get("verdict"), p.get("explanation")] for p in paths])
        lines.append("")
    return lines
