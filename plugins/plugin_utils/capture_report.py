# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report of a capture run: report.md and a self-contained report.html (inline CSS and
SVG, nothing fetched). Pure apart from `load_run`, which reads the run directory:

    <run>/<host>/<interface>.pcap and .json (sidecar), <run>/<host>/vswitches.json,
    <run>/<host>/capture.json, <run>/fdb/<host>.json, <run>/routes/<host>.json,
    <run>/located.json

(`evidence` builds all but the pcaps and their sidecars from what the captures role registered).

Every section is built once as (title, paragraphs, table) and rendered twice, so the two
reports say the same thing. Everything from packets, hostnames and files is escaped.
"""

from __future__ import annotations

import json
import os
import re

from ansible_collections.cloudnet.vswitch.plugins.module_utils.capture import collect
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import (
    datapath_report,
    document,
    path_evidence,
    pcap_analysis,
    why,
)
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils.document import h as _h

MAX_ROWS = 50


# ---------------------------------------------------------------- the run directory
def _json(path, problems):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        problems.append("%s could not be read: %s" % (path, e))
        return None


def start_skew(starts):
    """One sentence: how far apart the captures started listening, by the hosts' clocks."""
    if len(starts) < 2:
        return "Start skew: one capture only."
    first, last = min(starts, key=starts.get), max(starts, key=starts.get)
    return "Start skew: the captures started listening within %.3f s of each other (first %s, " \
        "last %s; hosts' clocks)." % (starts[last] - starts[first], first, last)


def load_run(run_dir):
    """(sources, context): one source per `<host>/<interface>.pcap` with its sidecar's fields,
    sorted by host and interface, and the evidence beside them (missing files are None)."""
    problems, sources = [], []
    hosts = sorted(d for d in os.listdir(run_dir) if os.path.isdir(os.path.join(run_dir, d))
                   and d not in ("fdb", "routes", datapath_report.DIR))
    ctx = {"located": _json(os.path.join(run_dir, "located.json"), problems),
           "vswitches": {}, "fdb": {}, "routes": {}, "problems": problems, "starts": {},
           "host_notes": {}}
    for host in hosts:
        hdir = os.path.join(run_dir, host)
        for name in sorted(os.listdir(hdir)):
            if not name.endswith(".pcap"):
                continue
            side = _json(os.path.join(hdir, name[:-5] + ".json"), problems)
            if side is None:
                problems.append("%s/%s has no sidecar: drops and clock offset unknown" % (
                    host, name))
            src = dict(side or {}, host=host, interface=name[:-5],
                       path=os.path.join(hdir, name))
            src["sidecar_packets"] = (side or {}).get("packets")
            sources.append(src)
            start = (side or {}).get("listening_at") or (side or {}).get("started_at")
            if isinstance(start, (int, float)):
                ctx["starts"]["%s:%s" % (host, name[:-5])] = start
        # the capture module's notes: bond members skipped, patch ports redirected, a mirrored
        # balance-tcp bond's duplicated frames (OVS 3.1), an unknown clock offset
        cap = _json(os.path.join(hdir, "capture.json"), problems)
        if isinstance(cap, dict) and cap.get("notes"):
            ctx["host_notes"][host] = [str(n) for n in cap["notes"]]
        vs = _json(os.path.join(hdir, "vswitches.json"), problems)
        if vs is not None:
            ctx["vswitches"][host] = vs.get("vswitches", vs) if isinstance(vs, dict) else vs
    for kind in ("fdb", "routes"):
        kdir = os.path.join(run_dir, kind)
        for name in sorted(os.listdir(kdir)) if os.path.isdir(kdir) else []:
            if name.endswith(".json"):
                data = _json(os.path.join(kdir, name), problems)
                if isinstance(data, dict):   # a whole module result
                    data = data.get("bridges" if kind == "fdb" else "paths")
                ctx[kind][name[:-5]] = data or []
    datapath_report.load(run_dir, ctx, problems)   # counters and OVSDB events of the window
    owners = own_ports(ctx)
    for src in sources:
        # who lives behind this port: a request of theirs is answered when its reply is here
        src["owns"] = owners.get((src["host"], src["interface"]), [])
    return sources, ctx


def own_ports(ctx):
    """{(host, port): [address, MAC]}: the ports the followed address and each peer live
    behind (a vnet or an internal port), from located.json, with what lives there."""
    loc = ctx.get("located") or {}
    out = {}
    homes = [(h, loc.get("address")) for h in located_hosts(ctx)] + [
        (h, h.get("ip")) for h in peer_hosts(ctx)]
    for h, address in homes:
        if h.get("local") is False or h.get("role") not in ("vnet", "internal") or \
                not h.get("host") or not h.get("port"):
            continue
        names = out.setdefault((h["host"], h["port"]), [])
        for name in (address, h.get("mac")):
            if name and str(name).lower() not in names:
                names.append(str(name).lower())
    return out


# What the captures role's tasks register on each planned host (roles/captures/tasks/), the
# part of it that is evidence, and the file it goes to.
REGISTERED = (("_captures_result", "fdb", "fdb/%s.json"),
              ("_captures_paths", "paths", "routes/%s.json"),
              ("_captures_locate", "vswitches", "%s/vswitches.json"),
              ("_captures_result", None, "%s/capture.json"))
# The keys of the capture's result (capture_collect's, or async_status's) that are the job's
# or the collection's, or written to a file of their own (fdb), not to capture.json.
JOB_KEYS = collect.JOB_KEYS + ("stdout", "stderr", "dest", "fetched", "removed", "fdb")
LOST_NOTE = "%s: lost during the run (unreachable or failed); its captures and evidence are " \
    "missing"


def evidence(plan, hostvars, play_hosts, address, peers=()):
    """{relative path: data}, the files `load_run` reads beside the pcaps, from the captures
    role's plan (capture_plan's {hosts, located, notes}) and what its tasks registered
    (REGISTERED) on each planned host still in the play (hostvars: {host: {variable: value}}).
    A planned host not in play_hosts was lost (unreachable, failed): it has no files, and
    located.json names it in `lost` and in a note. Raises ValueError with a sentence."""
    if not isinstance(plan, dict) or not isinstance(plan.get("hosts"), dict):
        raise ValueError("plan: not a capture plan (no hosts)")
    planned = list(plan["hosts"])
    lost = [h for h in planned if h not in play_hosts]
    out = {}
    for host in planned:
        if host in lost:
            continue
        hv = hostvars[host] if host in hostvars else {}   # Ansible's works a host out per lookup
        for var, key, rel in REGISTERED:
            try:
                data = hv[var]
            except KeyError:
                raise ValueError("%s: %s is not defined (the captures role registers it)" % (
                    host, var)) from None
            if var == "_captures_paths" and isinstance(data, dict) and data.get("skipped"):
                out[rel % host] = []       # no path to check: a MAC with no address yet
                continue
            if not isinstance(data, dict) or (key is not None and key not in data):
                raise ValueError("%s: %s has no %s" % (host, var, key or "result"))
            out[rel % host] = data[key] if key is not None else {
                k: v for k, v in data.items() if k not in JOB_KEYS}
    for host in planned:   # the datapath's counters and OVSDB events of the window
        data = None if host in lost else datapath_report.evidence_of(
            (hostvars[host] if host in hostvars else {}).get("_captures_result"))
        if data is not None:
            out["%s/%s.json" % (datapath_report.DIR, host)] = data
    out["located.json"] = {
        "address": address, "peers": list(peers or []), "hosts": plan.get("located") or [],
        "peer_hosts": plan.get("peers_located") or [],
        "capture": plan["hosts"], "notes": list(plan.get("notes") or []) + [
            LOST_NOTE % h for h in lost], "lost": lost,
        "wide": bool(plan.get("wide")), "duration": plan.get("duration")}
    return out


def located_hosts(ctx):
    loc = ctx.get("located") or {}
    return [h for h in (loc.get("hosts") or loc.get("locations") or []) if isinstance(h, dict)]


def local_macs(ctx):
    """{host: {mac: why}}: MACs that belong to a host or to a VM on it (a sender on that host),
    from vswitches.json, the FDB (vnet and internal entries) and located.json."""
    out = {}
    for host, vswitches in ctx.get("vswitches", {}).items():
        for vs in vswitches or []:
            for p in vs.get("ports") or []:
                if p.get("role") in ("internal", "uplink") and p.get("mac"):
                    out.setdefault(host, {})[p["mac"].lower()] = "the host's MAC on %s" % p["name"]
                mac = (p.get("external_ids") or {}).get("attached-mac")
                if p.get("role") == "vnet" and mac:
                    out.setdefault(host, {})[mac.lower()] = "the VM on %s" % p["name"]
    for host, bridges in ctx.get("fdb", {}).items():
        for br in bridges or []:
            for e in br.get("entries") or []:
                if e.get("role") in ("vnet", "internal") and e.get("mac"):
                    out.setdefault(host, {}).setdefault(e["mac"].lower(), "FDB of %s: on %s" % (
                        br.get("name"), e.get("port_name") or e.get("port")))
    for h in located_hosts(ctx):
        if h.get("role") in ("vnet", "internal") and h.get("mac") and h.get("host"):
            out.setdefault(h["host"], {}).setdefault(h["mac"].lower(), "located on %s %s" % (
                h.get("role"), h.get("port")))
    return out


# ---------------------------------------------------------------- the sections
def utc(t):
    return document.utc(t)


def size(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else "%.1f %s" % (n, unit)
        n /= 1024.0


def sections(rep):
    """[(title, [paragraph], (header, rows) or None)] from the report dict: {title, address,
    run_dir, generated, analysis, context, files_written}."""
    a, ctx, address = rep["analysis"], rep["context"], rep.get("address") or "-"
    found = _findings(a, ctx, rep.get("address"))
    verdict = ("%d finding(s)." % len(found) if found else
               "Healthy: no finding. %s, no reply before its request (clock skew), no "
               "unexplained bad checksum, no path with evidence of an asymmetry.%s"
               % _every_answered(a)) + _capture_drops(a)
    out = [(None, [verdict] + _summary(rep), None),
           ("Findings", found or ["Nothing abnormal."], None)]
    located = located_hosts(ctx)
    # its home: the port it lives behind (a vnet, an internal port); "seen via": the uplinks
    # and ports that merely learned its MAC
    home = [h for h in located if h.get("local") is not False]
    via = [h for h in located if h.get("local") is False]
    seen = _seen_at(a, address) if (ctx.get("located") or {}).get("wide") else {}
    out.append(("Where %s lives" % address,
                ([] if home else ["No host placed it before the capture." if not located else
                                  "No port it lives behind was found; it was only seen via the "
                                  "ports below."])
                + (["No host knew it before the capture; during it, it showed up at: %s." %
                    ", ".join("%s (%d packet(s))" % kv for kv in sorted(seen.items()))]
                   if seen else []),
                (["host", "vSwitch", "port", "role", "MAC", "VLAN", "evidence"],
                 [[h.get("host"), h.get("vswitch"), h.get("port"), h.get("role"), h.get("mac"),
                   h.get("vlan"), "; ".join(h.get("evidence") or [])] for h in home])
                if home else None))
    if via:
        out.append(("Where %s was seen via" % address,
                    ["Ports whose vSwitch learned its MAC from traffic that passed: not where "
                     "it lives."],
                    (["host", "vSwitch", "port", "role", "VLAN", "evidence"],
                     [[h.get("host"), h.get("vswitch"), h.get("port"), h.get("role"),
                       h.get("vlan"), "; ".join(e for e in h.get("evidence") or []
                                                if not e.startswith("heard "))]
                      for h in via])))
    out.append(("What was captured where", [
        "Times are the hosts' own clocks (not corrected by the offsets shown).",
        start_skew(rep["context"].get("starts") or {})],
        (["hop", "packets", "bytes", "first", "last", "span", "drops (kernel/interface)",
          "truncated", "clock offset", "filter"],
         [[f["hop"], _packets(f), size(f["bytes"]), utc(f["first"]), utc(f["last"]),
           "-" if f["span"] is None else "%.3f s" % f["span"],
           "%s/%s" % (f.get("kernel_dropped") or 0, f.get("interface_dropped") or 0),
           f["truncated_packets"], _offset(f.get("clock_offset")), f.get("filter")]
          for f in a["files"]])))
    out.append(("VLAN seen at each hop", ["untagged: no 802.1Q tag in the frame as captured."],
                (["hop", "VLANs (packets)"],
                 [[f["hop"], ", ".join("%s (%d)" % kv for kv in f["vlans"].items())]
                  for f in a["files"]])))
    convs = a["conversations"]
    out.append(("Conversations", ["%d conversation(s)%s; packets and bytes at the hop that saw "
                                  "the most; per hop a->b / b->a packets and VLANs." % (
                                      a["conversation_count"], ", the %d largest shown" %
                                      MAX_ROWS if a["conversation_count"] > MAX_ROWS else "")],
                (["protocol", "a", "b", "packets", "bytes", "hops"],
                 [[c["protocol"], c["a"], c["b"], c["packets"], size(c["bytes"]),
                   "; ".join("%s %d/%d %s" % (h["hop"], h["a_to_b"], h["b_to_a"],
                                              ",".join(h["vlans"])) for h in c["hops"])]
                  for c in convs[:MAX_ROWS]])))
    answered = ", ".join("%s %d" % kv for kv in sorted(a["answered"].items())) or "none"
    out.append(("Requests left unanswered", ["Answered: %s." % answered] + _answered_where(a),
                (["request", "count", "what became of it", "last seen on", "seen on (in order)",
                  "first", "note"],
                 [[u["description"], u["count"], _fate(u, ctx), u["last_hop"],
                   ", ".join(u["hops"]), utc(u["first"]), "; ".join(u["qualifiers"])]
                  for u in a["unanswered"]])
                if a["unanswered"] else None))
    shown = "" if a["skew_count"] <= len(a["skew"]) else ", %d shown" % len(a["skew"])
    out.append(("Replies seen before their request (clock skew)",
                ["%d found%s." % (a["skew_count"], shown)],
                (["exchange", "reply seen on", "at", "request seen on", "at", "reply earlier by"],
                 [[s["description"], s["reply_hop"], utc(s["reply_time"]), s["request_hop"],
                   utc(s["request_time"]), "%.3f s" % s["delta"]] for s in a["skew"]])
                if a["skew"] else None))
    out.append(("Bad checksums", ["Only packets captured whole are checked (%d truncated "
                                  "packet(s) skipped)." % sum(f["truncated_packets"]
                                                              for f in a["files"])],
                (["hop", "layer", "source MAC", "from", "to", "count", "verdict"],
                 [[b["hop"], b["layer"], b["src_mac"], b["src"], b["dst"], b["count"],
                   b["reason"]] for b in a["bad_checksums"]]) if a["bad_checksums"] else None))
    paths = [dict(p, host=h) for h, ps in sorted(ctx.get("routes", {}).items()) for p in ps or []]
    odd = [p for p in paths if p.get("verdict") != "symmetric"]
    checked = (["%d path(s) checked, %d symmetric." % (len(paths), len(paths) - len(odd))]
               if paths else ["No reverse path was checked (no address of it known to the "
                              "hosts)."])
    out.append(("Reverse-path verdicts", checked,
                (["host", "local", "peer", "in", "out", "verdict", "explanation"],
                 [[p["host"], p.get("local_address"), p.get("peer"), p.get("interface"),
                   p.get("egress"), p.get("verdict"), p.get("explanation")] for p in odd])
                if odd else None))
    could = _paths(a, ctx)[1]
    if could:
        out.append(("Could happen (not seen)", [path_evidence.COULD_HAPPEN],
                    (["host: what would happen"], [[c] for c in could])))
    checked = ctx.get("controls") or []
    if checked:
        out.append(("Traces checked against the traffic", [
            "Answered requests traced the same way as the unanswered ones, from where they were "
            "first seen: a trace that says it would die contradicts the traffic."],
            (["request", "traced", "agrees"],
             [[c["request"], c["sentence"], "yes" if c["agrees"] else
               "no, OVSDB changed after it was answered: %s" % "; ".join(c["changed"])
               if c.get("changed") else "NO"] for c in checked])))
    out += datapath_report.sections(ctx)
    notes = ["%s: %s" % (h, n) for h, ns in sorted(ctx.get("host_notes", {}).items())
             for n in ns]
    if notes:
        out.append(("Notes from the hosts", notes, None))
    if rep.get("files_written"):
        out.append(("Files", list(rep["files_written"]), None))
    return out


def _summary(rep):
    a = rep["analysis"]
    return ["Capture run %s for %s: %d file(s), %d packet(s), %d unanswered request flow(s)." % (
        rep.get("run_name") or "-", rep.get("address") or "-", len(a["files"]), a["packets"],
        len(a["unanswered"]))] + (["Generated %s." % rep["generated"]]
                                  if rep.get("generated") else [])


def _packets(f):
    side = f.get("sidecar_packets")
    if side is not None and side != f["packets"]:
        return "%d (sidecar says %s)" % (f["packets"], side)
    return f["packets"]


def _offset(value):
    return "unknown" if value is None else "%+.6f s" % float(value)


def _seen_at(a, address):
    """{hop: packets} of the conversations that have `address` at one end; for a MAC (the
    captures filtered on it: every packet captured is from or to it), each file's packets."""
    if is_mac(address):
        return {f["hop"]: f["packets"] for f in a["files"] if f["packets"]}
    out = {}
    for c in a["conversations"]:
        if address in (path_evidence.address_of(c["a"]), path_evidence.address_of(c["b"])):
            for h in c["hops"]:
                out[h["hop"]] = out.get(h["hop"], 0) + h["a_to_b"] + h["b_to_a"]
    return out


def _silent(a, ctx, address):
    """The finding for an address that sent nothing and was sent nothing while captured: not
    one packet on the VM's own vnet(s), or, in a wide capture (no host knew it), anywhere."""
    loc = ctx.get("located") or {}
    if not address or _seen_at(a, address):
        return []
    within = "in %s s" % loc["duration"] if loc.get("duration") else "during the capture"
    then = ("does the guest have its link up and ask for an address (console, DHCP)?" if
            is_mac(address) else "does the guest have this address and its link up (console), "
            "is its VLAN carried to these hosts? Then run again with -e host_mac=... or the "
            "VM's vnet (-e capture_hosts=... -e interfaces=...).")
    if loc.get("wide"):
        hosts = sorted({f["host"] for f in a["files"] if f.get("host")})
        return ["%s sent nothing and nothing was sent to it: no packet from or to it on %d "
                "host(s) x %d interface(s) (every uplink and internal port of %s) %s, and "
                "before the capture no host knew it (no vnet, FDB, neighbour or libvirt entry). "
                "Traffic between two VMs of one host crosses none of these ports. "
                "Next: is the VM running and its vNIC plugged (virsh domiflist), %s" % (
                    address, len(hosts), len(a["files"]), ", ".join(hosts) or "-", within,
                    then)]
    homes = {"%s:%s" % (h.get("host"), h.get("port")) for h in located_hosts(ctx)
             if h.get("local") and h.get("role") == "vnet"}
    watched = [f["hop"] for f in a["files"] if f["hop"] in homes]
    if not watched:
        return []
    return ["%s sent nothing and nothing was sent to it: no packet from or to it on its own "
            "port %s %s (nor anywhere else captured). Next: is the guest up, its link up and "
            "its address configured (console)?" % (address, ", ".join(sorted(watched)), within)]


def is_mac(address):
    return bool(re.match(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$", (address or "").lower()))


def findings(rep):
    """The report's findings, one sentence each ([] when healthy)."""
    return _findings(rep["analysis"], rep["context"], rep.get("address"))


def _findings(a, ctx, address=None):
    # why each request died leads: host, vSwitch, port, cause and its evidence (why.py)
    out = [v["sentence"] for v in ctx.get("why") or []]
    out += why.control_findings(ctx.get("controls") or [])
    out += _silent(a, ctx, address)
    out += datapath_report.findings(ctx)
    for u in a["unanswered"]:
        out.append("%d x %s %s%s" % (
            u["count"], u["description"], _fate(u, ctx),
            " (%s)" % "; ".join(u["qualifiers"]) if u["qualifiers"] else ""))
    if a["skew_count"]:
        worst = max(a["skew"], key=lambda s: s["delta"])
        out.append("%d reply(ies) stamped before their request: the clocks of %s and %s "
                   "disagree by at least %.3f s" % (a["skew_count"], worst["reply_hop"],
                                                    worst["request_hop"], worst["delta"]))
    for b in a["bad_checksums"]:
        if not b["likely_offload"]:
            out.append("%d bad %s checksum(s) on %s from %s: %s" % (
                b["count"], b["layer"], b["hop"], b["src"], b["reason"]))
    for f in a["files"]:
        if f.get("truncated_file"):
            out.append("%s ends mid-packet (the capture was cut off)" % f["hop"])
    out += _paths(a, ctx)[0]
    out += ["%s:%s: %s" % (e["host"], e["interface"], e["error"]) for e in a.get("errors", [])]
    out += ctx.get("problems") or []
    return out


def _capture_drops(a):
    """The captures that dropped packets themselves (tcpdump's own count): no finding about
    the network, but what they missed is evidence neither way, so the verdict says it."""
    dropped = ["%s (%d)" % (f["hop"], f["drops"]) for f in a["files"] if f["drops"]]
    return (" The captures on %s dropped packets themselves (tcpdump's count): what they "
            "missed is evidence neither way." % ", ".join(dropped)) if dropped else ""


def _every_answered(a):
    """(the healthy verdict's words on the requests, what follows the verdict): answered at the
    port that sent them where it was captured; seen answered anywhere where it was not."""
    at_port = a.get("answered_at_port") or {}
    unwatched = a.get("answered_unwatched") or {}
    edge = sum((a.get("answered_at_edge") or {}).values())
    late = sum((a.get("unanswered_at_edge") or {}).values())
    unseen = sum((a.get("unseen_capture_dropped") or {}).values())
    after = (" %d request(s) sent as the captures ended, to a port no longer captured, are "
             "counted neither way." % late) if late else ""
    if unseen:
        after += (" %d request(s) or reply(ies) not seen at a port whose capture dropped "
                  "packets are counted neither way." % unseen)
    if not at_port and not unwatched:
        return "Every request was answered", after
    words = "Every request was answered at the port that sent it" if at_port else \
        "Every request was answered"
    if at_port:
        words += " (%s%s)" % (", ".join("%s: %d" % kv for kv in sorted(at_port.items())),
                              "; %d more at the edges of the capture, the reply seen while "
                              "that port was not yet or no longer captured" % edge
                              if edge else "")
    if unwatched:
        after += (" The port that sent the requests of %s was not captured: for those, "
                  "answered means the reply was seen on a captured port." % _senders(unwatched))
    return words, after


def _senders(unwatched):
    return ", ".join("%s (%d)" % kv for kv in sorted(unwatched.items()))


def _answered_where(a):
    """Where the answers were seen: at the port that sent the request, or (its port not
    captured) anywhere."""
    out = []
    if a.get("answered_at_port"):
        out.append("Answered at the port that sent the request: %s." % ", ".join(
            "%s %d" % kv for kv in sorted(a["answered_at_port"].items())))
    if a.get("answered_unwatched"):
        out.append("Answered, the port that sent the request not captured (the reply seen on a "
                   "captured port, not necessarily delivered): %s." % _senders(
                       a["answered_unwatched"]))
    if a.get("answered_at_edge"):
        out.append("Answered at the edges of the capture, the reply seen on a captured port "
                   "while the port that sent the request was not yet or no longer captured: "
                   "%s." % _senders(a["answered_at_edge"]))
    if a.get("unanswered_at_edge"):
        out.append("Sent as the captures ended, the target's own port no longer captured and "
                   "the sender's stopping before a reply could come back (the hosts' captures "
                   "end a little apart; the last %.0f s): no evidence either way, not counted "
                   "as unanswered: %s." % (
                       pcap_analysis.END_MARGIN, _senders(a["unanswered_at_edge"])))
    if a.get("unseen_capture_dropped"):
        out.append("Not seen at the port it was headed for, whose capture dropped packets "
                   "(tcpdump's own count; each dropped packet excuses one such absence there): "
                   "no evidence either way, not counted as unanswered: %s." % _senders(
                       a["unseen_capture_dropped"]))
    return out


def hop_words(ctx, hop, sep=" (%s)"):
    """'hv2:eth0 (the uplink of vswitch0)': a hop and, where vswitches.json knows it, what it
    is, in words (`sep` puts them together)."""
    host, _sep, iface = str(hop).partition(":")
    for vs in (ctx.get("vswitches") or {}).get(host) or []:
        for p in vs.get("ports") or []:
            members = [m.get("name") if isinstance(m, dict) else m
                       for m in (p.get("bond") or {}).get("members") or []]
            if p.get("name") == iface or iface in members:
                what = {"uplink": "the uplink", "internal": "the internal port",
                        "vnet": "a vnet"}.get(p.get("role"), "a port")
                if iface in members:
                    what = "a member of %s, the uplink" % p.get("name")
                return str(hop) + sep % ("%s of %s" % (what, vs.get("name")))
    return str(hop)


def _fate(u, ctx):
    """What became of requests left unanswered, in words: where the reply or the request was
    last seen and the port it never reached."""
    fate = u.get("fate") or "unanswered"
    if fate == "reply-lost":
        seen = u.get("reply_hops") or ["?"]
        first = u.get("reply_first_hop") or seen[0]
        last = u.get("reply_last_hop") or seen[-1]
        where = "seen there only" if seen == [last] else \
            "last seen on %s" % hop_words(ctx, last, ", %s")
        return "answered at %s, never delivered to %s (the reply %s)" % (
            first, ", ".join(u.get("requester_port") or ["?"]), where)
    if fate == "not-answered":
        return "delivered to %s, not answered (no reply seen anywhere)" % ", ".join(
            u.get("target_port") or ["?"])
    if fate == "not-delivered":
        return "last seen at %s, never delivered to %s" % (
            hop_words(ctx, u["last_hop"]), ", ".join(u.get("target_port") or ["?"]))
    return "unanswered, last seen on %s" % u["last_hop"]


def _paths(a, ctx):
    """(findings, could_happen) of the reverse paths: a finding only with evidence, e.g. the
    request's packets in this capture (path_evidence.py)."""
    return path_evidence.split(ctx.get("routes") or {},
                               path_evidence.seen_requests(a.get("conversations")))


# ---------------------------------------------------------------- Markdown and HTML
def blocks(rep):
    """The sections as document blocks (plugin_utils/document.py); the picture (HTML only)
    after the findings."""
    out = []
    for title, paragraphs, table in sections(rep):
        b = document.block(title, paragraphs, table, bullets=title in ("Findings", "Files"))
        if title == "Findings":
            b["html"] = ('<h2>The vSwitches involved</h2><div style="overflow-x:auto">%s</div>'
                         % svg(rep))
        out.append(b)
    return out


def markdown(rep):
    return document.markdown(rep.get("title") or "Capture report", blocks(rep)) + \
        "\nThe picture of the path is in report.html.\n"


def render_html(rep):
    return document.html(rep.get("title") or "Capture report", blocks(rep))


# ---------------------------------------------------------------- the picture
PORT_W, LINE, GAP, CHAR, TOP = 96, 14, 12, 7.5, 40
SMALL = 6.3     # px a character: CHAR in the 12px lines, SMALL in the 11px ones (DejaVu)
COLOURS = {"uplink": "#e9e3f5", "member": "#e9e3f5", "vnet": "#e3f6e3", "internal": "#fff2cc",
           "other": "#eee"}
HOME, PEER, STOP = ("#f4b6b6", "#a00"), ("#bcd7f5", "#1f5fa8"), "#e00000"
ROW = {"internal": "side", "uplink": "bottom"}        # any other role: on top, with the vnets
TEXT = {"name": "#000", "note": "#555", "captured": "#333", "home": HOME[1], "peer": PEER[1],
        "stop": STOP, "verdict": STOP}
VERDICT_CHARS = 34      # of a verdict's cause in its port's box (the whole in the tooltip)
SVG_CSS = ("svg.picture text{font:12px sans-serif}svg.picture .name,svg.picture .stop,"
           "svg.picture .verdict"
           "{font-weight:bold}svg.picture .note,svg.picture .captured,svg.picture .legend"
           "{font-size:11px}")


def peer_hosts(ctx):
    """Where ADDR's peers live: located.json's peer_hosts [{host, vswitch, port, role, local,
    ip, ...}], [] for an older run without it."""
    loc = ctx.get("located") or {}
    return [h for h in loc.get("peer_hosts") or [] if isinstance(h, dict)]


def involved(rep):
    """{host: [vswitch {name, ports: [{name, role}]}]}: the vSwitches that hold ADDR, a peer, a
    captured interface or the port a verdict names (all of a host's when none is known), from
    vswitches.json, or made up from located.json, the captured interfaces and the verdicts
    when it is missing (a verdict's host may not have been captured). A bond also has its
    members: [{name, role "member", note, down}]."""
    ctx, files = rep["context"], rep["analysis"]["files"]
    captured = {}
    for f in files:
        captured.setdefault(f["host"], set()).add(f["interface"])
    located = located_hosts(ctx) + [h for h in peer_hosts(ctx) if h.get("local") is not False]
    located += [{"host": v["host"], "vswitch": v.get("bridge"), "port": v["port"],
                 "role": _guess_role(v["port"])}
                for v in ctx.get("why") or [] if v.get("host") and v.get("port")]
    out = {}
    for host in sorted(set(captured) | {h.get("host") for h in located if h.get("host")},
                       key=_natural):
        known = ctx.get("vswitches", {}).get(host)
        wanted = {h.get("vswitch") for h in located if h.get("host") == host}
        if known:
            mine = [{"name": vs.get("name"), "ports": [_port_of(p) for p in vs.get("ports") or []]}
                    for vs in known]
            out[host] = [vs for vs in mine if vs["name"] in wanted or captured.get(host, set()) & {
                q["name"] for p in vs["ports"] for q in [p] + p.get("members", [])}] or mine
            continue
        ports = {}
        for h in located:
            if h.get("host") == host and h.get("port"):
                ports[h["port"]] = h.get("role") or "other"
        for name in sorted(captured.get(host, ())):
            ports.setdefault(name, _guess_role(name))
        vsname = next((h.get("vswitch") for h in located if h.get("host") == host), None)
        out[host] = [{"name": vsname or "vSwitch ?", "ports": [
            {"name": n, "role": r} for n, r in sorted(ports.items())]}]
    return out


def _natural(name):
    """hv2 before hv10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(name))]


def _port_of(p):
    """A port of vswitches.json as the picture needs it: name, role, a bond's members."""
    out = {"name": p.get("name"), "role": p.get("role") or "other"}
    bond = p.get("bond") or {}
    members = [m for m in bond.get("members") or [] if isinstance(m, dict)]
    if members:
        out["note"] = "bond, %s" % (bond.get("mode") or "mode ?")
        out["members"] = [_member(m) for m in members]
    return out


def _member(m):
    """A bond member to draw: its name, what is notable about it, whether it is down."""
    words = (("link down", m.get("link_state") == "down"), ("disabled", m.get("enabled") is False),
             ("active", m.get("active") is True))
    return {"name": m.get("name"), "role": "member",
            "note": ", ".join(word for word, yes in words if yes),
            "down": m.get("link_state") == "down" or m.get("enabled") is False}


def _guess_role(name):
    if name.startswith("vnet"):
        return "vnet"
    if name.startswith(("vswitch", "br")):
        return "internal"
    return "uplink" if name.startswith(("eth", "en", "bond")) else "other"


def _marks(rep):
    """{(host, port): {lines: [(text, class)], titles: [str]}}: what a port's box says below
    its name: packets and VLANs where it was captured, ADDR at its home, a peer's address at
    the peer's, "requests stop here" at the last hop of unanswered requests."""
    ctx, a, address = rep["context"], rep["analysis"], rep.get("address") or "ADDR"
    out = {}

    def mark(host, port, cls, text, title):
        m = out.setdefault((host, port), {"lines": [], "titles": []})
        if (text, cls) not in m["lines"]:
            m["lines"].append((text, cls))
            m["titles"].append(title)

    hops = {}
    for f in a["files"]:
        hops[f.get("hop")] = (f["host"], f["interface"])
        vlans = f.get("vlans") or {}
        per_vlan = "".join("; %s%s: %d" % ("" if v == "untagged" else "VLAN ", v, n)
                           for v, n in vlans.items())
        mark(f["host"], f["interface"], "captured", _count(f),
             "captured: %d packet(s)%s" % (f.get("packets") or 0, per_vlan))
    for h in located_hosts(ctx):
        if h.get("local") is not False:
            mark(h.get("host"), h.get("port"), "home", address, "%s lives here" % address)
    for h in peer_hosts(ctx):
        if h.get("local") is not False:
            peer = h.get("ip") or "a peer"
            mark(h.get("host"), h.get("port"), "peer", "peer %s" % peer, "peer %s lives here"
                 % peer)
    stops = {}
    for u in a.get("unanswered") or []:
        # a reply never delivered stops where the reply was last seen, not the request
        lost = u.get("fate") == "reply-lost" and u.get("reply_last_hop")
        stops.setdefault((hops.get(lost or u.get("last_hop")), bool(lost)), []).append(u)
    for (where, replies), us in stops.items():
        if where:
            listed = "; ".join("%s (%s)" % (u.get("description"), u.get("count"))
                               for u in us[:8])
            more = "; and %d more" % (len(us) - 8) if len(us) > 8 else ""
            if replies:
                mark(*where, "stop", "replies stop here",
                     "answered, the reply last seen here, never delivered to the port that "
                     "sent the request: " + listed + more)
            else:
                mark(*where, "stop", "requests stop here",
                     "unanswered, last seen here: " + listed + more)
    for i, v in enumerate(ctx.get("why") or []):
        # the verdict's own port: where and why (the report's findings, in that order)
        cause = v.get("cause") or ""
        short = cause if len(cause) <= VERDICT_CHARS else cause[:VERDICT_CHARS - 1] + "…"
        mark(v.get("host"), v.get("port"), "verdict", "why %d: %s" % (i + 1, short),
             "verdict %d: %s" % (i + 1, cause))
    return out


def _count(f):
    """'12 pkt · VLAN 10': a captured port's packets and the VLANs they carried."""
    vlans = f.get("vlans") or {}
    tags = [v for v in vlans if v != "untagged"]
    words = ["%d pkt" % (f.get("packets") or 0)]
    if tags:
        words.append("VLAN " + ",".join(tags[:3]) + ("…" if len(tags) > 3 else ""))
    if "untagged" in vlans:
        words.append("untagged")
    return " · ".join(words)


def _box(host, p, marks):
    """A port to draw: its lines of text (its name, a note, its marks), its size."""
    m = marks.get((host, p["name"]), {"lines": [], "titles": []})
    note = [(p["note"], "note")] if p.get("note") else []
    lines = [(str(p["name"]), "name")] + note + m["lines"]
    return dict(p, host=host, lines=lines, titles=m["titles"], h=LINE * len(lines) + 8,
                marks=[cls for _text, cls in m["lines"]],
                w=max([PORT_W] + [int(len(t) * (SMALL if cls in ("note", "captured") else
                                                CHAR)) + 14 for t, cls in lines]))


def _span(items, key="w"):
    return sum(i[key] for i in items) + GAP * max(len(items) - 1, 0)


def _row(items, x, y, key="w"):
    """Places items left to right from x, each centred in its `key` width (from "left")."""
    for i in items:
        i["left"], i["x"], i["y"] = x, x + (i[key] - i["w"]) // 2, y
        x += i[key] + GAP


def _layout(pics, marks):
    """The one layout pass: (host columns, wires [(port, x, y)], the switch bar's y, width).
    Columns side by side, a host's vSwitches side by side in its column; in a vSwitch box the
    vnets on top, the internal port(s) at the right, the uplinks at the bottom, a bond's
    members below the box."""
    cols, wires, x = [], [], GAP
    for host, vswitches in pics.items():
        col, vx = {"name": host, "x": x, "vswitches": [], "bottom": TOP + 40}, x + GAP
        for vs in vswitches:
            ports = [_box(host, p, marks) for p in vs["ports"]]
            for p in ports:
                p["members"] = [_box(host, m, marks) for m in p.get("members", [])]
                p["slot"] = max(p["w"], _span(p["members"]))
            top, side, bottom = ([p for p in ports if ROW.get(p["role"], "top") == k]
                                 for k in ("top", "side", "bottom"))
            name_w = int(len(str(vs["name"])) * CHAR) + GAP
            w = 2 * GAP + max(_span(top, "slot"), _span(bottom, "slot"), 160,
                              name_w + GAP + max([p["w"] for p in side], default=0))
            _row(top, vx + GAP, TOP + GAP)
            y = TOP + GAP + (max(p["h"] for p in top) + GAP if top else 0)
            box = {"name": vs["name"], "x": vx, "w": w, "name_y": y + 16, "ports": ports}
            for p in side:
                p["x"], p["y"] = vx + w - GAP - p["w"], y
                y += p["h"] + 6
            y = max(y, box["name_y"] + 6) + GAP
            _row(bottom, vx + GAP, y, "slot")
            box["h"] = y + (max(p["h"] for p in bottom) + GAP if bottom else 0) - TOP
            bottom_y = TOP + box["h"]
            for p in bottom:
                _row(p["members"], p["left"] + (p["slot"] - _span(p["members"])) // 2,
                     TOP + box["h"] + 28)
                for q in p["members"] or [p]:
                    wires.append((q, q["x"] + q["w"] // 2, q["y"] + q["h"]))
                    bottom_y = max(bottom_y, q["y"] + q["h"])
            col["vswitches"].append(box)
            col["bottom"] = max(col["bottom"], bottom_y)
            vx += w + GAP
        col["w"] = max(vx - x, int(len(str(host)) * CHAR) + 2 * GAP)
        cols.append(col)
        x += col["w"] + 2 * GAP
    bar_y = max([c["bottom"] for c in cols], default=TOP) + 60
    return cols, wires, bar_y, x


def svg(rep):
    """The picture of the run: one column per host, a box per vSwitch with its ports, a wire
    from each uplink (each member of a bond) down to the physical switch. ADDR's home is red,
    a peer's blue, a captured port says its packets and VLANs, the last hop of unanswered
    requests has a thick red border, the port each verdict names a thicker one with its cause.
    Plain SVG, no script: it sits inside report.html."""
    address = rep.get("address") or "ADDR"
    cols, wires, bar_y, width = _layout(involved(rep), _marks(rep))
    legend, legend_w = _legend(address, bar_y + 50)
    width = max(width, legend_w)
    out = ["<style>%s</style>" % SVG_CSS]
    for p, x, y in wires:
        out.append('<g class="wire"><title>%s</title><line x1="%d" y1="%d" x2="%d" y2="%d" '
                   'stroke="#555" stroke-width="2"%s/></g>' % (
                       _h("%s:%s to the physical switch%s" % (p["host"], p["name"], ", down"
                                                              if p.get("down") else "")),
                       x, y, x, bar_y, ' stroke-dasharray="5 4"' if p.get("down") else ""))
    out.append('<g class="switch"><title>the physical switch (ToR) / network the uplinks '
               'lead to</title><rect x="%d" y="%d" width="%d" height="28" rx="4" fill="#ddd" '
               'stroke="#555"/><text x="%d" y="%d" class="name">physical switch / network'
               '</text></g>' % (GAP, bar_y, width - 2 * GAP, 2 * GAP, bar_y + 19))
    for c in cols:
        out.append('<g class="host"><title>%s</title><rect x="%d" y="10" width="%d" height="%d" '
                   'fill="none" stroke="#999" stroke-dasharray="4 3"/><text x="%d" y="28" '
                   'class="name">%s</text>' % (_h(c["name"]), c["x"], c["w"],
                                               c["bottom"] + GAP - 10, c["x"] + 8, _h(c["name"])))
        for vs in c["vswitches"]:
            out.append('<g class="vswitch"><title>%s:%s</title><rect x="%d" y="%d" width="%d" '
                       'height="%d" rx="6" fill="#fafafa" stroke="#555"/><text x="%d" y="%d" '
                       'class="name">%s</text>' % (_h(c["name"]), _h(vs["name"]), vs["x"], TOP,
                                                   vs["w"], vs["h"], vs["x"] + GAP,
                                                   vs["name_y"], _h(vs["name"])))
            for p in vs["ports"]:
                out.append(_port(p))
                for q in p["members"]:
                    out.append('<line class="bond" x1="%d" y1="%d" x2="%d" y2="%d" '
                               'stroke="#555"/>' % (p["x"] + p["w"] // 2, p["y"] + p["h"],
                                                    q["x"] + q["w"] // 2, q["y"]))
                    out.append(_port(q, "member of %s" % p["name"]))
            out.append("</g>")
        out.append("</g>")
    out.append(legend)
    height = bar_y + 50 + 2 * LINE + 12
    return ('<svg class="picture" width="%d" height="%d" viewBox="0 0 %d %d" role="img" '
            'aria-label="%s">%s</svg>' % (width, height, width, height, _h(
                "the vSwitches involved, wired to the physical switch"), "".join(out)))


def _port(p, what=None):
    """A port's box: coloured by its role (red: ADDR's home, blue: a peer's), a thick border
    where captured, a thicker red one where requests stop, the thickest on the port a verdict
    names; its lines; a tooltip."""
    marks = p["marks"]
    fill = (HOME[0] if "home" in marks else PEER[0] if "peer" in marks else
            COLOURS.get(p["role"], COLOURS["other"]))
    stroke, sw = ((STOP, 6) if "verdict" in marks else (STOP, 4) if "stop" in marks else
                  (HOME[1], 2) if "home" in marks else
                  (PEER[1], 2) if "peer" in marks else ("#333", 2 if "captured" in marks else 1))
    title = "; ".join(["%s:%s (%s)" % (p["host"], p["name"], what or p["role"])]
                      + ([p["note"]] if p.get("note") else []) + p["titles"])
    text = "".join('<text x="%d" y="%d" class="%s" fill="%s">%s</text>' % (
        p["x"] + 6, p["y"] + 16 + i * LINE, cls, TEXT[cls], _h(t))
        for i, (t, cls) in enumerate(p["lines"]))
    return ('<g class="%s"><title>%s</title><rect x="%d" y="%d" width="%d" height="%d" rx="3" '
            'fill="%s" stroke="%s" stroke-width="%d"/>%s</g>' % (
                _h(" ".join(["port", p["role"]] + sorted(set(marks)))), _h(title), p["x"],
                p["y"], p["w"], p["h"], fill, stroke, sw, text))


def _legend(address, y):
    """(markup, width): two lines, what the marks mean and what the role colours mean."""
    box = 'height="12" stroke-width="%d" fill="%s" stroke="%s"'
    marks = [(box % (2, HOME[0], HOME[1]), "%s lives here" % address),
             (box % (2, PEER[0], PEER[1]), "a peer lives here"),
             (box % (2, "#fff", "#333"), "captured: packets · VLANs"),
             (box % (4, "#fff", STOP), "requests (or their replies) stop here: the last hop "
                                       "that saw them"),
             (box % (6, "#fff", STOP), "why N: the port a verdict names, and its cause"),
             ('height="2" fill="#555" transform="translate(0 5)"',
              "wire to the switch (dashed: link down)")]
    roles = [(box % (1, COLOURS[r], "#333"), t) for r, t in (
        ("vnet", "top: vnet (a VM)"), ("internal", "right: internal port (the host)"),
        ("uplink", "bottom: uplink, below it a bond's members"))]
    out, width = ['<g class="legend">'], 0
    for row, items in enumerate((marks, roles)):
        x, ty = GAP, y + row * (LINE + 8)
        for attrs, text in items:
            out.append('<rect x="%d" y="%d" width="18" %s/><text x="%d" y="%d" class="legend">'
                       '%s</text>' % (x, ty, attrs, x + 24, ty + 10, _h(text)))
            x += 24 + int(len(text) * SMALL) + 2 * GAP
        width = max(width, x)
    return "".join(out) + "</g>", width
