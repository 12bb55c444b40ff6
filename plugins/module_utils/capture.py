# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure core of the `capture` module: no I/O here.

- normalize_filter / compile_filter: the structured filter (host, direction, peers, exclude,
  protocol, port, bpf) validated and compiled into one tcpdump expression, covering the
  seed's recipes (`host X`, `src host X`, `dst host X`, `host NAME`, `host X and (Y or Z)`,
  `host X and not Y`, a protocol and a port), with 802.1Q-tagged frames on trunks
  (`(F) or (vlan and (F))`) and, for an IPv6 target, its neighbour discovery (for IPv4, tcpdump's
  `host` already matches ARP).
- plan: which interfaces to capture for the names asked, given the world (OVSDB + kernel):
  a kernel netdev directly, a bond on each member, a port without a netdev through a temporary
  OVS Mirror, a patch port refused and replaced by the real ports on either side.
- mirror_ops / unmirror_ops: the OVSDB operations (one transaction each) for a temporary mirror.
- Readers for what the capture leaves: pcap record headers, tcpdump's summary on stderr,
  chronyc / timedatectl clock offsets.
"""

from __future__ import annotations

import re
import struct

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import ParamError

try:
    import netaddr

    HAS_NETADDR = True
except ImportError:  # pragma: no cover - reported by the module edge
    netaddr = None
    HAS_NETADDR = False

DIRECTIONS = ("src", "dst", "both")
PROTOCOLS = ("ip", "ip6", "tcp", "udp", "icmp", "icmp6", "arp")
METHODS = ("auto", "tcpdump", "mirror")
VLAN_MATCH = ("auto", "always", "never")
# Our mark on the temporary mirror rows (the same key the provisioning modules use).
MARK = "cloudnet-vswitch"
MARK_CAPTURE = "capture"
RUN_KEY = "cloudnet-capture-run"
HEADERS_ONLY_SNAPLEN = 128  # Ethernet + 802.1Q + IPv6 + TCP with options
_V4 = {"ip", "icmp", "arp"}
_V6 = {"ip6", "icmp6"}
# Words tcpdump's grammar reserves: a "hostname" equal to one would change the expression.
_KEYWORDS = frozenset(
    "and or not host net port portrange src dst ip ip6 tcp udp icmp icmp6 arp rarp vlan mpls "
    "ether broadcast multicast less greater proto gateway len inbound outbound ifname on rnr "
    "reason rset srnr subrule action atalk aarp decnet iso sca lat mopdl moprc netbeui stp "
    "ipx sctp igmp igrp pim vrrp carp ah esp link fddi tr wlan ppp slip radio pppoed pppoes "
    "geneve host6 type subtype dir".split())
_HOSTNAME_RE = re.compile(r"^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                          r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")
_NAME_RE = re.compile(r"^[A-Za-z0-9_@][A-Za-z0-9_.:@+-]{0,63}$")
_TRUNK_MODES = ("trunk", "native-tagged", "native-untagged", "dot1q-tunnel")


# --------------------------------------------------------------------------- the filter

def _address(value, path):
    """An IP literal (netaddr, strict inet_pton) -> (str, family), or a hostname -> (str, None).
    """
    if not isinstance(value, str) or not value.strip():
        raise ParamError(path, "%r is not an IP address or hostname" % (value,))
    value = value.strip()
    if HAS_NETADDR:
        try:
            ip = netaddr.IPAddress(value, flags=getattr(netaddr, "INET_PTON", 0))
            return str(ip), ip.version
        except (netaddr.AddrFormatError, ValueError, TypeError):
            pass
    if ":" in value or "/" in value or re.match(r"^[0-9.]+$", value):
        raise ParamError(path, "%r is not a valid IP address (a single address: no prefix "
                               "length, no range)" % (value,))
    if not _HOSTNAME_RE.match(value):
        raise ParamError(path, "%r is neither an IP address nor a valid hostname" % (value,))
    if value.lower() in _KEYWORDS:
        raise ParamError(path, "%r is a tcpdump keyword, not a hostname" % (value,))
    return value, None


def _port(value):
    if isinstance(value, bool):
        raise ParamError("port", "%r is not a port number" % (value,))
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        n = int(value)
        if 1 <= n <= 65535:
            return str(n)
    elif isinstance(value, str) and re.match(r"^\s*\d+\s*-\s*\d+\s*$", value):
        lo, hi = [int(x) for x in value.split("-")]
        if 1 <= lo <= hi <= 65535:
            return "%d-%d" % (lo, hi)
    raise ParamError("port", "%r is not a port (1-65535) or a range like 8000-8080" % (value,))


def normalize_filter(params):
    """The filter options of the module (a dict) -> a validated spec; raises ParamError naming
    the option and value. Keys: host, direction, peers, exclude, protocol, port, bpf."""
    host = params.get("host")
    direction = params.get("direction") or "both"
    protocol = params.get("protocol")
    spec = {"host": None, "family": None, "direction": direction, "peers": [], "exclude": [],
            "protocol": protocol, "port": None, "bpf": None}
    if direction not in DIRECTIONS:
        raise ParamError("direction", "%r is not one of %s" % (direction, ", ".join(DIRECTIONS)))
    if protocol is not None and protocol not in PROTOCOLS:
        raise ParamError("protocol", "%r is not one of %s" % (protocol, ", ".join(PROTOCOLS)))
    if host is not None:
        spec["host"], spec["family"] = _address(host, "host")
    for key in ("peers", "exclude"):
        values = params.get(key) or []
        if isinstance(values, str):
            values = [values]
        for i, value in enumerate(values):
            path = "%s[%d]" % (key, i)
            addr, family = _address(value, path)
            if spec["family"] and family and family != spec["family"]:
                raise ParamError(path, "%s is IPv%s but host %s is IPv%s: they can never be "
                                       "in the same packet" % (addr, family, spec["host"],
                                                               spec["family"]))
            spec[key].append({"addr": addr, "family": family})
    if spec["peers"] and spec["host"] is None:
        raise ParamError("peers", "needs host (peers are the other ends of host's traffic)")
    if direction != "both" and spec["host"] is None:
        raise ParamError("direction", "%r needs host (the direction is relative to it)"
                         % direction)
    fam = spec["family"]
    if protocol and fam == 4 and protocol in _V6:
        raise ParamError("protocol", "%r cannot match the IPv4 host %s" % (protocol, spec["host"]))
    if protocol and fam == 6 and protocol in _V4:
        raise ParamError("protocol", "%r cannot match the IPv6 host %s" % (protocol, spec["host"]))
    if params.get("port") is not None:
        if protocol not in (None, "tcp", "udp"):
            raise ParamError("port", "only with protocol tcp or udp (or none); protocol is %r"
                             % protocol)
        spec["port"] = _port(params["port"])
    bpf = params.get("bpf")
    if bpf is not None:
        if not isinstance(bpf, str) or "\x00" in bpf:
            raise ParamError("bpf", "%r is not a tcpdump filter expression" % (bpf,))
        spec["bpf"] = " ".join(bpf.split()) or None
    return spec


def _and(terms):
    """Conjunction of terms; a term holding "or" (or an expert's string) gets parentheses."""
    terms = [t for t in terms if t]
    if len(terms) == 1:
        return terms[0]
    return " and ".join(t if _wrapped(t) or not _needs_parens(t) else "(%s)" % t
                        for t in terms)


def _needs_parens(term):
    return bool(re.search(r"\bor\b|\|\||\band\b|&&", term))


def _wrapped(term):
    """Whether the whole term is one parenthesised group."""
    if not (term.startswith("(") and term.endswith(")")):
        return False
    depth = 0
    for i, ch in enumerate(term):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and i < len(term) - 1:
            return False
    return True


def solicited_node(addr):
    """ff02::1:ffXX:XXXX for an IPv6 address (RFC 4291 2.7.1)."""
    low = int(netaddr.IPAddress(addr)) & 0xFFFFFF
    return str(netaddr.IPAddress((0xFF0200000000000000000001FF << 24) | low, 6))


def neighbour_discovery(addr):
    """ICMPv6 that resolves `addr`: anything to its solicited-node multicast group (NS, also
    DAD from ::) and every NS/NA whose target field is `addr` (ND has no extension headers, so
    the ICMPv6 type is at ip6[40] and the target at ip6[48:16])."""
    words = struct.unpack("!4I", netaddr.IPAddress(addr).packed)
    target = " and ".join("ip6[%d:4] == 0x%08x" % (48 + 4 * i, w) for i, w in enumerate(words))
    return "icmp6 and (dst host %s or ((ip6[40] == 135 or ip6[40] == 136) and %s))" % (
        solicited_node(addr), target)


def compile_filter(spec, vlan=False):
    """The tcpdump expression for a normalized spec; with vlan=True it also matches the same
    traffic inside 802.1Q tags (`(F) or (vlan and (F))`). "" means every packet."""
    host, direction, fam = spec["host"], spec["direction"], spec["family"]
    proto = spec["protocol"]
    port = spec["port"]
    proto_term = proto
    if port:
        kw = "portrange" if "-" in port else "port"
        proto_term = "%s %s %s" % (proto, kw, port) if proto else "%s %s" % (kw, port)
    host_term = peers_term = None
    peer_q = ""
    if host:
        q = {"src": "src ", "dst": "dst ", "both": ""}[direction]
        peer_q = {"src": "dst ", "dst": "src ", "both": ""}[direction]
        host_term = "%shost %s" % (q, host)
        if spec["peers"]:
            peers_term = " or ".join("%shost %s" % (peer_q, p["addr"]) for p in spec["peers"])
            if len(spec["peers"]) > 1:
                peers_term = "(%s)" % peers_term
    conj = [proto_term if not port or proto else None, host_term, peers_term,
            proto_term if port and not proto else None]
    if host and fam == 6 and proto in (None, "ip6", "icmp6") and not port:
        nd = _nd_terms(spec)
        if nd:
            conj = ["(%s) or %s" % (_and(conj), nd) if len(
                [t for t in conj if t]) > 1 else "%s or %s" % (_and(conj), nd)]
    excludes = ["not host %s" % e["addr"] for e in spec["exclude"]]
    bpf = spec["bpf"]
    expr = _and(conj + excludes + (["(%s)" % bpf if not _wrapped(bpf) else bpf] if bpf
                                   and [t for t in conj + excludes if t] else [bpf]))
    if vlan and expr:
        return "(%s) or (vlan and (%s))" % (expr, expr)
    return expr


def _nd_terms(spec):
    host, direction = spec["host"], spec["direction"]
    peers = [p["addr"] for p in spec["peers"] if p["family"] == 6]
    if spec["peers"] and not peers:
        return None  # peers given by name: their ND cannot be spelled in BPF
    if not peers:
        return None if direction == "src" else "(%s)" % neighbour_discovery(host)
    out = []
    if direction in ("src", "both"):  # host resolving its peers
        out.append("src host %s and (%s)" % (host, " or ".join(
            "(%s)" % neighbour_discovery(p) for p in peers)))
    if direction in ("dst", "both"):  # the peers resolving host
        out.append("(%s) and (%s)" % (" or ".join("src host %s" % p for p in peers),
                                      neighbour_discovery(host)))
    return " or ".join("(%s)" % t for t in out)


def describe(spec):
    """The filter in words, for notes."""
    return compile_filter(spec) or "every packet"


# --------------------------------------------------------------------------- planning

def _is_patch(world, iname):
    iface = world["interfaces"].get(iname)
    return bool(iface) and iface["type"] == "patch"


def _is_ours(row):
    return row.get("external_ids", {}).get(MARK) == MARK_CAPTURE


def _wants_vlan(world, pname, match_vlan, method):
    if match_vlan != "auto":
        return match_vlan == "always"
    if method == "mirror":
        return True  # the mirror's output port carries the frames tagged
    if pname is None:
        return True  # a netdev outside OVS: may well be a trunk, matching tags costs nothing
    from ansible_collections.cloudnet.vswitch.plugins.module_utils.model import port_role

    port = world["ports"][pname]
    return port_role(world, pname) == "uplink" or bool(port.get("trunks")) or \
        port.get("vlan_mode") in _TRUNK_MODES


def check_name(value, path):
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ParamError(path, "%r is not a valid interface name" % (value,))
    return value


def check_request(names, method="auto", match_vlan="auto"):
    """What plan() can check without the host: run it before reading the host."""
    if method not in METHODS:
        raise ParamError("method", "%r is not one of %s" % (method, ", ".join(METHODS)))
    if match_vlan not in VLAN_MATCH:
        raise ParamError("match_vlan", "%r is not one of %s" % (match_vlan,
                                                                ", ".join(VLAN_MATCH)))
    if not names:
        raise ParamError("interfaces", "name at least one interface to capture on")
    for i, name in enumerate(names):
        check_name(name, "interfaces[%d]" % i)


def plan(world, names, method="auto", match_vlan="auto"):
    """The names asked for -> (targets, notes).

    Each target: interface (the file name stem: the name asked for, or a bond member),
    requested, method (tcpdump | mirror), device (the netdev tcpdump opens; None for a mirror
    until its capture port exists), bridge, port, vlan (whether to match tagged frames)."""
    check_request(names, method, match_vlan)
    targets, notes = [], []
    seen = set()

    def add(target):
        if target["interface"] not in seen:
            seen.add(target["interface"])
            targets.append(target)

    for i, name in enumerate(names):
        path = "interfaces[%d]" % i
        check_name(name, path)
        for t in _resolve(world, name, path, method, match_vlan, notes, redirected=False):
            add(t)
    return targets, notes


def _resolve(world, name, path, method, match_vlan, notes, redirected):
    links = world.get("links") or {}
    ports, ifaces = world["ports"], world["interfaces"]
    pname = name if name in ports else (ifaces.get(name) or {}).get("port")
    if pname is None:
        if method == "mirror":
            raise ParamError(path, "%r: method mirror needs an OVS port, and %r is none (OVS "
                                   "ports: %s)" % (name, name, ", ".join(sorted(ports)) or "none"))
        if name in links:
            return _up(links, [_target(name, name, "tcpdump", name, None, None,
                                       _wants_vlan(world, None, match_vlan, "tcpdump"))],
                       path, notes, redirected)
        raise ParamError(path, "%r is neither a kernel interface nor an OVS port on this host"
                               % name)
    port = ports[pname]
    members = port["interfaces"]
    if any(_is_patch(world, m) for m in members) or _is_patch(world, name):
        if redirected:
            return []
        return _redirect_patch(world, name, pname, path, method, match_vlan, notes)
    bridge = port["bridge"]
    if method == "mirror":
        return [_mirror(world, name, pname, match_vlan, notes)]
    if len(members) > 1 and name == pname:  # a bond: one tcpdump per member
        if all(m in links for m in members):
            note = "%s is a bond (%s): captured on each member: %s" % (
                name, port.get("bond_mode") or "active-backup", ", ".join(members))
            if port.get("bond_mode") == "balance-tcp":
                note += " (balance-tcp moves flows between members; merge the member files " \
                        "to see a whole conversation)"
            notes.append(note)
            vlan = _wants_vlan(world, pname, match_vlan, "tcpdump")
            return _up(links, [_target(m, name, "tcpdump", m, bridge, pname, vlan)
                               for m in members], path, notes, True)
        if method == "tcpdump":
            raise ParamError(path, "%r is a bond whose members %s have no kernel netdev: only "
                                   "method mirror can capture it"
                             % (name, ", ".join(m for m in members if m not in links)))
        return [_mirror(world, name, pname, match_vlan, notes)]
    if name in links:
        return _up(links, [_target(name, name, "tcpdump", name, bridge, pname,
                                   _wants_vlan(world, pname, match_vlan, "tcpdump"))],
                   path, notes, redirected)
    if method == "tcpdump":
        raise ParamError(path, "%r has no kernel netdev (type %s): only method mirror can capture "
                               "it" % (name, (ifaces.get(name) or {}).get("type") or "?"))
    return [_mirror(world, name, pname, match_vlan, notes)]


def _up(links, targets, path, notes, optional):
    """Drop targets whose netdev is administratively down (tcpdump cannot open it, and it
    carries nothing): with a note when they came from a bond or a patch port, else an error."""
    out = []
    for t in targets:
        if links.get(t["device"], {}).get("up", True):
            out.append(t)
        elif optional:
            notes.append("%s is down: not captured (it carries no traffic)" % t["device"])
        else:
            raise ParamError(path, "%r is down (tcpdump cannot capture on an interface that "
                                   "is not up)" % t["device"])
    return out


def _target(interface, requested, method, device, bridge, port, vlan):
    return {"interface": interface, "requested": requested, "method": method, "device": device,
            "bridge": bridge, "port": port, "vlan": vlan}


def _mirror(world, name, pname, match_vlan, notes):
    port = world["ports"][pname]
    notes.append("%s is captured through a temporary OVS mirror of port %s on %s (a capture "
                 "port that never sends into the bridge; both removed at the end)"
                 % (name, pname, port["bridge"]))
    if len(port["interfaces"]) > 1 and port.get("bond_mode") == "balance-tcp":
        notes.append("%s is a balance-tcp bond: OVS 3.1 duplicates every outbound frame of a "
                     "mirrored balance-tcp bond, so each frame the host sends appears twice in "
                     "%s.pcap (an artefact of the mirror, not of the network)" % (pname, name))
    return _target(name, name, "mirror", None, port["bridge"], pname,
                   _wants_vlan(world, pname, match_vlan, "mirror"))


def _redirect_patch(world, name, pname, path, method, match_vlan, notes):
    """A patch port cannot be captured (OVS hands traffic through a patch before mirroring
    and no netdev exists): capture the real ports of the bridges on both sides instead."""
    ports, ifaces = world["ports"], world["interfaces"]
    bridges = [ports[pname]["bridge"]]
    for m in ports[pname]["interfaces"]:
        peer = (ifaces.get(m) or {}).get("options", {}).get("peer")
        peer_port = (ifaces.get(peer) or {}).get("port")
        if peer_port in ports and ports[peer_port]["bridge"] not in bridges:
            bridges.append(ports[peer_port]["bridge"])
    out = []
    sides = []
    for br in bridges:
        real = [p for p in world["bridges"][br]["ports"]
                if p in ports and not any(_is_patch(world, m) for m in ports[p]["interfaces"])
                and not _is_ours(ports[p])]
        sides.append("%s: %s" % (br, ", ".join(real) or "none"))
        for p in real:
            for t in _resolve(world, p, path, "auto" if method == "mirror" else method,
                              match_vlan, notes, redirected=True):
                t["requested"] = name
                out.append(t)
    notes.append("%s is a patch port: OVS never mirrors traffic crossing a patch port and it has "
                 "no netdev, so it is not captured; captured instead on the real ports on "
                 "either side (%s)" % (name, "; ".join(sides)))
    if not out:
        raise ParamError(path, "%r is a patch port and the bridges on its sides have no other "
                               "port to capture" % name)
    return out


# --------------------------------------------------------------------------- mirrors

def stale_mirrors(world):
    """Notes on capture mirrors of ours already in OVSDB: another capture running, or one
    whose cleanup never ran (the watchdog itself killed). Reported, never removed here."""
    return ["a capture mirror %s (run %s) is already on %s: another capture is running, or "
            "it was left behind; remove it with ovs-vsctl -- --id=@m get Mirror %s -- remove "
            "Bridge %s mirrors @m" % (name, m["external_ids"].get(RUN_KEY, "?"), m["bridge"],
                                      name, m["bridge"])
            for name, m in sorted((world.get("mirrors") or {}).items()) if _is_ours(m)]


class OpsPlan(object):
    """What ovsdb.Client.apply commits: a list of ops in one transaction."""

    def __init__(self, ops):
        self.ops = ops


def capture_port_name(token, index):
    """A netdev name (<= 15 characters) for the temporary capture port."""
    return ("cncap%s%d" % (token[:8], index))[:15]


def mirror_ops(targets, run_id):
    """One add_mirror op per mirror target (target['capture_port'] and ['mirror'] set)."""
    ops = []
    for t in targets:
        if t["method"] != "mirror":
            continue
        ext = {MARK: MARK_CAPTURE, RUN_KEY: run_id}
        ops.append({"kind": "add_mirror", "bridge": t["bridge"], "name": t["mirror"],
                    "select": [t["port"]], "output_port": t["capture_port"],
                    "external_ids": ext})
    return ops


def unmirror_ops(world, mirrors):
    """The ops that remove our mirrors (and their capture ports) still present in `world`.
    mirrors: [{bridge, name, output_port}]."""
    ops = []
    for m in mirrors:
        row = (world.get("mirrors") or {}).get(m["name"])
        port = world["ports"].get(m["output_port"])
        if row is not None and _is_ours(row):
            ops.append({"kind": "del_mirror", "bridge": row["bridge"], "name": m["name"]})
        if port is not None and _is_ours(port):
            ops.append({"kind": "del_port", "bridge": port["bridge"], "name": m["output_port"]})
    return ops


def nft_isolation(table, device):
    """An nftables script: drop everything the kernel would receive on `device` (the capture
    port): tcpdump's packet socket sees frames before the netdev ingress hook, the host's IP
    stack does not."""
    return ("table netdev %s {\n  chain ingress {\n    type filter hook ingress device \"%s\" "
            "priority -500; policy drop;\n  }\n}\n" % (table, device))


# --------------------------------------------------------------------------- readers

_SUMMARY = {
    "captured": re.compile(r"^(\d+) packets? captured", re.M),
    "received_by_filter": re.compile(r"^(\d+) packets? received by filter", re.M),
    "kernel_dropped": re.compile(r"^(\d+) packets? dropped by kernel", re.M),
    "interface_dropped": re.compile(r"^(\d+) packets? dropped by interface", re.M),
}


def parse_summary(stderr):
    """tcpdump's closing lines on stderr -> counts (None where it printed nothing)."""
    out = {}
    for key, rx in _SUMMARY.items():
        m = rx.findall(stderr or "")
        out[key] = int(m[-1]) if m else None
    return out


def read_pcap(path, limit=None):
    """Walk a pcap file's record headers: {packets, wire_bytes, first, last, linktype,
    snaplen, truncated} (first/last epoch seconds as floats, None without packets). Reads
    16-byte headers and seeks over the data, so memory stays flat.

    With `limit` (bytes), only the records that end within it count; `cut_at` is then the
    offset to truncate the file at (None when it fits) and `past_limit` how many records
    lie beyond."""
    out = {"packets": 0, "wire_bytes": 0, "first": None, "last": None, "linktype": None,
           "snaplen": None, "truncated": False, "cut_at": None, "past_limit": 0}
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            out["truncated"] = bool(head)
            return out
        magic = head[:4]
        order, nano = {b"\xd4\xc3\xb2\xa1": ("<", False), b"\xa1\xb2\xc3\xd4": (">", False),
                       b"\x4d\x3c\xb2\xa1": ("<", True), b"\xa1\xb2\x3c\x4d": (">", True)
                       }.get(magic, (None, None))
        if order is None:
            raise ValueError("%s is not a pcap file (magic %r)" % (path, magic))
        _maj, _min, _tz, _sig, snaplen, linktype = struct.unpack(order + "HHiIII", head[4:])
        out["snaplen"], out["linktype"] = snaplen, linktype & 0xFFFF
        rec = struct.Struct(order + "IIII")
        div = 1e9 if nano else 1e6
        pos = 24
        while True:
            h = f.read(16)
            if not h:
                break
            if len(h) < 16:
                out["truncated"] = True
                break
            sec, frac, incl, orig = rec.unpack(h)
            data = f.read(incl)
            if len(data) < incl:
                out["truncated"] = True
                break
            pos += 16 + incl
            if limit is not None and (out["cut_at"] is not None or pos > limit):
                if out["cut_at"] is None:
                    out["cut_at"] = pos - 16 - incl
                out["past_limit"] += 1
                continue
            ts = sec + frac / div
            out["packets"] += 1
            out["wire_bytes"] += orig
            if out["first"] is None:
                out["first"] = ts
            out["last"] = ts
    return out


def parse_chrony(text):
    """`chronyc -n tracking` -> seconds the local clock is ahead of NTP time (+fast, -slow)."""
    m = re.search(r"^System time\s*:\s*([0-9.]+) seconds (fast|slow)", text or "", re.M)
    if not m:
        return None
    value = float(m.group(1))
    return value if m.group(2) == "fast" else -value


def parse_timesync(text):
    """`timedatectl timesync-status` -> the Offset line in seconds (systemd-timesyncd)."""
    m = re.search(r"^\s*Offset:\s*([+-]?[0-9.]+)\s*(ns|us|\u00b5s|ms|s|min)\s*$", text or "",
                  re.M)
    if not m:
        return None
    scale = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0}
    return float(m.group(1)) * scale[m.group(2)]
