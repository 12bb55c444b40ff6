# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""trace.yml's path across the fleet, hop by hop, with no traffic: pure, on the controller.

From what `locate` found per host, both directions (src → dst, and the reply dst → src) start
where their sender lives: hop 1 traces the frame entering the sender's vSwitch by its own port
(a VM's vnet, or the internal port for a host address). Where hop 1 sends it out by an uplink
and the receiver lives on another host, hop 2 traces the same headers entering the receiver's
vSwitch by its uplink, on the VLAN hop 1 tagged it with (the physical network between the two
is not traced: it is assumed to carry that VLAN, and the result says so). Then the verdict of
each direction: delivered to the receiver's port, or where it stops and why.

One function serves the three stages, so the playbook calls it the same way each time:
plan(seen, src, dst) -> round 1 frames; plan(..., first=results) -> round 2 frames;
plan(..., first=..., second=...) -> the verdicts."""

from __future__ import annotations

from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot.oftrace import lost_at

ECHO = {"icmp": (8, 0)}         # request, reply
ROLE_OF_SENDER = {"vnet": "its vnet", "internal": "the host's internal port"}


def _home(seen, addr):
    """Where addr lives: {host, vswitch, port, role, mac, vlan} of a local location, or None."""
    for host in sorted(seen):
        for loc in (seen[host].get("locate", {}).get(addr) or {}).get("locations", []):
            if loc.get("local"):
                return dict(loc, host=host)
    return None


def _port(seen, host, vswitch, role=None, name=None):
    for vs in seen[host].get("vswitches", []):
        if vs["name"] != vswitch:
            continue
        for p in vs["ports"]:
            if (name and p["name"] == name) or (role and p["role"] == role):
                return p
    return None


def _frame(a, b, protocol, reply, port, size):
    frame = {"in_port": a["port"], "src_mac": a["mac"], "dst_mac": b["mac"],
             "src_ip": a.get("ip"), "dst_ip": b.get("ip"), "size": size}
    if protocol:
        frame["protocol"] = protocol
    if protocol in ECHO:
        frame["icmp_type"] = ECHO[protocol][1 if reply else 0]
    if protocol in ("tcp", "udp") and port:
        frame["src_port" if reply else "dst_port"] = int(port)
    return frame


def _legs(seen, src, dst, protocol, port, size, ips):
    """The two directions' endpoints and hop-1 frames; (legs, error sentence)."""
    homes = {addr: _home(seen, addr) for addr in (src, dst)}
    for addr, ip in zip((src, dst), ips or (None, None)):
        if ip and homes[addr]:
            homes[addr]["ip"] = ip
    missing = [addr for addr, home in homes.items() if home is None]
    if missing:
        return None, ("%s lives on none of the hosts of the play (locate found no VM port or "
                      "internal port with it): nothing to trace from or to"
                      % " and ".join(missing))
    legs = []
    for reply, (a, b) in enumerate(((homes[src], homes[dst]), (homes[dst], homes[src]))):
        p = _port(seen, a["host"], a["vswitch"], name=a["port"]) or {}
        mtu = size or p.get("mtu")
        to_port = _port(seen, b["host"], b["vswitch"], name=b["port"]) or {}
        legs.append({"from": a, "to": b, "size": mtu, "to_vlan": to_port.get("tag"),
                     "size_from": "asked" if size else "the MTU of %s" % a["port"],
                     "frame": _frame(a, b, protocol, reply, port, mtu)})
    return legs, None


def vlan_words(vlan):
    """'VLAN 20', or for none 'no VLAN (untagged)' (why.py says it the same way)."""
    return "VLAN %d" % vlan if vlan else "no VLAN (untagged)"


def _uplink_out(result):
    return next((o for o in result["outputs"] if o["role"] == "uplink"), None)


def _delivered(result, leg):
    return next((o for o in result["outputs"] if o["port"] == leg["to"]["port"]), None)


def _round(seen, legs, results, hop):
    """{host: [frames]} for hop 1 or hop 2 (with its leg index per frame)."""
    out = {}
    for i, leg in enumerate(legs):
        if hop == 1:
            out.setdefault(leg["from"]["host"], []).append((i, leg["frame"]))
            continue
        first = results[i]
        up = _uplink_out(first)
        to = leg["to"]
        if to["host"] == leg["from"]["host"] or up is None or first["verdict"] == "drop":
            continue
        uplink = _port(seen, to["host"], to["vswitch"], role="uplink")
        if uplink is None:
            continue
        out.setdefault(to["host"], []).append(
            (i, dict(leg["frame"], in_port=uplink["name"], vlan=up["vlan"])))
    return out


def _hop(host, result):
    keep = ("bridge", "in_port", "verdict", "reason", "rule", "outputs", "vlan", "sentence")
    return dict({k: result.get(k) for k in keep}, host=host,
                sentence="%s %s" % (host, result["sentence"]))


def _judge(leg, first, second):
    """One direction's hops and verdict."""
    a, b = leg["from"], leg["to"]
    hops = [_hop(a["host"], first)]
    what = "%s → %s" % (a.get("ip") or a["mac"], b.get("ip") or b["mac"])
    stop = None
    if first["verdict"] in ("drop", "lost") or (a["host"] == b["host"] and not _delivered(
            first, leg)) or (a["host"] != b["host"] and _uplink_out(first) is None):
        stop = (a["host"], first)
    elif a["host"] != b["host"]:
        up = _uplink_out(first)
        there = (second or {}).get("in_port") or "its uplink"
        hops.append({"host": None, "verdict": "assumed", "sentence":
                     "the physical network between %s %s and %s %s: not traced, assumed to "
                     "carry %s" % (a["host"], up["port"], b["host"], there,
                                   "VLAN %d" % up["vlan"] if up["vlan"] else "untagged frames")})
        if second is None:
            stop = (b["host"], {"bridge": b["vswitch"], "in_port": None, "verdict": "drop",
                                "reason": "%s has no uplink on %s to trace from"
                                % (b["host"], b["vswitch"]), "outputs": []})
        else:
            hops.append(_hop(b["host"], second))
            if second["verdict"] in ("drop", "lost") or not _delivered(second, leg):
                stop = (b["host"], second)
    out = {"from": a, "to": b, "hops": hops, "size": leg["size"], "size_from": leg["size_from"]}
    if stop is None:
        out.update(verdict="delivered", sentence="%s: delivered to %s on %s (%s)"
                   % (what, b["port"], b["host"], b["vswitch"]))
        return out
    host, res = stop
    bad = lost_at(res)
    port = bad["port"] if bad and res["verdict"] == "lost" else res.get("in_port")
    cause = res.get("reason") or "not sent on to %s" % b["port"]
    if res["verdict"] == "lost" and bad:
        cause = "%s: %s" % (bad["port"], bad["problem"])
    elif res["verdict"] not in ("drop", "lost"):
        cause = "not sent to %s (%s)" % (b["port"], res["sentence"].split(", ", 1)[-1])
    sent, wanted = first.get("vlan") or None, leg.get("to_vlan") or None
    if sent != wanted and b["role"] == "vnet":
        cause += "; %s %s puts the frame on %s, the receiver's port %s %s is on %s" % (
            a["host"], a["port"], vlan_words(sent), b["host"], b["port"], vlan_words(wanted))
    stops = {"host": host, "bridge": res.get("bridge"), "port": port, "cause": cause}
    out.update(verdict="stopped", stops_at=stops,
               sentence="%s: stops at %s %s (%s): %s" % (what, host, res.get("bridge"), port,
                                                         cause))
    return out


def plan(seen, src, dst, protocol="icmp", port=None, size=None, first=None, second=None,
         ips=None):
    """See the module docstring. seen: {host: {locate: {addr: result}, vswitches: [...]}};
    first/second: {host: trace module result} of rounds 1 and 2; ips: the (src, dst) IPs the
    frames carry where src/dst are MACs whose IP no host knows.

    Returns {error} or {round: 1|2, hosts: {host: [frames]}} while a round is to run, then
    {round: null, directions: [src → dst, dst → src], summary: [sentences]}."""
    legs, error = _legs(seen, src, dst, protocol, port, size, ips)
    if error:
        hint = " (a VM that has sent nothing: give its MAC, which libvirt wrote on its port)"
        return {"error": error + hint}
    rounds = _round(seen, legs, None, 1)
    if first is None:
        return {"round": 1, "hosts": {h: [f for _i, f in fs] for h, fs in rounds.items()}}
    res1 = _results(rounds, first)
    rounds2 = _round(seen, legs, res1, 2)
    if second is None and rounds2:
        return {"round": 2, "hosts": {h: [f for _i, f in fs] for h, fs in rounds2.items()}}
    res2 = _results(rounds2, second or {})
    directions = []
    for i, leg in enumerate(legs):
        directions.append(_judge(leg, res1[i], res2.get(i)))
    return {"round": None, "directions": directions,
            "summary": [d["sentence"] for d in directions]}


def _results(rounds, answers):
    """{leg index: trace result} from the module's answers, in the order the frames went."""
    out = {}
    for host, frames in rounds.items():
        traces = (answers.get(host) or {}).get("traces", [])
        for (i, _frame), res in zip(frames, traces):
            out[i] = res
    return out
