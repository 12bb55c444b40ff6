# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which reverse-path verdicts are findings: one rule for the diagnostics and the capture
reports.

path_check says, for every local address and peer, where a request from the peer WOULD arrive
and where the reply WOULD leave. Most of those requests never happen: a peer on another VLAN
cannot reach an internal port, the controller never sends to a data address. A non-symmetric
path is a finding only with evidence that its request really arrives: packets from the peer
to the address seen on that host (a capture), the peer in the host's neighbour table on the
ingress interface, with a MAC (the peer is on that port's network), or, for a request that
rp_filter drops, the reverse-path drop counter rising while it was watched. Every other
non-symmetric path is listed apart, as what could happen, never as a finding.
"""

from __future__ import annotations


def address_of(endpoint):
    """'203.0.113.1', '203.0.113.1:22', '[2001:db8::1]:22' -> the address."""
    if endpoint.startswith("["):
        return endpoint[1:endpoint.index("]")]
    return endpoint.rsplit(":", 1)[0] if endpoint.count(":") == 1 else endpoint


def seen_requests(conversations):
    """{(host, source, destination): packets} from a capture's conversations (per hop
    a->b / b->a counts; a hop is `host:interface`): on each host, the hop that saw the most
    (the same request crosses the vnet and the uplink: counted once)."""
    out = {}
    for c in conversations or []:
        a, b = address_of(c["a"]), address_of(c["b"])
        for h in c.get("hops") or []:
            host = h["hop"].split(":", 1)[0]
            for src, dst, n in ((a, b, h.get("a_to_b") or 0), (b, a, h.get("b_to_a") or 0)):
                if n:
                    out[host, src, dst] = max(out.get((host, src, dst), 0), n)
    return out


def evidence(host, path, seen=None):
    """What shows that the path's request really arrives (a list of phrases, [] if nothing)."""
    out = []
    peer, local = path.get("peer"), path.get("local_address")
    packets = (seen or {}).get((host, peer, local))
    if packets:
        out.append("%d packet(s) from %s to %s captured on %s" % (packets, peer, local, host))
    for n in path.get("peer_neighbours") or []:
        if n.get("dev") == path.get("interface") and n.get("mac"):
            out.append("%s is in %s's neighbour table on %s (%s, %s)" % (
                peer, host, n["dev"], n["mac"], n.get("state") or "?"))
    return out


def rose(path):
    """The drop counter's rise while watched, on a path whose request rp_filter drops."""
    if path.get("dropped_by") == "rp_filter" and path.get("drop_counter_rise"):
        return "the kernel's reverse-path drop counter (TcpExtIPReversePathFilter) rose by %d " \
            "in %s s" % (path["drop_counter_rise"], path.get("drop_counter_window"))
    return None


def split(routes, seen=None, verdicts=False):
    """(findings, could_happen) from {host: [path]}: one sentence per non-symmetric path, the
    findings with their evidence (with `verdicts`, each finding a (verdict, sentence) pair).
    The drop counter is the whole host's: its rise is added to the evidence of a dropped path
    that has its own; where none has, the rise is one finding for the host naming every path
    rp_filter drops (which of them it was, the counter cannot say)."""
    findings, could = [], []
    for host, paths in sorted((routes or {}).items()):
        odd = [p for p in paths or [] if p.get("verdict") != "symmetric"]
        own = [(p, evidence(host, p, seen)) for p in odd]
        explained = any(ev and rose(p) for p, ev in own)
        dropped = [p for p, ev in own if not ev and rose(p) and not explained]
        for p, ev in own:
            text = "%s: %s" % (host, p.get("explanation") or p.get("verdict"))
            if ev:
                findings.append((p.get("verdict"), "%s Evidence: %s." % (text, "; ".join(
                    ev + ([rose(p)] if rose(p) else [])))))
            elif p not in dropped:
                could.append(text)
        if dropped:
            said = ("%s: rp_filter is dropping requests now: %s. The requests it drops (their "
                    "route back leaves by another interface): %s." % (
                        host, rose(dropped[0]), "; ".join(
                            "%s to %s on %s (back by %s)" % (
                                p.get("peer"), p.get("local_address"), p.get("interface"),
                                p.get("egress") or "no route") for p in dropped)))
            findings.append(("asymmetric-dropped", said))
    return (findings if verdicts else [f for _v, f in findings]), could


COULD_HAPPEN = ("Not findings: no packet of these requests was seen, no drop counter was seen "
                "rising, and the peer is not on the ingress interface's network as far as the "
                "host knows (neighbour table). They say what would happen if such a request "
                "came, e.g. routed to that address.")
