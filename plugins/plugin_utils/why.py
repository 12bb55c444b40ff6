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

from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot.oftrace import lost_at
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.validate import group_mac
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import datapath_report
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils.trace_path import vlan_words as _vlan

MAX_TRACED = 5
LATE = 1.0          # seconds before the end of the captures: too late to judge


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


def _home_of(ctx, mac, not_host=None):
    """(host, port row) of the vnet or internal port that owns `mac` (on another host than
    not_host)."""
    for host in sorted((ctx.get("vswitches") or {})):
        if host == not_host:
            continue
        for p in _ports(ctx, host).values():
            if p["role"] in ("vnet", "internal") and _port_mac(p) == mac:
                return host, p
    return None, None


def _tag_now(ctx, host, port):
    """A port's tag at the end of the capture: as read before it, or as the last OVSDB event
    during it set it (a tag changed mid-run)."""
    tag = port.get("tag")
    for _t, h, e in datapath_report.events(ctx):
        if h == host and e.get("table") == "Port" and e.get("row") == port["name"] \
                and e.get("column") == "tag":
            new = e.get("new")
            tag = new if isinstance(new, int) else None
    return tag


def _group(mac):
    return not mac or group_mac(mac)


def _located_mac(ctx, ip):
    """The MAC locate gave an address (located.json: where the address and its peers live)."""
    loc = ctx.get("located") or {}
    for h in (loc.get("hosts") or []) + (loc.get("peer_hosts") or []):
        if isinstance(h, dict) and ip and h.get("ip") == ip and h.get("local") and h.get("mac"):
            return h["mac"].lower()
    return None


def _unicast(ctx, mac, frame):
    """The destination's own MAC: `mac`, or for a broadcast (an ARP request for the frame's
    dst_ip) the MAC locate gave the target address, else the one MAC that the same sender's own
    frames to that address, on the same VLAN, were sent to in this capture (its neighbour
    entry: an on-link address, since it asks for it by ARP)."""
    if not _group(mac):
        return mac
    ip = frame.get("dst_ip")
    return _located_mac(ctx, ip) or (ctx.get("addressed") or {}).get(
        ((frame.get("src_mac") or "").lower(), ip, frame.get("vlan")), mac)


def _addressed(analysis):
    """{(sender MAC, address, VLAN): MAC} where the capture's requests from that sender to
    that address, last seen on that VLAN, all went to one unicast MAC."""
    seen = {}
    for u in (analysis.get("unanswered") or []) + (analysis.get("answered_sample") or []):
        frame = u.get("frame") or {}
        mac = (frame.get("dst_mac") or "").lower()
        if frame.get("dst_ip") and frame.get("src_mac") and not _group(mac):
            key = (frame["src_mac"].lower(), frame["dst_ip"], frame.get("vlan"))
            seen.setdefault(key, set()).add(mac)
    return {key: macs.pop() for key, macs in seen.items() if len(macs) == 1}


_REPLY_ICMP = {8: 0, 128: 129}


def _reply(frame, ctx):
    """The reply to a request frame: MACs, addresses and ports swapped, the echo reply's type
    (an ARP reply's op); its VLAN on an uplink is the tag of the port that answered."""
    out = dict(frame, src_mac=_unicast(ctx, frame["dst_mac"], frame),
               dst_mac=frame.get("src_mac"), src_ip=frame.get("dst_ip"),
               dst_ip=frame.get("src_ip"), src_port=frame.get("dst_port"),
               dst_port=frame.get("src_port"))
    if frame.get("icmp_type") in _REPLY_ICMP:
        out["icmp_type"] = _REPLY_ICMP[frame["icmp_type"]]
    if frame.get("arp_op") == 1:
        out["arp_op"] = 2
    _host, home = _home_of(ctx, out["src_mac"])
    out["vlan"] = home.get("tag") if home else frame.get("vlan")
    return {k: v for k, v in out.items() if v is not None}


def _uplink(ctx, host, vswitch):
    return next((p for p in _ports(ctx, host).values()
                 if p["role"] == "uplink" and p["vswitch"] == vswitch), None)


def _watching(ctx, hop, u):
    """Whether the capture at `hop` was listening when the first of the requests was seen, with
    time to spare before it ended (unknown start or duration: assumed)."""
    start = (ctx.get("starts") or {}).get(hop)
    duration = (ctx.get("located") or {}).get("duration")
    if start is None or u.get("first") is None:
        return True
    end = start + duration if duration else None
    return u["first"] >= start and (end is None or u["first"] <= end - LATE)


def _captured(ctx, host, iface):
    cap = ((ctx.get("located") or {}).get("capture") or {}).get(host) or {}
    return iface in cap


def plan(analysis, ctx, fleet=None):
    """fleet: {host: vswitch_info's vswitches} of every host in the play (the destination's
    host may not have been captured); ctx's own vswitches are used where it has none.

    {hosts: {host: [trace module frames]}, cases: [case]}: what to trace where. A case is
    {request (description, count), hop, host, port, bridge, kind (entering | between |
    delivered | leaving | unknown), seen (words), frame index into hosts[host] or None,
    control}: the answered requests of the analysis's sample are traced the same way from
    where they were first seen (control: true), to check that the traces tell the truth."""
    hosts, cases = {}, []
    end = max([f["last"] for f in analysis.get("files") or [] if f.get("last") is not None]
              or [None], key=lambda t: t or 0)
    ctx = dict(ctx, vswitches=dict(fleet or {}, **(ctx.get("vswitches") or {})),
               addressed=_addressed(analysis))
    for u in (analysis.get("unanswered") or [])[:MAX_TRACED]:
        if end is not None and u.get("first") is not None and u["first"] > end - LATE:
            continue        # first seen in the capture's last second: the next hop's may have
            #                 ended before it got there, the answer may have come after
        case = _case(u, ctx)
        if case is not None:
            cases.append(case)
    # the answered requests of the sample, traced only where something is to be judged
    for u in (analysis.get("answered_sample") or []) if any(c["trace"] for c in cases) else []:
        case = _case(u, ctx)
        if case is not None and case["trace"]:
            cases.append(dict(case, control=True))
    for case in cases:
        if case["trace"]:
            where, frame = case["trace"]
            hosts.setdefault(where, []).append(frame)
            case["trace"] = [where, len(hosts[where]) - 1]
    return {"hosts": hosts, "cases": cases}


def _case(u, ctx):
    """What the sighting of request flow `u` (its frame at its hop) means, and where to trace
    it: a case (see plan), or None when there is nothing to judge."""
    frame, hop = u.get("frame"), u.get("frame_hop") or u.get("last_hop")
    if not frame or not hop or ":" not in hop or not frame.get("dst_mac"):
        return None
    what = u["description"]
    if u.get("fate") == "reply-lost" and u.get("reply_last_hop"):
        # answered, the reply lost on its way back: follow the reply from where it was
        # last seen (on the VLAN of the port that answered, which is where NORMAL put it)
        hop, frame = u["reply_last_hop"], _reply(frame, ctx)
        what = "reply to %s" % what
    host, iface = hop.split(":", 1)
    port = _ports(ctx, host).get(iface)
    case = {"request": what, "count": u["count"], "hop": hop, "host": host,
            "first": u.get("first"), "control": False,
            "dst_mac": frame["dst_mac"], "dst_ip": frame.get("dst_ip"),
            "src_ip": frame.get("src_ip"),
            "port": port["name"] if port else iface, "bridge": port and port["vswitch"],
            "role": port and port["role"], "vlan": frame.get("vlan"), "trace": None}
    if port is None:
        case.update(kind="unknown", seen="last seen on %s, which is no vSwitch port" % hop)
        return case
    src, dst = (frame.get("src_mac") or "").lower(), frame["dst_mac"].lower()
    mine = _port_mac(port)
    if port["role"] in ("vnet", "internal") and mine not in (src, dst):
        # a flood's copy to a bystander port: where it went on is the host's uplink
        up = next((h for h in u.get("hops") or [] if h.startswith(host + ":") and
                   (_ports(ctx, host).get(h.split(":", 1)[1]) or {}).get("role") ==
                   "uplink"), None)
        if up:
            _h, src_home = _home_of(ctx, src)
            hop, port = up, _ports(ctx, host)[up.split(":", 1)[1]]
            frame = dict(frame, vlan=(src_home or {}).get("tag"))
            mine = _port_mac(port)
            case.update(hop=hop, port=port["name"], bridge=port["vswitch"],
                        role=port["role"], vlan=frame["vlan"])
    unicast = _unicast(ctx, dst, frame)
    if unicast != dst and not _located_mac(ctx, frame.get("dst_ip")):
        case["dst_inferred"] = unicast
    home_host, home = _home_of(ctx, unicast)
    if home:
        case.update(dst_host=home_host, dst_port=home["name"], dst_mac=_port_mac(home),
                    dst_vlan=_tag_now(ctx, home_host, home), dst_bridge=home["vswitch"])
    src_host, src_home = _home_of(ctx, src)
    if src_home:
        case.update(src_host=src_host, src_port=src_home["name"], src_mac=src,
                    src_vlan=_tag_now(ctx, src_host, src_home),
                    src_bridge=src_home["vswitch"])
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
        there, home = _home_of(ctx, unicast, host)
        up = _uplink(ctx, there, home["vswitch"]) if home else None
        case.update(kind="leaving", seen="last seen leaving %s by %s" % (host, where),
                    next_host=there, next_port=up and up["name"],
                    next_bridge=up and up["vswitch"],
                    dst_port=home and home["name"], dst_vlan=home and home.get("tag"))
        if up is not None:
            if _captured(ctx, there, up["name"]):
                if not _watching(ctx, "%s:%s" % (there, up["name"]), u):
                    return None  # sent while that capture was not (yet, or any more) on
                case["kind"] = "between"
            case["trace"] = (there, dict(frame, in_port=up["name"]))
    return case


def verdicts(cases, results, declared=None, ctx=None):
    """The findings: {host, bridge, port, cause, kind, evidence: [str], sentence}, one per
    case, cases that die the same way joined. results: {host: the trace module's result}
    (hosts that failed or were skipped have none); declared: {host: the inventory's
    vswitches}, to name the side of a VLAN mismatch that was changed by hand; ctx: the run's
    context, whose OVSDB events on the port a verdict names are cited with it."""
    out = []
    for c in cases:
        if c.get("control"):
            continue
        traced = None
        if c.get("trace"):
            where, i = c["trace"]
            traces = (results.get(where) or {}).get("traces") or []
            traced = traces[i] if i < len(traces) else None
        evidence = ["%d x %s, %s" % (c["count"], c["request"], c["seen"])]
        if c.get("dst_inferred"):
            evidence[0] += " (to %s: the MAC of the sender's own frames to %s)" % (
                c["dst_inferred"], c.get("dst_ip"))
        host, bridge, port = c["host"], c["bridge"], c["port"]
        if traced:
            evidence.append("ofproto/trace on %s: %s" % (c["trace"][0], traced["sentence"]))
        if c["kind"] == "entering" and traced:
            cause = _cause(traced) or "the vSwitch would send it on (%s): lost after it" % (
                traced["sentence"].split(", ", 1)[-1])
        elif c["kind"] == "between":
            # said the same for both directions (one finding): the two uplinks in name order
            ends = sorted([(host, port, bridge),
                           (c["next_host"], c["next_port"], c.get("next_bridge"))])
            (host, port, bridge), there = ends[0], "%s %s" % ends[1][:2]
            what = "frames tagged %d" % c["vlan"] if c["vlan"] else "untagged frames"
            cause = "lost in the physical network between %s %s and %s: %s sent by one are " \
                    "never seen arriving at the other" % (host, port, there, what)
            evidence[0] += ", never seen arriving at %s %s" % (c["next_host"], c["next_port"])
            if traced and traced.get("entry"):
                # the port it arrives by cannot take it: a NIC drops what exceeds its MTU
                # before any capture sees it; a bond with no member enabled takes nothing
                host, bridge, port = c["next_host"], traced["bridge"], c["next_port"]
                cause = _cause(traced)
            elif traced and _cause(traced):
                cause += "; had it arrived, %s" % _cause(traced)
            elif c["vlan"]:
                cause += "; do the switch's ports towards %s and %s carry VLAN %d?" % (
                    ends[0][0], ends[1][0], c["vlan"])
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
        elif c["kind"] == "leaving":
            cause = "it left %s by %s; no host of the play has a port with its destination " \
                    "(%s)" % (host, port, c.get("dst_ip") or c.get("dst_mac"))
        elif c["kind"] == "delivered" and _rp_dropped(ctx or {}, c):
            path = _rp_dropped(ctx or {}, c)
            cause = "delivered to the host's %s, where its kernel drops it (reverse-path " \
                    "filter): %s" % (port, path.get("explanation") or path.get("verdict"))
            evidence.append("path_check on %s: %s to %s arrives on %s, back by %s, %s" % (
                host, path.get("peer"), path.get("local_address"), path.get("interface"),
                path.get("egress") or "no route", path.get("verdict")))
        elif c["kind"] == "delivered":
            cause = "delivered to its destination's port, which did not answer (the guest or " \
                    "host: its address, firewall or route back)"
        elif c["kind"] == "flooded":
            cause = "flooded: no port of %s has learned the destination MAC" % bridge
        else:
            cause = c["seen"]
        if traced and c["kind"] == "entering":
            bridge = traced["bridge"]
            bad = lost_at(traced)
            if traced["verdict"] == "lost" and bad:
                port = bad["port"]
        mismatch = _vlan_mismatch(c, declared or {})
        if mismatch:
            host, bridge, port, cause = mismatch
        cause += _changed(ctx or {}, host, port, c.get("first"))
        same = next((v for v in out if (v["host"], v["port"], v["cause"]) ==
                     (host, port, cause)), None)
        if same:                 # the other direction, or another request, dying the same way
            same["evidence"] += evidence
            same["sentence"] = _sentence(same)
            continue
        v = {"host": host, "bridge": bridge, "port": port, "cause": cause, "kind": c["kind"],
             "evidence": evidence}
        v["sentence"] = _sentence(v)
        out.append(v)
    return out


def controls(cases, results, ctx=None):
    """The answered requests traced as a control, the same way as the unanswered ones:
    [{request, host, hop, sentence, agrees, changed}]. A control that the trace says would die
    (drop, lost) contradicts the traffic: the traces, and so the verdicts, may not tell what
    the vSwitch did during the capture (a flow, a tag, the MAC table changed since) - unless
    OVSDB changed after it was answered (`changed`: those events, in words): then the trace
    shows the state after the change, as the verdicts do."""
    ctx, out = ctx or {}, []
    t0 = datapath_report.start_of(ctx)
    for c in cases:
        if not c.get("control"):
            continue
        where, i = c["trace"]
        traces = (results.get(where) or {}).get("traces") or []
        if i >= len(traces):
            continue
        t = traces[i]
        later = ["%s %s at %s" % (h, datapath_report.event_words(e),
                                  datapath_report.offset(at, t0))
                 for at, h, e in datapath_report.events(ctx)
                 if c.get("first") is not None and at > c["first"]]
        out.append({"request": c["request"], "host": where, "hop": c["hop"],
                    "sentence": "%s %s" % (where, t["sentence"]),
                    "agrees": t["verdict"] not in ("drop", "lost"), "changed": later})
    return out


def control_findings(checked):
    """A finding for each control the traces contradict."""
    return ["a control contradicts the traces: %s was answered, yet ofproto/trace on %s says: "
            "%s; the verdicts above may not tell what the vSwitch did during the capture (a "
            "flow, a tag or the MAC table changed since?)" % (
                c["request"], c["host"], c["sentence"])
            for c in checked if not c["agrees"] and not c.get("changed")]


def _rp_dropped(ctx, c):
    """path_check's verdict (routes/<host>.json) for a request delivered to a host's internal
    port whose reply would leave by another interface under strict rp_filter, or None."""
    if c.get("role") != "internal":
        return None
    for path in (ctx.get("routes") or {}).get(c["host"]) or []:
        if path.get("verdict") == "asymmetric-dropped" and path.get("peer") == c.get("src_ip") \
                and path.get("local_address") == c.get("dst_ip"):
            return path
    return None


def _changed(ctx, host, port, first):
    """'; changed during the capture: Port vnet2 tag 20 → 30 at +2.013 s, the first request
    left unanswered at +2.210 s' for OVSDB events on that port (the evidence of a hand edit or
    a re-plug at the moment the traffic died), else ''."""
    t0 = datapath_report.start_of(ctx)
    said = [(t, e) for t, h, e in datapath_report.events(ctx)
            if h == host and e.get("row") == port and e.get("table") in ("Port", "Interface")]
    if not said:
        return ""
    return "; changed during the capture: %s%s" % (
        "; ".join("%s at %s" % (datapath_report.event_words(e), datapath_report.offset(t, t0))
                  for t, e in said),
        ", the first request left unanswered at %s" % datapath_report.offset(first, t0)
        if first is not None else "")


def _sentence(v):
    return "%s %s (%s): %s [%s]" % (v["host"], v["bridge"] or "-", v["port"], v["cause"],
                                    "; ".join(v["evidence"]))


def _declared_tag(declared, host, mac, port):
    """The tag the inventory gives a vnet (by attached_mac or name): (found, tag)."""
    for vs in declared.get(host) or []:
        for vnet in vs.get("vnets") or []:
            if (vnet.get("attached_mac") or "").lower() == mac or vnet.get("name") == port:
                return True, vnet.get("tag")
    return False, None


def _vlan_mismatch(c, declared):
    """(host, bridge, port, cause) when the sender's and the destination's ports are on two
    VLANs (both tagged): the cause, whatever died where; the side the inventory disagrees
    with is named (changed by hand), else the destination's port."""
    a, b = c.get("src_vlan"), c.get("dst_vlan")
    if a is None or b is None or a == b or not c.get("src_port") or not c.get("dst_port"):
        return None
    ends = sorted([(c["src_host"], c["src_port"], a), (c["dst_host"], c["dst_port"], b)])
    cause = "VLAN mismatch: %s %s is on VLAN %d, %s %s on VLAN %d (the two ends of the " \
            "conversation)" % (ends[0] + ends[1])
    name, bridge = (c["dst_host"], c["dst_port"]), c.get("dst_bridge")
    for side in ("src", "dst"):
        found, tag = _declared_tag(declared, c[side + "_host"], c.get(side + "_mac"),
                                   c[side + "_port"])
        if found and tag != c[side + "_vlan"]:
            name, bridge = (c[side + "_host"], c[side + "_port"]), c.get(side + "_bridge")
            cause += "; the inventory puts %s %s on %s (changed by hand?)" % (
                name[0], name[1], _vlan(tag))
            break
    return name[0], bridge, name[1], cause


def _cause(traced):
    """The trace's cause of death in words, or None when it would pass."""
    if traced.get("entry"):
        return "%s: %s" % (traced["entry"]["port"], traced["entry"]["problem"])
    if traced["verdict"] == "drop":
        return traced["reason"]
    if traced["verdict"] == "lost":
        bad = lost_at(traced)
        return "%s: %s" % (bad["port"], bad["problem"]) if bad else None
    return None
