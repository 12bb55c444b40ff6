# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Streaming analysis of the pcaps of one capture run, on the controller.

`analyse(sources, merged_path)` reads every classic pcap once, in one timeline (a heap merge by
timestamp), writes that timeline to `merged.pcapng` as it goes and returns a JSON-ready dict:
per file packets, bytes, span, VLANs and checksum errors; conversations with per-hop counts;
requests left unanswered with the last interface they were seen on; replies seen before their
request (clock skew); bad checksums with the reason they are (or are not) offload artefacts.

Both ends of a conversation: a source may name the addresses (and MACs) that live behind it,
`owns` (the followed address's own port, a peer's). A request whose sender's own port was
captured counts as answered only when its reply was seen there; a reply seen elsewhere only is
a request left unanswered whose `fate` is "reply-lost" (answered, never delivered to the port
that sent it). A request left without any reply is "not-answered" when it was seen at its
target's own port, "not-delivered" when that port was captured and never saw it, and
"unanswered" when the target's port was not captured. Where the sender's port was not
captured, answered keeps its wider meaning (the reply seen on any captured port), and
`answered_unwatched` says for which senders (`answered_at_edge` for a reply that came while the
sender's port was not yet, or no longer, being captured). A request without a reply sent in the
capture's last END_MARGIN seconds while its target's own port was no longer captured (the
hosts' captures end a little apart), and its sender's own port (or the port it was seen on)
stopped before a reply could have come back, is no evidence of a loss: `unanswered_at_edge` counts
those per sender, and they are no unanswered flow. Nor is a reply missing at the sender's port,
or a request missing at its target's, when the capture there dropped packets (tcpdump's own
count) and other frames of the same flow got there: each dropped packet excuses one such absence
at that port, the rest stay unanswered, and `unseen_capture_dropped` counts the excused ones per
sender. A flow none of whose frames reached that port stays a finding, whatever the drops.

Memory grows with conversations and outstanding requests, never with packets: requests live in
an ordered dict aged by capture time (a request answered or older than REQUEST_TIMEOUT is
dropped, unanswered ones are folded into one counter per flow), and every table has a cap.

Each frame's headers are decoded by frames.py.
"""

from __future__ import annotations

import heapq
import ipaddress
from collections import Counter, OrderedDict

from ansible_collections.cloudnet.vswitch.plugins.module_utils.capture.pcapfile import (
    PcapngWriter,
    pcap_header,
    read_pcap,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import PcapError
from ansible_collections.cloudnet.vswitch.plugins.module_utils.host.files import open_private
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import datapath_report
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils.frames import (
    PROTO_NAMES,
    addr,
    bad_checksums,
    conversation_of,
    decode,
    endpoint,
    frame_of,
    reply_key,
    request_of,
)

REQUEST_TIMEOUT = 5.0        # seconds of capture time a request waits for its answer
RECENT_WINDOW = 10.0         # answered requests / early replies remembered this long
BAD_WINDOW = 2.0             # a bad packet is looked for at other hops this long
MAX_BAD_RECENT = 20000       # bad packets remembered for that
MAX_OUTSTANDING = 200000     # outstanding requests (the oldest is settled beyond this)
MAX_CONVERSATIONS = 100000   # (conversation, hop) pairs; beyond, counted together as "other"
MAX_REPORTED = 1000          # conversations returned (the largest; all are counted)
MAX_FINDINGS = 10000         # unanswered flows and bad-checksum groups (then one "other")
MAX_EXAMPLES = 200           # skew findings kept (all are counted)
MAX_CONTROLS = 2             # answered requests kept as a control for the traces (why.py)
END_MARGIN = 1.0             # a request this close to the end of its capture may be answered late
EDGE_MARGIN = 0.25           # a port's capture this close to its end may miss what arrives
LINKTYPE_ETHERNET = 1
NOBODY = frozenset()
# what became of a request left unanswered (see the module's docstring)
FATES = ("reply-lost", "not-answered", "not-delivered", "unanswered")


# ---------------------------------------------------------------- the analysis
def request_words(kind, requester, target, port):
    what = {"echo": "echo request", "tcp-syn": "TCP SYN", "arp": "ARP who-has",
            "nd": "neighbour solicitation"}[kind]
    if requester is None:
        return "%s, any other (more than %d kinds of request)" % (what, MAX_FINDINGS)
    if kind == "arp":
        return "%s %s from %s" % (what, addr(target), addr(requester))
    if kind == "nd":
        return "%s for %s from %s" % (what, addr(target), addr(requester))
    return "%s %s -> %s%s" % (what, addr(requester), addr(target),
                              " port %d" % port if port is not None else "")


class Analysis(object):
    """Feed packets in timeline order (`feed`), then `result()`. `sources` is a list of dicts
    {host, interface, kernel_dropped, interface_dropped, clock_offset, linktype}; `local_macs` maps
    a host to {mac: why it is that host's (or one of its VMs')}."""

    def __init__(self, sources, local_macs=None):
        self.sources = sources
        self.hops = ["%s:%s" % (s["host"], s["interface"]) for s in sources]
        local_macs = local_macs or {}
        self.local = [{_mac_bytes(m): why for m, why in (local_macs.get(s["host"]) or {}).items()}
                      for s in sources]
        self.files = [{"packets": 0, "bytes": 0, "captured_bytes": 0, "first": None,
                       "last": None, "vlans": Counter(), "truncated_packets": 0,
                       "bad_checksums": Counter()} for _s in sources]
        self.conversations, self.other_conversations = {}, Counter()
        self.outstanding, self.recent, self.early = OrderedDict(), OrderedDict(), OrderedDict()
        self.unanswered, self.answered, self.controls = {}, Counter(), []
        self.skew, self.skew_count = [], 0
        self.bad, self.bad_recent = {}, OrderedDict()
        self.now = self._expired_at = 0.0
        # address or MAC (bytes) -> the sources that are its own port (where it lives)
        self.owner = {}
        for i, s in enumerate(sources):
            for name in s.get("owns") or ():
                raw = _addr_bytes(name)
                if raw is not None:
                    self.owner[raw] = self.owner.get(raw, NOBODY) | {i}
        self.answered_at = Counter()               # own port (source index) -> answers there
        self.unwatched = Counter()                 # sender (bytes) -> answered, port unseen
        self.edge = Counter()                      # ... its port not captured at that moment
        self.late = Counter()                      # sender -> unanswered at the capture's end
        self.unseen = Counter()                    # sender -> missing where the capture dropped
        self.drops_left = [_drops(s) for s in sources]    # absences each port's drops excuse
        self.reached = set()                       # (flow, port): a request or reply got there
        # when each capture listened, by its host's clock (None: not known)
        self.window = [(_number(s.get("listening_at")) or _number(s.get("started_at")),
                        _number(s.get("ended_at"))) for s in sources]

    def feed(self, ts_ns, idx, caplen, origlen, data):
        st = self.files[idx]
        st["packets"] += 1
        st["bytes"] += origlen
        st["captured_bytes"] += caplen
        t = ts_ns / 1e9
        if st["first"] is None:
            st["first"] = t
        st["last"] = t
        self.now = t
        if self.sources[idx].get("linktype", LINKTYPE_ETHERNET) != LINKTYPE_ETHERNET:
            return
        p = decode(data)
        st["vlans"][p.vlans] += 1
        self._conversation(p, idx, origlen, t)
        if p.fam in (4, 6):
            if caplen < origlen or p.end > len(data):
                st["truncated_packets"] += 1
            else:
                self._checksums(p, data, idx, t)
        if t - self._expired_at > 0.5:
            self._expire(t)
        self._match(p, idx, t, data)

    # -- conversations
    def _conversation(self, p, idx, size, t):
        proto, a, b, forward = conversation_of(p)
        key = (proto, a, b, idx)                   # one flat entry per conversation and hop
        h = self.conversations.get(key)
        if h is None:
            if len(self.conversations) >= MAX_CONVERSATIONS:
                self.other_conversations[idx] += 1
                return
            h = self.conversations[key] = [0, 0, 0, (p.vlans,), t, t]
        h[0 if forward else 1] += 1
        h[2] += size
        if p.vlans not in h[3]:
            h[3] += (p.vlans,)
        h[5] = t

    # -- checksums
    def _checksums(self, p, data, idx, t):
        bad = bad_checksums(p, data)
        fp = (p.src, p.dst, p.proto, data[p.l3 + 4:p.l3 + 6] if p.fam == 4 else None, p.sport,
              p.dport, p.seq, p.ident, p.end - p.l3)
        if not bad:
            if self.bad_recent:
                seen = self.bad_recent.get(fp)
                if seen is not None and seen[0][0] != idx:
                    self.bad[seen[0]]["good_on"].add(idx)
            return
        self.files[idx]["bad_checksums"].update(bad)
        for layer in bad:
            key = (idx, layer, p.src_mac, p.src, p.dst, p.proto)
            finding = self.bad.get(key)
            if finding is None and len(self.bad) >= MAX_FINDINGS:
                key = (idx, layer, None, None, None, None)       # "from anywhere else"
                finding = self.bad.get(key)
            if finding is None:
                finding = self.bad[key] = {"count": 0, "good_on": set(), "bad_on": set()}
            finding["count"] += 1
            seen = self.bad_recent.get(fp)
            if seen is not None and self.sources[seen[0][0]]["host"] != self.sources[idx]["host"]:
                finding["bad_on"].add(seen[0][0])
                self.bad[seen[0]]["bad_on"].add(idx)
            self.bad_recent[fp] = (key, t)
            self.bad_recent.move_to_end(fp)
            if len(self.bad_recent) > MAX_BAD_RECENT:
                self.bad_recent.popitem(last=False)

    # -- requests and replies
    def _ports(self, address, mac):
        """The captured own ports of whoever has `address` or `mac` (frozenset of sources)."""
        if not self.owner:
            return NOBODY
        return self.owner.get(address, NOBODY) | self.owner.get(mac, NOBODY)

    def _match(self, p, idx, t, data=b""):
        req = request_of(p)
        if req is not None:
            kind, key, flow = req
            entry = self.outstanding.get(key)
            if entry is not None:
                entry[3], entry[4], entry[6] = t, idx, (p, data[:6])
                if idx not in entry[5]:
                    entry[5].append(idx)
                if idx in entry[8]:
                    entry[9] = True
                    self.reached.add((flow, idx))
                self.outstanding.move_to_end(key)
                return
            if key in self.recent:
                return
            # an entry: [kind, flow, first, last, last idx, hops, the frame as last seen (for
            # the trace of where it died, why.py), the sender's own ports, the target's, seen
            # at the target's, the hops its reply was seen on, the reply as last seen, the
            # frame as first seen (a control, if it is answered)]
            own = self._ports(flow[1], p.src_mac)
            target = self._ports(flow[2], data[:6])
            entry = [kind, flow, t, t, idx, [idx], (p, data[:6]), own, target, idx in target,
                     None, None, (p, data[:6])]
            if entry[9]:
                self.reached.add((flow, idx))
            early = self.early.pop(key, None)
            if early is not None:
                r_idx, r_seen, r_t = early
                self.skew_count += 1
                if len(self.skew) < MAX_EXAMPLES:
                    self.skew.append({"kind": kind, "flow": flow, "reply_hop": r_idx,
                                      "reply_time": r_t, "request_hop": idx,
                                      "request_time": t})
                if not own or r_idx in own:
                    self._answered(entry, r_idx, key, t)
                    return
                entry[10], entry[11] = [r_idx], (r_idx, r_seen, r_t)
            self.outstanding[key] = entry
            if len(self.outstanding) > MAX_OUTSTANDING:
                self._settle(*self.outstanding.popitem(last=False))
            return
        key = reply_key(p)
        if key is None:
            return
        entry = self.outstanding.get(key)
        if entry is not None:
            if not entry[7] or idx in entry[7]:
                del self.outstanding[key]
                self._answered(entry, idx, key, t)
                return
            # answered, but not (yet) at the port that sent the request
            if entry[10] is None:
                entry[10] = [idx]
            elif idx not in entry[10]:
                entry[10].append(idx)
            entry[11] = (idx, (p, data[:6]), t)
        elif key not in self.recent:
            # the reply itself only where a sender's own port may be waiting for it
            self.early[key] = (idx, (p, data[:6]) if self.owner else None, t)
            self.early.move_to_end(key)
            if len(self.early) > MAX_OUTSTANDING:
                self.early.popitem(last=False)

    def _watching(self, ports, t, end=None):
        """Whether one of `ports` was being captured at `t` and long enough after it for what
        was on its way there to arrive (the captures of several hosts start and stop a few
        milliseconds apart, and tcpdump may lose what its ring holds as it stops)."""
        for i in ports:
            start, stop = self.window[i]
            stop = end if stop is None else stop
            if (start is None or start <= t) and (stop is None or t + EDGE_MARGIN <= stop):
                return True
        return False

    def _dropped_there(self, ports, flow):
        """Whether one of `ports` (where a frame of `flow` was expected and not seen) had a
        capture that dropped packets it has not yet excused an absence with (uses one), and
        saw other frames of the flow get there: a path that delivers nothing (every reply
        lost) is no capture's drop, whatever the capture dropped."""
        for i in sorted(ports):
            if self.drops_left[i] > 0 and (flow, i) in self.reached:
                self.drops_left[i] -= 1
                return True
        return False

    def _answered(self, entry, idx, key, t):
        self.answered[entry[0]] += 1
        if len(self.controls) < MAX_CONTROLS and entry[1] not in {c[1] for c in self.controls}:
            # a request that was answered, as first seen: traced like the unanswered ones, its
            # verdict must be that it goes on (why.py), or the traces do not tell the truth
            self.controls.append((entry[0], entry[1], entry[5][0], entry[12], list(entry[5]),
                                  entry[2]))
        if entry[7]:
            self.answered_at[idx] += 1
            self.reached.add((entry[1], idx))
        else:
            self.unwatched[entry[1][1]] += 1
        self.recent[key] = t

    def _expire(self, now):
        self._expired_at = now
        out = self.outstanding
        while out:
            key = next(iter(out))
            if now - out[key][3] <= REQUEST_TIMEOUT:
                break
            self._settle(key, out.pop(key))
        for table, window in ((self.recent, RECENT_WINDOW), (self.early, RECENT_WINDOW),
                              (self.bad_recent, BAD_WINDOW)):
            while table:
                key = next(iter(table))
                value = table[key]
                if now - (value if isinstance(value, float) else value[-1]) <= window:
                    break
                del table[key]

    def _settle(self, key, entry, end=None):
        kind, flow, first, last, idx, hops, seen, own, target, delivered, replies, reply, \
            _first_seen = entry
        if replies and not self._watching(own, reply[2], end):
            # the sender's port was not being captured when its reply could have reached it:
            # answered as far as the captures can tell
            self.answered[kind] += 1
            self.edge[flow[1]] += 1
            return
        # a request repeated (an ARP who-has once a second) is one entry: one sent while the
        # target's port listened long enough, and never delivered there, is evidence however
        # late the last repetition came
        unwatched_target = target and not delivered and not self._watching(target, last, end) \
            and not self._watching(target, first, end)
        if unwatched_target and not replies and end is not None and end - last < END_MARGIN \
                and not self._watching(own or {idx}, last, end):
            # sent as the captures ended, its target's port no longer captured and its
            # sender's (or, not captured, where it was seen) stopping before a reply could
            # come back: nothing says whether it arrived or was answered
            self.late[flow[1]] += 1
            return
        if unwatched_target:
            target = NOBODY                # nor the target's, when the request could have come
        elif self._dropped_there(own if replies else NOBODY if delivered else target or NOBODY,
                                 flow):
            # not seen at a port whose capture dropped packets: no evidence that it never got
            # there (the reply at the sender's port, the request at its target's)
            if replies:
                self.answered[kind] += 1
            self.unseen[flow[1]] += 1
            return
        fate = ("reply-lost" if replies else "not-answered" if delivered else
                "not-delivered" if target else "unanswered")
        flow = flow + (fate,)
        u = self.unanswered.get(flow)
        if u is None and len(self.unanswered) >= MAX_FINDINGS:
            flow = (kind, None, None, None, fate)                # "to anywhere else"
            u = self.unanswered.get(flow)
        if u is None:
            u = self.unanswered[flow] = {"count": 0, "first": first, "last": last,
                                         "last_hops": Counter(), "hops": {}, "near_end": 0,
                                         "own": set(), "target": set(), "reply_hops": {},
                                         "reply_last_hops": Counter(),
                                         "reply_first_hops": Counter(), "target_unwatched": 0}
        u["count"] += 1
        u["first"], u["last"] = min(u["first"], first), max(u["last"], last)
        u["last_hops"][idx] += 1
        # one frame per last hop (few hops), the one reported is at the most common last hop
        u.setdefault("frames", {})[idx] = seen
        for i in hops:
            u["hops"].setdefault(i, None)          # in the order first seen
        u["own"].update(own)
        u["target"].update(target)
        if unwatched_target:
            u["target_unwatched"] += 1
        if replies:
            for i in replies:
                u["reply_hops"].setdefault(i, None)
            u["reply_first_hops"][replies[0]] += 1
            u["reply_last_hops"][reply[0]] += 1
            u["reply_frame"], u["reply_frame_hop"] = frame_of(*reply[1]), reply[0]
        if end is not None and end - last < END_MARGIN:
            u["near_end"] += 1

    # -- the result
    def result(self):
        end = max([f["last"] for f in self.files if f["last"] is not None] or [0])
        while self.outstanding:
            self._settle(*self.outstanding.popitem(last=False), end=end)
        return {
            "files": [self._file(i) for i in range(len(self.sources))],
            "packets": sum(f["packets"] for f in self.files),
            "conversation_count": len({k[:3] for k in self.conversations}),
            "conversations": self._conversations(),
            "other_conversations": {self.hops[i]: n for i, n in
                                    self.other_conversations.items()},
            "answered": dict(self.answered),
            # where the answers reached the port that sent the request; and the senders whose
            # own port was not captured (answered there means: the reply seen anywhere)
            "answered_at_port": {self.hops[i]: n for i, n in sorted(self.answered_at.items())},
            "answered_unwatched": {addr(a): n for a, n in sorted(self.unwatched.items())},
            # ... and those whose reply came when their port was not (yet, or any more) captured
            "answered_at_edge": {addr(a): n for a, n in sorted(self.edge.items())},
            # ... and the unanswered ones sent as the captures ended, no evidence of a loss
            "unanswered_at_edge": {addr(a): n for a, n in sorted(self.late.items())},
            # ... and those not seen where the capture dropped packets, no evidence of a loss
            "unseen_capture_dropped": {addr(a): n for a, n in sorted(self.unseen.items())},
            "unanswered": self._unanswered(),
            "answered_sample": [{"description": request_words(*flow), "count": 1,
                                 "frame": frame_of(*seen), "frame_hop": self.hops[i],
                                 "hops": [self.hops[h] for h in hops], "fate": "answered",
                                 "first": first}
                                for _kind, flow, i, seen, hops, first in self.controls],
            "skew": [self._skew(s) for s in self.skew],
            "skew_count": self.skew_count,
            "bad_checksums": self._bad(),
        }

    def _file(self, i):
        s, f = self.sources[i], self.files[i]
        keys = ("host", "interface", "path", "kernel_dropped", "interface_dropped", "clock_offset",
                "snaplen", "filter", "linktype", "truncated_file", "sidecar_packets")
        out = {k: s.get(k) for k in keys}
        out.update(hop=self.hops[i], packets=f["packets"], bytes=f["bytes"],
                   captured_bytes=f["captured_bytes"], first=f["first"], last=f["last"],
                   span=(f["last"] - f["first"]) if f["first"] is not None else None,
                   vlans=_vlans(f["vlans"]), truncated_packets=f["truncated_packets"],
                   bad_checksums=dict(f["bad_checksums"]), drops=_drops(s))
        return out

    def _conversations(self):
        out, grouped = [], {}
        for (proto, a, b, i), h in self.conversations.items():
            grouped.setdefault((proto, a, b), []).append((h[4], i, h))
        packets = {k: max(h[0] + h[1] for _t, _i, h in hops) for k, hops in grouped.items()}
        for (proto, a, b) in heapq.nlargest(MAX_REPORTED, packets, key=packets.get):
            hops = grouped[proto, a, b]
            rows = [{"hop": self.hops[i], "a_to_b": h[0], "b_to_a": h[1], "bytes": h[2],
                     "vlans": sorted(_vlans(Counter(h[3]))), "first": h[4], "last": h[5]}
                    for _t, i, h in sorted(hops)]
            out.append({"protocol": proto, "a": endpoint(a), "b": endpoint(b),
                        "packets": max(r["a_to_b"] + r["b_to_a"] for r in rows),
                        "bytes": max(r["bytes"] for r in rows), "hops": rows})
        out.sort(key=lambda c: (-c["packets"], c["protocol"], c["a"], c["b"]))
        return out

    def _unanswered(self):
        out = []
        for (kind, requester, target, port, fate), u in self.unanswered.items():
            top = u["last_hops"].most_common(1)[0][0]
            last_hop = self.hops[top]
            qualifiers = []
            for i in sorted(u["last_hops"]):
                drops = _drops(self.sources[i])
                if drops:
                    qualifiers.append("possibly dropped by capture: the capture on %s dropped "
                                      "%d packet(s)" % (self.hops[i], drops))
            if u["near_end"]:
                qualifiers.append("%d seen in the last %.0f s of the capture: the answer may "
                                  "have come after it stopped" % (u["near_end"], END_MARGIN))
            if u["target_unwatched"]:
                qualifiers.append("%d seen while its target's own port was not yet or no longer "
                                  "captured" % u["target_unwatched"])
            out.append({"kind": kind, "requester": addr(requester), "target": addr(target),
                        "port": port, "description": request_words(kind, requester, target, port),
                        "count": u["count"], "first": u["first"], "last": u["last"],
                        "last_hop": last_hop,
                        "last_hops": {self.hops[i]: n for i, n in sorted(u["last_hops"].items())},
                        "hops": [self.hops[i] for i in u["hops"]],
                        "qualifiers": qualifiers,
                        # the last one as last seen, where (the trace's starting point)
                        "frame": frame_of(*u["frames"][top]), "frame_hop": self.hops[top],
                        "near_end": u["near_end"],
                        # both ends: what became of it, the sender's and the target's own
                        # ports where captured; for a reply never delivered, where it was seen
                        "fate": fate,
                        "requester_port": [self.hops[i] for i in sorted(u["own"])],
                        "target_port": [self.hops[i] for i in sorted(u["target"])],
                        "reply_hops": [self.hops[i] for i in u["reply_hops"]],
                        # where most of its replies were first seen: where it was answered
                        "reply_first_hop": self.hops[u["reply_first_hops"].most_common(1)[0][0]]
                        if u["reply_first_hops"] else None,
                        "reply_last_hop": self.hops[u["reply_last_hops"].most_common(1)[0][0]]
                        if u["reply_last_hops"] else None,
                        "reply_frame": u.get("reply_frame"),
                        "reply_frame_hop": self.hops[u["reply_frame_hop"]]
                        if u.get("reply_frame_hop") is not None else None})
        out.sort(key=lambda u: (-u["count"], u["description"], FATES.index(u["fate"])))
        return out

    def _skew(self, s):
        kind, requester, target, port = s["flow"]
        return {"description": request_words(kind, requester, target, port),
                "reply_hop": self.hops[s["reply_hop"]], "reply_time": s["reply_time"],
                "request_hop": self.hops[s["request_hop"]], "request_time": s["request_time"],
                "delta": s["request_time"] - s["reply_time"]}

    def _bad(self):
        out = []
        for (idx, layer, mac, src, dst, proto), f in sorted(
                self.bad.items(), key=lambda kv: (kv[0][0], kv[0][1], -kv[1]["count"])):
            offload, reason = self._offload(idx, mac, f)
            out.append({"hop": self.hops[idx], "layer": layer, "src_mac": addr(mac),
                        "src": addr(src), "dst": addr(dst), "protocol": PROTO_NAMES.get(proto),
                        "count": f["count"], "likely_offload": offload, "reason": reason})
        return out

    def _offload(self, idx, mac, f):
        if f["good_on"]:
            return True, ("likely offload artefact: the same packets were seen with a correct "
                          "checksum on %s" % ", ".join(self.hops[i] for i in sorted(f["good_on"])))
        why = self.local[idx].get(mac)
        if why and f["bad_on"]:
            return False, ("wrong on the wire: sent from this host (%s) but also bad on %s; an "
                           "offload nobody completed (veth TX checksum offload into a userspace "
                           "datapath does this)" % (why, ", ".join(self.hops[i]
                                                                   for i in sorted(f["bad_on"]))))
        if why:
            return True, ("likely offload artefact: the sender is on this host (%s), so the "
                          "capture saw the packet before the checksum was filled in" % why)
        return False, "not explained: the sender is not known to be on this host and no " \
                      "correct copy was seen elsewhere"


def _mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.replace("-", ":").split(":"))


def _number(value):
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None


def _addr_bytes(text):
    """An IP address or a MAC as the frames carry it (bytes), or None."""
    text = str(text or "").strip().lower()
    if text.count(":") == 5 and len(text) == 17 and "::" not in text:
        try:
            return _mac_bytes(text)
        except ValueError:
            return None
    try:
        return ipaddress.ip_address(text).packed
    except ValueError:
        return None


def _vlans(counter):
    """{"untagged": n, "10": n, "100.10": n} (outer.inner for QinQ)."""
    return {".".join(str(v) for v in tags) if tags else "untagged": n
            for tags, n in sorted(counter.items())}


def _drops(source):
    return sum(int(source.get(k) or 0) for k in ("kernel_dropped", "interface_dropped"))


def offset_comment(source):
    offset = source.get("clock_offset")
    if offset is None:
        return "%s: clock offset unknown" % source["host"]
    return "%s: clock offset %+.6f s (as measured on the host; timestamps not corrected)" % (
        source["host"], float(offset))


# ---------------------------------------------------------------- one pass over everything
def analyse(sources, merged_path=None, local_macs=None, comments=None):
    """Read every source's pcap once, in timestamp order across files, feeding the analysis and
    (with `merged_path`) writing the merged pcapng. `sources`: dicts with at least host,
    interface and path (plus the sidecar's fields). `comments`: {host: [(ts_ns, text)]} put on
    packets of the merged pcapng (datapath_report.Placer). Returns Analysis.result()."""
    usable = []
    for s in sources:
        try:
            s["linktype"], s["pcap_snaplen"] = pcap_header(s["path"])
            usable.append(s)
        except (OSError, PcapError) as e:
            s["error"] = str(e)
    analysis = Analysis(usable, local_macs)
    streams = [read_pcap(s["path"], i, s) for i, s in enumerate(usable)]
    merged = heapq.merge(*streams, key=lambda r: r[0])
    if merged_path is None:
        for rec in merged:
            analysis.feed(*rec)
    else:
        with open_private(merged_path, buffering=1 << 20) as f:
            writer = PcapngWriter(f)
            for s in usable:
                writer.interface(s["linktype"], s["pcap_snaplen"],
                                 "%s:%s" % (s["host"], s["interface"]),
                                 "interface %s on host %s" % (s["interface"], s["host"]),
                                 offset_comment(s))
            packet, feed = writer.packet, analysis.feed
            placer = datapath_report.Placer(comments, usable)
            take = placer.take if placer else (lambda _i, _t: None)
            for rec in merged:
                packet(rec[1], rec[0], rec[2], rec[3], rec[4], take(rec[1], rec[0]))
                feed(*rec)
    result = analysis.result()
    if merged_path is not None:
        result["comments"] = {"placed": placer.placed, "left": placer.left()}
    result["errors"] = [{"host": s["host"], "interface": s["interface"], "error": s["error"]}
                        for s in sources if s.get("error")]
    return result
