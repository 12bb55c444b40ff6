# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The capture filter, pure: the structured options (host, direction, peers, exclude, protocol,
port, bpf) validated and compiled into one tcpdump expression, covering the classic recipes
(`host X`, `src host X`, `dst host X`, `host NAME`, `host X and (Y or Z)`, `host X and not Y`,
a protocol and a port), with 802.1Q-tagged frames on trunks (`(F) or (vlan and (F))`) and, for
an IPv6 target, its neighbour discovery (for IPv4, tcpdump's `host` already matches ARP)."""

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


_MAC_RE = re.compile(r"^[0-9A-Fa-f]{2}(?:([:-])[0-9A-Fa-f]{2})(?:\1[0-9A-Fa-f]{2}){4}$")


def _address(value, path):
    """An IP literal (netaddr, strict inet_pton) -> (str, 4 or 6), a MAC -> (str, "mac"), or a
    hostname -> (str, None)."""
    if not isinstance(value, str) or not value.strip():
        raise ParamError(path, "%r is not an IP address or hostname" % (value,))
    value = value.strip()
    if _MAC_RE.match(value):
        return value.lower().replace("-", ":"), "mac"
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
            if spec["family"] in (4, 6) and family in (4, 6) and family != spec["family"]:
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
        host_term = _host(q, host, fam)
        if spec["peers"]:
            peers_term = " or ".join(_host(peer_q, p["addr"], p["family"]) for p in spec["peers"])
            if len(spec["peers"]) > 1:
                peers_term = "(%s)" % peers_term
    conj = [proto_term if not port or proto else None, host_term, peers_term,
            proto_term if port and not proto else None]
    if host and fam == 6 and proto in (None, "ip6", "icmp6") and not port:
        nd = _nd_terms(spec)
        if nd:
            conj = ["(%s) or %s" % (_and(conj), nd) if len(
                [t for t in conj if t]) > 1 else "%s or %s" % (_and(conj), nd)]
    excludes = ["not " + _host("", e["addr"], e["family"]) for e in spec["exclude"]]
    bpf = spec["bpf"]
    expr = _and(conj + excludes + (["(%s)" % bpf if not _wrapped(bpf) else bpf] if bpf
                                   and [t for t in conj + excludes if t] else [bpf]))
    if vlan and expr:
        return "(%s) or (vlan and (%s))" % (expr, expr)
    return expr


def _host(qualifier, addr, family):
    """`[src |dst ]host ADDR`, `ether [src |dst ]host MAC` for a MAC."""
    return "%s%shost %s" % ("ether " if family == "mac" else "", qualifier, addr)


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
