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

import html
import json
import os
import time

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import path_evidence
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils.markdown import cell as _md
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils.markdown import table as _table

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
                   and d not in ("fdb", "routes"))
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
    return sources, ctx


# What the captures role's tasks register on each planned host (roles/captures/tasks/), the
# part of it that is evidence, and the file it goes to.
REGISTERED = (("_captures_fdb", "bridges", "fdb/%s.json"),
              ("_captures_paths", "paths", "routes/%s.json"),
              ("_captures_seen", "vswitches", "%s/vswitches.json"),
              ("_captures_result", None, "%s/capture.json"))
# The keys of the capture's async_status result that are the job's, not the capture's.
JOB_KEYS = ("invocation", "ansible_job_id", "results_file", "started", "finished", "stdout",
            "stderr")
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
            if not isinstance(data, dict) or (key is not None and key not in data):
                raise ValueError("%s: %s has no %s" % (host, var, key or "result"))
            out[rel % host] = data[key] if key is not None else {
                k: v for k, v in data.items() if k not in JOB_KEYS}
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
    if t is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + ".%03dZ" % (t % 1 * 1000)


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
               "Healthy: no finding. Every request was answered, no skew, no unexplained bad "
               "checksum, no path with evidence of an asymmetry.")
    out = [(None, [verdict] + _summary(rep), None),
           ("Findings", found or ["Nothing abnormal."], None)]
    located = located_hosts(ctx)
    # its home: the port it lives behind (a vnet, an internal port); "seen via": the uplinks
    # and ports that merely learned its MAC
    home = [h for h in located if h.get("local") is not False]
    via = [h for h in located if h.get("local") is False]
    seen = _seen_at(a, address) if (ctx.get("located") or {}).get("wide") else {}
    out.append(("Where %s lives" % address,
                ([] if home else ["located.json is missing or found nothing." if not located else
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
           "%s/%s" % (f.get("drops_kernel") or 0, f.get("drops_interface") or 0),
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
    out.append(("Requests left unanswered", ["Answered: %s." % answered],
                (["request", "count", "last seen on", "seen on (in order)", "first", "note"],
                 [[u["description"], u["count"], u["last_hop"], ", ".join(u["hops"]),
                   utc(u["first"]), "; ".join(u["qualifiers"])] for u in a["unanswered"]])
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
               if paths else ["No routes/*.json in the run."])
    out.append(("Reverse-path verdicts", checked,
                (["host", "local", "peer", "in", "out", "verdict", "explanation"],
                 [[p["host"], p.get("local_address"), p.get("peer"), p.get("interface"),
                   p.get("egress"), p.get("verdict"), p.get("explanation")] for p in odd])
                if odd else None))
    could = _paths(a, ctx)[1]
    if could:
        out.append(("Could happen (not seen)", [path_evidence.COULD_HAPPEN],
                    (["host: what would happen"], [[c] for c in could])))
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
    """{hop: packets} of the conversations that have `address` at one end."""
    out = {}
    for c in a["conversations"]:
        if address in (path_evidence.address_of(c["a"]), path_evidence.address_of(c["b"])):
            for h in c["hops"]:
                out[h["hop"]] = out.get(h["hop"], 0) + h["a_to_b"] + h["b_to_a"]
    return out


def _silent(a, ctx, address):
    """The finding for an address that no host knew and that the wide capture never saw."""
    loc = ctx.get("located") or {}
    if not loc.get("wide") or not address or _seen_at(a, address):
        return []
    hosts = sorted({f["host"] for f in a["files"] if f.get("host")})
    return ["%s sent nothing and nothing was sent to it: no packet from or to it on %d host(s) "
            "x %d interface(s) (every uplink and internal port of %s) in %s, and before the "
            "capture no host knew it (no vnet, FDB, neighbour or libvirt entry). Next: is the VM "
            "running and its vNIC plugged (virsh domiflist), does the guest have this address "
            "and its link up (console), is its VLAN carried to these hosts? Then run again "
            "with -e host_mac=... or the VM's vnet (-e capture_hosts=... -e interfaces=...)." % (
                address, len(hosts), len(a["files"]), ", ".join(hosts) or "-",
                "%s s" % loc["duration"] if loc.get("duration") else "the capture")]


def _findings(a, ctx, address=None):
    out = _silent(a, ctx, address)
    for u in a["unanswered"]:
        out.append("%d x %s unanswered, last seen on %s%s" % (
            u["count"], u["description"], u["last_hop"],
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
        if f["drops"]:
            out.append("the capture on %s dropped %d packet(s)" % (f["hop"], f["drops"]))
        if f.get("truncated_file"):
            out.append("%s ends mid-packet (the capture was cut off)" % f["hop"])
    out += _paths(a, ctx)[0]
    out += ["%s:%s: %s" % (e["host"], e["interface"], e["error"]) for e in a.get("errors", [])]
    out += ctx.get("problems") or []
    return out


def _paths(a, ctx):
    """(findings, could_happen) of the reverse paths: a finding only with evidence, e.g. the
    request's packets in this capture (path_evidence.py)."""
    return path_evidence.split(ctx.get("routes") or {},
                               path_evidence.seen_requests(a.get("conversations")))


# ---------------------------------------------------------------- Markdown
def markdown(rep):
    lines = ["# %s" % _md(rep.get("title") or "Capture report"), ""]
    for title, paragraphs, table in sections(rep):
        if title:
            lines += ["## %s" % _md(title), ""]
        bullets = title in ("Findings", "Files")
        if paragraphs:
            lines += ["%s%s" % ("- " if bullets else "", _md(p)) for p in paragraphs] + [""]
        if table:
            lines += _table(*table) + [""]
    lines += ["The picture of the vSwitches is in report.html.", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- HTML
CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 6px;
text-align:left;vertical-align:top}th{background:#f0f0f0}h2{border-bottom:1px solid #ddd}
.findings li{margin:.2em 0}svg text{font:12px sans-serif}"""


def _h(value):
    return html.escape("-" if value in (None, "", []) else str(value), quote=True)


def _html_table(header, rows):
    return "<table><tr>%s</tr>%s</table>" % (
        "".join("<th>%s</th>" % _h(c) for c in header),
        "".join("<tr>%s</tr>" % "".join("<td>%s</td>" % _h(c) for c in row) for row in rows))


def render_html(rep):
    title = _h(rep.get("title") or "Capture report")
    body = ["<h1>%s</h1>" % title]
    for name, paragraphs, table in sections(rep):
        if name:
            body.append("<h2>%s</h2>" % _h(name))
        if name in ("Findings", "Files"):
            body.append('<ul class="findings">%s</ul>' % "".join(
                "<li>%s</li>" % _h(p) for p in paragraphs))
        else:
            body += ["<p>%s</p>" % _h(p) for p in paragraphs]
        if table:
            body.append(_html_table(*table))
        if name == "Findings":
            body += ["<h2>The vSwitches involved</h2>", svg(rep)]
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>"
            "<style>%s</style></head><body>\n%s\n</body></html>\n" % (title, CSS,
                                                                      "\n".join(body)))


# ---------------------------------------------------------------- the picture
PORT_W, PORT_H, GAP = 92, 24, 10
COLOURS = {"uplink": "#d8e8ff", "vnet": "#e3f6e3", "internal": "#fff2cc", "other": "#eee"}


def involved(rep):
    """{host: [vswitch {name, ports: [{name, role}]}]}: the vSwitches that hold ADDR or a
    captured interface (all of a host's when none is known), from vswitches.json, or made up
    from located.json and the captured interfaces when it is missing."""
    ctx, files = rep["context"], rep["analysis"]["files"]
    captured = {}
    for f in files:
        captured.setdefault(f["host"], set()).add(f["interface"])
    located = located_hosts(ctx)
    out = {}
    for host in sorted(set(captured) | {h.get("host") for h in located if h.get("host")}):
        known = ctx.get("vswitches", {}).get(host)
        wanted = {h.get("vswitch") for h in located if h.get("host") == host}
        if known:
            picked = [vs for vs in known if vs.get("name") in wanted or captured.get(host, set())
                      & {p.get("name") for p in vs.get("ports") or []}] or known
            out[host] = [{"name": vs.get("name"), "ports": [
                {"name": p.get("name"), "role": p.get("role") or "other"}
                for p in vs.get("ports") or []]} for vs in picked]
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


def _guess_role(name):
    if name.startswith("vnet"):
        return "vnet"
    if name.startswith(("vswitch", "br")):
        return "internal"
    return "uplink" if name.startswith(("eth", "en", "bond")) else "other"


def svg(rep):
    """One column per host, one box per vSwitch: vnets on top, the internal port at the right,
    the uplink(s) at the bottom. Captured ports have a thick border; ADDR's port is red."""
    pics = involved(rep)
    address = rep.get("address")
    marked = {(h.get("host"), h.get("port")) for h in located_hosts(rep["context"])
              if h.get("role") != "uplink" or h.get("local")}
    captured = {(f["host"], f["interface"]) for f in rep["analysis"]["files"]}
    parts, x, height = [], 10, 40
    for host, vswitches in pics.items():
        col_w, y = 0, 40
        body = []
        for vs in vswitches:
            rows = {"top": [], "side": [], "bottom": []}
            for p in vs["ports"]:
                rows[{"vnet": "top", "internal": "side", "uplink": "bottom"}.get(
                    p["role"], "top")].append(p)
            n = max(len(rows["top"]), len(rows["bottom"]), 1)
            w = max(n * (PORT_W + GAP) + GAP + (PORT_W + GAP if rows["side"] else 0), 200)
            h = 3 * PORT_H + 4 * GAP + 16
            body.append('<rect x="%d" y="%d" width="%d" height="%d" rx="6" fill="#fafafa" '
                        'stroke="#555"/>' % (x + 10, y, w, h))
            body.append('<text x="%d" y="%d" font-weight="bold">%s</text>' % (
                x + 18, y + 2 * PORT_H + 2 * GAP + 4, _h(vs["name"])))
            spots = [(p, x + 10 + GAP + i * (PORT_W + GAP), y + GAP)
                     for i, p in enumerate(rows["top"])]
            spots += [(p, x + 10 + GAP + i * (PORT_W + GAP), y + h - GAP - PORT_H)
                      for i, p in enumerate(rows["bottom"])]
            spots += [(p, x + 10 + w - PORT_W - GAP, y + GAP + PORT_H + GAP + i * (PORT_H + 4))
                      for i, p in enumerate(rows["side"])]
            for p, px, py in spots:
                body.append(_port(host, p, px, py, (host, p["name"]) in marked,
                                  (host, p["name"]) in captured, address))
                if (host, p["name"]) in marked:
                    body.append('<text x="%d" y="%d" fill="#b00">%s</text>' % (
                        px, py + PORT_H + 13 if py == y + GAP else py - 4, _h(address)))
            y += h + 20
            col_w = max(col_w, w + 20)
        col_w = max(col_w, 140)
        parts.append('<rect x="%d" y="10" width="%d" height="%d" fill="none" stroke="#999" '
                     'stroke-dasharray="4 3"/>' % (x, col_w, y - 10))
        parts.append('<text x="%d" y="28" font-weight="bold">%s</text>' % (x + 8, _h(host)))
        parts += body
        x += col_w + 20
        height = max(height, y + 10)
    legend = ('<text x="10" y="%d">top: vnets, right: internal port, bottom: uplink; thick '
              'border: captured; red: where %s lives</text>' % (height + 4, _h(address)))
    return ('<svg width="%d" height="%d" role="img">'
            '%s%s</svg>' % (max(x, 640), height + 14, "".join(parts), legend))


def _port(host, p, x, y, marked, captured, address):
    fill = "#f4b6b6" if marked else COLOURS.get(p["role"], COLOURS["other"])
    title = "%s:%s (%s)%s" % (host, p["name"], p["role"], ", %s lives here" % address
                              if marked else "")
    return ('<g><title>%s</title><rect x="%d" y="%d" width="%d" height="%d" fill="%s" '
            'stroke="%s" stroke-width="%d"/><text x="%d" y="%d">%s</text></g>' % (
                _h(title), x, y, PORT_W, PORT_H, fill, "#b00" if marked else "#333",
                3 if captured else 1, x + 5, y + 16, _h(str(p["name"])[:13])))
