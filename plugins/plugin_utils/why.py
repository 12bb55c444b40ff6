# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why a request died, for collect_captures.yml: pure, on the controller.

`plan(analysis, ctx)` takes each request left unanswered (the largest first, MAX_TRACED of
them) at the hop that saw it last, with its frame's headers as seen there (pcap_analysis), and
decides what that sighting means:
- it was entering the vSwitch there (a VM's frame on its vnet, a host's on its internal port,
  a frame from elsewhere on an uplink): trace it through that vSwitch from that port (the trace
  module, ofproto/trace from the headers: nothing is sent, nothing learned);
- it was leaving the host by an uplink, and the host where its destination lives captured its
  own uplink and never saw it: lost in the physical network between the two; traced at the
  other host's uplink as if it had arrived, which says whether that host would have taken it;
- it was delivered to its destination's own port: the receiver did not answer.
`verdicts(cases, results)` turns the traces into findings: host, bridge, port, cause, and the
evidence (packets seen where, the trace's verdict)."""

from __future__ import annotations

MAX_TRACED = 5


def _ports(ctx, host):
    """{interface: port row} of a host's vSwitches (a bond's members map to the bond), with the
    vSwitch's name in `vswitch`."""
    out = {}
    for vs in (ctx.get("vswitches") or {}).get(host) or []:
        for p in vs.get("ports") or []:
            row = dict(p, vswitch=vs["name"])
            out[p["name"]] = row
            for m in ((p.get("bond") or {}).get("members") or []):
                out[m["name"] if isinstance(m, dict) else m] = row
    return out


def _port_mac(p):
    mac = (p.get("external_ids") or {}).get("attached-mac") if p["role"] == "vnet" \
        else p.get("mac")
    return (mac or "").lower() or None


def _home_of(ctx, mac, not_host):
    """(host, port row) of the vnet or internal port that owns `mac`, on another host."""
    for host in sorted((ctx.get("vswitches") or {})):
        if host == not_host:
            continue
        for p in _ports(ctx, host).values():
            if p["role"] in ("vnet", "internal") and _port_mac(p) == mac:
                return host, p
    return None, None


def _uplink(ctx, host, vswitch):
    return next((p for p in _ports(ctx, host).values()
                 if p["role"] == "uplink" and p["vswitch"] == vswitch), None)


def _captured(ctx, host, iface):
    cap = ((ctx.get("located") or {}).get("capture") or {}).get(host) or {}
    return iface in cap


def plan(analysis, ctx, fleet=None):
    """fleet: {host: vswitch_info's vswitches} of every host in the play (the destination's
    host may not have been captured); ctx's own vswitches are used where it has none.

    {hosts: {host: [trace module frames]}, cases: [case]}: what to trace where. A case is
    {request (description, count), hop, host, port, bridge, kind (entering | between |
    delivered | leaving | unknown), seen (words), frame index into hosts[host] or None}."""
    hosts, cases = {}, []
    ctx = dict(ctx, vswitches=dict(fleet or {}, **(ctx.get("vswitches") or {})))
    for u in (analysis.get("unanswered") or [])[:MAX_TRACED]:
        frame, hop = u.get("frame"), u.get("frame_hop") or u.get("last_hop")
        if not frame or not hop or ":" not in hop or not frame.get("dst_mac"):
            continue
        host, iface = hop.split(":", 1)
        port = _ports(ctx, host).get(iface)
        case = {"request": u["description"], "count": u["count"], "hop": hop, "host": host,
                "dst_mac": frame["dst_mac"],
                "port": port["name"] if port else iface, "bridge": port and port["vswitch"],
                "role": port and port["role"], "vlan": frame.get("vlan"), "trace": None}
        if port is None:
            case.update(kind="unknown", seen="last seen on %s, which is no vSwitch port" % hop)
            cases.append(case)
            continue
        src, dst = (frame.get("src_mac") or "").lower(), frame["dst_mac"].lower()
        mine = _port_mac(port)
        if port["role"] in ("vnet", "internal"):
            entering = src == mine
        else:
            local = {_port_mac(p) for p in _ports(ctx, host).values()}
            entering = src not in local
        where = "%s %s (%s%s)" % (host, case["port"], port["role"],
                                  ", tagged %d" % frame["vlan"] if frame.get("vlan") else "")
        if entering:
            case.update(kind="entering", seen="last seen entering %s by %s" % (
                port["vswitch"], where))
            case["trace"] = (host, dict(frame, in_port=port["name"]))
        elif port["role"] in ("vnet", "internal"):
            kind = "delivered" if dst == mine else "flooded"
            case.update(kind=kind, seen="last seen %s %s" % (
                "delivered to its destination's port" if kind == "delivered" else
                "sent out (flooded) by", where))
        else:
            there, home = _home_of(ctx, dst, host)
            up = _uplink(ctx, there, home["vswitch"]) if home else None
            case.update(kind="leaving", seen="last seen leaving %s by %s" % (host, where),
                        next_host=there, next_port=up and up["name"],
                        dst_port=home and home["name"], dst_vlan=home and home.get("tag"))
            if up is not None:
                if _captured(ctx, there, up["name"]):
                    case["kind"] = "between"
                case["trace"] = (there, dict(frame, in_port=up["name"]))
        cases.append(case)
    for case in cases:
        if case["trace"]:
            where, frame = case["trace"]
            hosts.setdefault(where, []).append(frame)
            case["trace"] = [where, len(hosts[where]) - 1]
    return {"hosts": hosts, "cases": cases}


def verdicts(cases, results):
    """The findings, one per case: {host, bridge, port, cause, evidence: [str], sentence}.
    results: {host: the trace module's result} (hosts that failed or were skipped have
    none)."""
    out = []
    for c in cases:
        traced = None
        if c.get("trace"):
            where, i = c["trace"]
            traces = (results.get(where) or {}).get("traces") or []
            traced = traces[i] if i < len(traces) else None
        evidence = ["%d x %s, %s" % (c["count"], c["request"], c["seen"])]
        host, bridge, port = c["host"], c["bridge"], c["port"]
        if traced:
            evidence.append("ofproto/trace on %s: %s" % (c["trace"][0], traced["sentence"]))
        if c["kind"] == "entering" and traced:
            cause = _cause(traced) or "the vSwitch would send it on (%s): lost after it" % (
                traced["sentence"].split(", ", 1)[-1])
        elif c["kind"] == "between":
            cause = "lost between %s %s and %s %s (the physical network): sent %s, never seen " \
                    "arriving at %s %s" % (host, port, c["next_host"], c["next_port"],
                                           "tagged %d" % c["vlan"] if c["vlan"] else "untagged",
                                           c["next_host"], c["next_port"])
            if traced and _cause(traced):
                cause += "; had it arrived, %s" % _cause(traced)
            elif c["vlan"]:
                cause += "; does the switch carry VLAN %d to %s?" % (c["vlan"], c["next_host"])
            if (c["vlan"] or None) != (c.get("dst_vlan") or None):
                cause += "; its destination's port %s %s is on %s" % (
                    c["next_host"], c["dst_port"], "VLAN %d" % c["dst_vlan"]
                    if c.get("dst_vlan") else "no VLAN (untagged)")
        elif c["kind"] == "leaving" and c.get("next_host"):
            cause = "it left %s by %s %s towards %s, whose uplink %s was not captured" % (
                host, port, "tagged %d" % c["vlan"] if c["vlan"] else "untagged",
                c["next_host"], c["next_port"])
            if traced and _cause(traced):
                host, bridge, port = c["next_host"], traced["bridge"], c["next_port"]
                cause = "%s; there, %s" % (cause, _cause(traced))
            elif traced:
                ifaces = sorted({port, c["next_port"]})
                cause += "; had it arrived, %s %s would send it on (%s): capture both " \
                         "uplinks to see whether it arrives (-e capture_hosts=%s,%s " \
                         "-e interfaces=%s)" % (
                             c["next_host"], traced["bridge"],
                             traced["sentence"].split(", ", 1)[-1], host, c["next_host"],
                             ",".join(ifaces))
            if (c["vlan"] or None) != (c.get("dst_vlan") or None):
                cause += "; its destination's port %s %s is on %s" % (
                    c["next_host"], c["dst_port"], "VLAN %d" % c["dst_vlan"]
                    if c.get("dst_vlan") else "no VLAN (untagged)")
        elif c["kind"] == "leaving":
            cause = "it left %s by %s; no host of the play has a port with its destination " \
                    "MAC %s" % (host, port, c.get("dst_mac"))
        elif c["kind"] == "delivered":
            cause = "delivered to its destination's port, which did not answer (the guest or " \
                    "host: its address, firewall or route back)"
        elif c["kind"] == "flooded":
            cause = "flooded: no port of %s has learned the destination MAC" % bridge
        else:
            cause = c["seen"]
        if traced and c["kind"] == "entering":
            bridge = traced["bridge"]
            bad = next((o for o in traced.get("outputs") or [] if o.get("problem")), None)
            if traced["verdict"] == "lost" and bad:
                port = bad["port"]
        out.append({"host": host, "bridge": bridge, "port": port, "cause": cause,
                    "kind": c["kind"], "evidence": evidence,
                    "sentence": "%s %s (%s): %s [%s]" % (host, bridge or "-", port, cause,
                                                         "; ".join(evidence))})
    return out


def _cause(traced):
    """The trace's cause of death in words, or None when it would pass."""
    if traced["verdict"] == "drop":
        return traced["reason"]
    if traced["verdict"] == "lost":
        bad = [o for o in traced.get("outputs") or [] if o.get("problem")]
        return "; ".join("%s: %s" % (o["port"], o["problem"]) for o in bad)
    return None
