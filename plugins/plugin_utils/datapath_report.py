# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The capture report's datapath evidence: what each host's capture module read around the
window (its result's `datapath` and `events`, kept as <run>/datapath/<host>.json), as findings,
one section on the packets' timeline, and the OVSDB events as comments on packets of
merged.pcapng (Placer). Pure apart from `load`, which reads the run directory.

Offsets are seconds since the captures started listening (the earliest host), by the hosts'
own clocks, like the packets' timestamps."""

from __future__ import annotations

import collections
import json
import os

from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import datapath
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import document

DIR = "datapath"
MAX_EVENTS_IN_FINDING = 5
MAX_FLOWS = 20


# ---------------------------------------------------------------- the run directory
def evidence_of(result):
    """The part of a capture module result that goes to datapath/<host>.json, or None when the
    capture read nothing (a failed run, an older collection)."""
    if not isinstance(result, dict) or ("datapath" not in result and "events" not in result):
        return None
    return {"datapath": result.get("datapath"), "events": result.get("events"),
            "started_at": result.get("started_at"), "ended_at": result.get("ended_at")}


def load(run_dir, ctx, problems):
    """ctx["datapath"] = {host: datapath/<host>.json}, or, where that file is missing, what
    <host>/capture.json (the whole module result) holds."""
    found = {}
    ddir = os.path.join(run_dir, DIR)
    for name in sorted(os.listdir(ddir)) if os.path.isdir(ddir) else []:
        if name.endswith(".json"):
            data = _json(os.path.join(ddir, name), problems)
            if isinstance(data, dict):
                found[name[:-5]] = data
    for host in sorted(os.listdir(run_dir)):
        cap = os.path.join(run_dir, host, "capture.json")
        if host not in found and host != DIR and os.path.isfile(cap):
            data = evidence_of(_json(cap, problems))
            if data is not None:
                found[host] = data
    ctx["datapath"] = found
    return found


def _json(path, problems):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        problems.append("%s could not be read: %s" % (path, e))
        return None


# ---------------------------------------------------------------- words
def start_of(ctx):
    """The moment offsets count from: the earliest capture start (listening) of the run."""
    starts = [t for t in (ctx.get("starts") or {}).values() if isinstance(t, (int, float))]
    if starts:
        return min(starts)
    begun = [d.get("started_at") for d in (ctx.get("datapath") or {}).values()
             if isinstance(d.get("started_at"), (int, float))]
    return min(begun) if begun else None


def offset(t, t0):
    if t is None or t0 is None:
        return "-"
    return "%+.3f s" % (t - t0)


def utc(t):
    return document.utc(t, date=False)


def _value(v):
    if v is None or v == [] or v == {}:
        return "none"
    if isinstance(v, list):
        return "[%s]" % ",".join(str(x) for x in v)
    if isinstance(v, dict):
        return "{%s}" % ", ".join("%s=%s" % kv for kv in sorted(v.items()))
    return str(v)


def event_words(e):
    """'Port vnet2 tag 20 → 30', 'Interface vnet3 inserted', 'Bridge vswitch0 ports
    [eth0,vnet0] → [eth0]'."""
    what = "%s %s" % (e.get("table"), e.get("row"))
    if e.get("change") == "inserted":
        return "%s inserted (%s)" % (what, ", ".join(
            "%s %s" % (k, _value(v)) for k, v in sorted((e.get("new") or {}).items())
            if k != "name" and v not in (None, [], {})))
    if e.get("change") == "deleted":
        return "%s deleted" % what
    return "%s %s %s → %s" % (what, e.get("column"), _value(e.get("old")), _value(e.get("new")))


def events(ctx):
    """[(time, host, event)] of every host, in time order."""
    out = []
    for host, d in sorted((ctx.get("datapath") or {}).items()):
        for e in d.get("events") or []:
            if isinstance(e, dict) and isinstance(e.get("time"), (int, float)):
                out.append((e["time"], host, e))
    return sorted(out, key=lambda x: (x[0], x[1]))


def _drop_flows(d):
    return [f for f in (d.get("datapath") or {}).get("flows") or []
            if f.get("actions") == "drop" and f.get("packets")]


# ---------------------------------------------------------------- findings
def findings(ctx):
    """One sentence per host and kind: a loss counter that rose (with the flows that
    dropped), an interface's drop or error statistics that rose, a bond that changed, and the
    OVSDB changes during the window ('hv2: Port vnet2 tag 20 → 30 at +3.210 s')."""
    out = []
    t0 = start_of(ctx)
    heard = collections.defaultdict(list)
    for t, host, e in events(ctx):
        heard[host].append("%s at %s" % (event_words(e), offset(t, t0)))
    for host, d in sorted((ctx.get("datapath") or {}).items()):
        dp = d.get("datapath") or {}
        meanings = dp.get("meanings") or {}
        # A counter is the whole host's: a finding only where a datapath flow of the followed
        # traffic drops (a healthy host drops something all the time: its rise alone is shown
        # in the section, not claimed as the cause).
        flows = _drop_flows(d)
        for name, rise in sorted((dp.get("coverage") or {}).items()):
            if not flows or not name.startswith(("drop_action", "datapath_drop")):
                continue
            cite = "; datapath flow(s) dropping the followed traffic: %s" % "; ".join(
                "%s %s (%d packet(s), actions:drop)" % (f.get("bridge"), f.get("match"),
                                                        f.get("packets")) for f in flows[:3])
            out.append("%s: coverage counter %s rose by %d during the capture: %s "
                       "(ovs-appctl coverage/show)%s" % (host, name, rise,
                                                         meanings.get(name, "a loss"), cite))
        captured = ((ctx.get("located") or {}).get("capture") or {}).get(host)
        for iface, stats in sorted((dp.get("interfaces") or {}).items()):
            if captured is not None and iface not in captured:
                continue            # the other ports of the bridges: in the section only
            rose = datapath.losses(stats)
            if rose:
                out.append("%s: %s %s during the capture (ovs-appctl dpctl/show -s)" % (
                    host, iface, ", ".join("%s +%d" % kv for kv in rose.items())))
        for dpname, look in sorted((dp.get("lookups") or {}).items()):
            if look.get("lost"):
                out.append("%s: datapath %s lost %d upcall(s) during the capture (dpctl/show "
                           "lookups lost)" % (host, dpname, look["lost"]))
        for bond, b in sorted((dp.get("bonds") or {}).items()):
            members = set(((b.get("end") or b.get("start") or {}).get("members") or {}))
            if b.get("faults") and (captured is None or bond in captured
                                    or members & set(captured)):
                # a bond the followed traffic crosses, degraded or dead as the capture ended
                out.append("%s: %s bond %s: %s (bond/show, lacp/show as the capture ended)" % (
                    host, b.get("bridge") or "-", bond, "; ".join(b["faults"])))
            if b.get("changes"):
                out.append("%s: bond %s changed during the capture: %s (bond/show, "
                           "lacp/show)" % (host, bond, "; ".join(b["changes"])))
        said = heard.get(host) or []
        if said:
            more = len(said) - MAX_EVENTS_IN_FINDING
            out.append("%s: OVSDB changed during the capture: %s%s" % (
                host, "; ".join(said[:MAX_EVENTS_IN_FINDING]),
                "; and %d more (see Datapath and OVSDB)" % more if more > 0 else ""))
    return out


# ---------------------------------------------------------------- the section
def sections(ctx):
    """[(title, paragraphs, table)]: the counters and the OVSDB events on one timeline."""
    data = ctx.get("datapath") or {}
    if not data:
        return []
    t0 = start_of(ctx)
    rows = []
    for t, host, e in events(ctx):
        rows.append([offset(t, t0), utc(t), host, "OVSDB", event_words(e)])
    for host, d in sorted(data.items()):
        dp = d.get("datapath") or {}
        window = "%s … %s" % (offset(d.get("started_at"), t0), offset(d.get("ended_at"), t0))
        for name, rise in sorted((dp.get("coverage") or {}).items()):
            rows.append([window, "", host, "coverage", "%s +%d: %s" % (
                name, rise, (dp.get("meanings") or {}).get(name, ""))])
        for iface, stats in sorted((dp.get("interfaces") or {}).items()):
            rose = datapath.losses(stats)
            if rose:
                rows.append([window, "", host, "interface", "%s %s" % (
                    iface, ", ".join("%s +%d" % kv for kv in rose.items()))])
        for _bond, b in sorted((dp.get("bonds") or {}).items()):
            for change in b.get("changes") or []:
                rows.append([window, "", host, "bond", change])
        for f in (dp.get("flows") or [])[:MAX_FLOWS]:
            rows.append([offset(f.get("last_used"), t0), utc(f.get("last_used")), host,
                         "flow", "%s %s: %d packet(s), actions:%s" % (
                             f.get("bridge"), f.get("match"), f.get("packets") or 0,
                             f.get("actions"))])
    rows.sort(key=lambda r: _sort_key(r[0]))
    paragraphs = ["What each host's datapath counted during the capture (deltas between a "
                  "read as the tcpdumps started and one as they stopped: coverage counters "
                  "that can explain a loss, which ovs-vswitchd totals about once a second, so "
                  "they cover a window as long but up to a second earlier; drop and error "
                  "statistics of the captured bridges' ports; bond changes), the datapath "
                  "flows of the followed addresses, and "
                  "every change OVSDB saw, at its moment (offsets since the captures started, "
                  "hosts' clocks; the OVSDB events are also comments on packets of "
                  "merged.pcapng)."]
    for host, d in sorted(data.items()):
        dp = d.get("datapath") or {}
        if d.get("events") is None:
            paragraphs.append("%s: OVSDB was not watched." % host)
        for err in dp.get("errors") or []:
            paragraphs.append("%s: %s" % (host, err))
    if not rows:
        paragraphs.append("Nothing rose and nothing changed: no loss counter, no drop or "
                          "error statistic, no bond change, no OVSDB event, no datapath flow of "
                          "the followed addresses.")
    return [("Datapath and OVSDB during the capture", paragraphs,
             (["at", "UTC", "host", "source", "what"], rows) if rows else None)]


def _sort_key(at):
    try:
        return float(at.split(" ")[0])
    except (ValueError, IndexError):
        return float("inf")


# ---------------------------------------------------------------- merged.pcapng comments
def comments(ctx):
    """{host: [(ts_ns, text)]}: each OVSDB event as the comment of a packet."""
    t0 = start_of(ctx)
    out = collections.defaultdict(list)
    for t, host, e in events(ctx):
        out[host].append((int(round(t * 1e9)), "OVSDB %s: %s (at %s, %s)" % (
            host, event_words(e), offset(t, t0), utc(t))))
    return dict(out)


class Placer(object):
    """Puts each comment on the first packet at or after its moment on one of its host's
    interfaces; a comment later than that host's last packet (by its sidecar) goes on the
    first packet at or after it anywhere. What no packet follows stays in `left`."""

    def __init__(self, comments_by_host, sources):
        self.host_of = [s.get("host") for s in sources]
        last = {}
        for s in sources:
            if isinstance(s.get("last"), (int, float)):
                last[s["host"]] = max(last.get(s["host"], 0), int(s["last"] * 1e9))
        self.pending = {}
        anywhere = []
        for host, items in (comments_by_host or {}).items():
            for ts, text in sorted(items):
                if host in self.host_of and (host not in last or ts <= last[host]):
                    self.pending.setdefault(host, []).append((ts, text))
                else:
                    anywhere.append((ts, text))
        self.pending = {h: collections.deque(q) for h, q in self.pending.items()}
        self.anywhere = collections.deque(sorted(anywhere))
        self.placed = 0

    def __bool__(self):
        return bool(self.pending or self.anywhere)

    def take(self, idx, ts_ns):
        """The comments for packet (source `idx`, `ts_ns`), or None."""
        out = None
        q = self.pending.get(self.host_of[idx])
        while q and q[0][0] <= ts_ns:
            out = (out or []) + [q.popleft()[1]]
        while self.anywhere and self.anywhere[0][0] <= ts_ns:
            out = (out or []) + [self.anywhere.popleft()[1]]
        if out:
            self.placed += len(out)
        return out

    def left(self):
        pending = [t for q in self.pending.values() for _ts, t in q]
        return pending + [t for _ts, t in self.anywhere]
