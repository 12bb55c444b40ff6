# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reverse-path checks for the path_check module: parsers of `ip -j route get`, `nstat -j`,
/proc/net/netstat, `nft -j list ruleset`, `iptables-save` and firewalld.conf, the effective
sysctl values, and the verdict with the sentence that explains it.

Everything above collect() is pure and unit-tested on recorded outputs. collect() does the
I/O through three callables: run(argv) -> (rc, out, err), read(path) -> text or None, and
which(name) -> path or None, so it too runs without a host in tests.
"""

from __future__ import annotations

import ipaddress
import json

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import ParamError

VERDICTS = ("symmetric", "asymmetric-dropped", "asymmetric-answered", "unreachable")
RP_FILTER_MODES = {0: "off", 1: "strict", 2: "loose"}
DROP_COUNTER = "TcpExtIPReversePathFilter"
FIREWALLD_CONF = "/etc/firewalld/firewalld.conf"
# What `ip route get LOCAL from PEER iif IFACE` prints when the kernel's source validation
# rejects the packet: "Invalid argument" for a local destination (docs/lab.md, trap 8),
# "Invalid cross-device link" (EXDEV) on the forwarding path of some kernels.
REJECTED = ("Invalid argument", "Invalid cross-device link")


# --------------------------------------------------------------------------- small helpers

def family_of(address):
    """4 or 6 for an IP address (or CIDR); None when it is not one."""
    try:
        return ipaddress.ip_interface(str(address)).version
    except ValueError:
        return None


def local_address(address):
    return str(ipaddress.ip_interface(str(address)).ip)


def _int(value, default=None):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def validate_peers(peers):
    """The peers as normalised address strings; ParamError naming peers[i] otherwise."""
    out = []
    for i, peer in enumerate(peers or []):
        try:
            out.append(str(ipaddress.ip_address(str(peer).strip())))
        except ValueError:
            raise ParamError("peers[%d]" % i, "%r is not an IP address (IPv4 or IPv6, "
                             "without a prefix length)" % (peer,)) from None
    return out


def validate_interfaces(interfaces, internal):
    """`interfaces` must name internal ports; ParamError naming interfaces[i] otherwise."""
    for i, name in enumerate(interfaces or []):
        if name not in internal:
            raise ParamError("interfaces[%d]" % i, "%r is not the internal port of a vSwitch "
                             "on this host (internal ports: %s)" % (
                                 name, ", ".join(sorted(internal)) or "none"))
    return list(interfaces) if interfaces else sorted(internal)


# --------------------------------------------------------------------------- parsers

def parse_route_get(rc, out, err):
    """One `ip -j route get ...` call -> {ok, type, dev, output_or_error, rejected}.

    ok: the kernel returned a route; rejected: it refused with one of REJECTED (the
    reverse-path check failed); otherwise an error such as "Network is unreachable"."""
    text = (err or "").strip() or (out or "").strip()
    if rc == 0:
        try:
            data = json.loads(out or "[]")
        except ValueError:
            data = []
        route = data[0] if data else {}
        return {"ok": bool(route), "type": route.get("type", "unicast") if route else None,
                "dev": route.get("dev"), "output_or_error": (out or "").strip(),
                "rejected": False}
    return {"ok": False, "type": None, "dev": None, "output_or_error": text,
            "rejected": any(r in text for r in REJECTED)}


def parse_nstat(text, name=DROP_COUNTER):
    """`nstat -azj NAME` JSON -> the counter as int, or None."""
    try:
        data = json.loads(text or "")
    except ValueError:
        return None
    for counters in (data.values() if isinstance(data, dict) else []):
        if isinstance(counters, dict) and name in counters:
            return _int(counters[name])
    return None


def parse_proc_netstat(text, name=DROP_COUNTER):
    """/proc/net/netstat (pairs of header/value lines, e.g. "TcpExt: ... IPReversePathFilter
    ...") -> the counter named like nstat names it (prefix + field), or None."""
    lines = (text or "").splitlines()
    for head, values in zip(lines[0::2], lines[1::2]):
        hk, _sep, hnames = head.partition(":")
        vk, _sep, vnums = values.partition(":")
        if hk != vk or not name.startswith(hk):
            continue
        fields = dict(zip(hnames.split(), vnums.split()))
        if name[len(hk):] in fields:
            return _int(fields[name[len(hk):]])
    return None


def effective_sysctls(values, iface):
    """values: {"net/ipv4/conf/X/KEY": "N"} for X in (all, iface) -> (rp_filter, arp).

    The kernel takes the max of all and the interface for rp_filter, arp_ignore and
    arp_announce, and all OR interface for arp_filter (Documentation/networking/ip-sysctl)."""
    def pair(key):
        return (_int(values.get("net/ipv4/conf/all/%s" % key)),
                _int(values.get("net/ipv4/conf/%s/%s" % (iface, key))))

    def biggest(a, b):
        known = [v for v in (a, b) if v is not None]
        return max(known) if known else None

    a, i = pair("rp_filter")
    rp = {"all": a, "interface": i, "effective": biggest(a, i)}
    arp = {}
    for key in ("arp_ignore", "arp_announce"):
        arp[key] = biggest(*pair(key))
    a, i = pair("arp_filter")
    arp["arp_filter"] = None if a is None and i is None else int(bool(a) or bool(i))
    return rp, arp


def sysctl_paths(iface):
    return ["net/ipv4/conf/%s/%s" % (x, k) for x in ("all", iface)
            for k in ("rp_filter", "arp_ignore", "arp_announce", "arp_filter")]


# --------------------------------------------------------------------------- firewall rules

def _nft_text(expr):
    """A short nft-like rendering of one rule's JSON expressions."""
    words = []
    for e in expr:
        if "match" in e:
            m = e["match"]
            left, right = m.get("left", {}), m.get("right")
            if isinstance(left, dict) and "fib" in left:
                fib = left["fib"]
                res = {False: "missing", True: "exists"}.get(right, right) \
                    if isinstance(right, bool) else right
                words.append("fib %s %s %s" % (" . ".join(fib.get("flags", [])),
                                               fib.get("result"), res))
            elif isinstance(left, dict) and "meta" in left:
                op = "" if m.get("op") in ("==", "in") else m.get("op") + " "
                words.append("%s %s%s" % (left["meta"].get("key"), op, json.dumps(right)))
            else:
                words.append(json.dumps(e, sort_keys=True))
        else:
            for key in e:
                words.append(key if e[key] is None or key == "counter"
                             else "%s %s" % (key, json.dumps(e[key], sort_keys=True)))
    return " ".join(words)


def _names(right):
    if isinstance(right, str):
        return [right]
    if isinstance(right, dict) and "set" in right:
        return [x for x in right["set"] if isinstance(x, str)]
    return None


def parse_nft_rpfilter(nft):
    """`nft -j list ruleset` -> the reverse-path rules: a `fib saddr [. mark] [. iif] oif`
    match for a missing result (false or 0) followed by drop or reject. Each:
    {source, rule, families, mode (strict when iif is a flag, else loose), iifnames or None}.

    Rules that iptables-nft wrote show up here as an opaque `xt` rpfilter match (no mode, no
    invert): they are skipped, iptables-save reports them with their options."""
    rules = []
    items = nft.get("nftables", []) if isinstance(nft, dict) else []
    for item in items:
        rule = item.get("rule") if isinstance(item, dict) else None
        if not rule:
            continue
        expr = rule.get("expr", [])
        fib = None
        families = {"ip": [4], "ip6": [6]}.get(rule.get("family"), [4, 6])
        iifnames = None
        for e in expr:
            m = e.get("match") if isinstance(e, dict) else None
            if not m:
                continue
            left, right = m.get("left"), m.get("right")
            if not isinstance(left, dict):
                continue
            if "fib" in left and left["fib"].get("result") == "oif" and \
                    "saddr" in left["fib"].get("flags", []) and m.get("op") in ("==", None) \
                    and right in (False, 0, "0"):
                fib = left["fib"]
            elif "meta" in left and left["meta"].get("key") in ("nfproto", "l3proto") and \
                    m.get("op") == "==":
                families = [f for f in families
                            if {"ipv4": 4, "ip": 4, "ipv6": 6, "ip6": 6}.get(right) == f]
            elif "meta" in left and left["meta"].get("key") in ("iifname", "iif") and \
                    m.get("op") in ("==", "in"):
                iifnames = _names(right)
        if fib is None or not any(v in e for e in expr for v in ("drop", "reject")):
            continue
        rules.append({
            "source": "nft",
            "rule": "nft: %s %s chain %s: %s" % (
                rule.get("family"), rule.get("table"), rule.get("chain"), _nft_text(expr)),
            "families": families,
            "mode": "strict" if "iif" in fib.get("flags", []) else "loose",
            "iifnames": iifnames,
        })
    return rules


def parse_iptables_rpfilter(text, family):
    """`iptables-save` (family 4) / `ip6tables-save` (6) -> the `-m rpfilter --invert` rules
    that DROP or REJECT, in the shape of parse_nft_rpfilter()."""
    rules, table = [], None
    tool = "iptables" if family == 4 else "ip6tables"
    for line in (text or "").splitlines():
        line = line.strip()
        if line.startswith("*"):
            table = line[1:]
        if not line.startswith("-A ") or "-m rpfilter" not in line:
            continue
        words = line.split()
        if "--invert" not in words or not ({"DROP", "REJECT"} & set(words)):
            continue
        iif = None
        if "-i" in words and words[words.index("-i") - 1] != "!":
            iif = [words[words.index("-i") + 1]]
        rules.append({"source": tool, "rule": "%s: -t %s %s" % (tool, table, line),
                      "families": [family],
                      "mode": "loose" if "--loose" in words else "strict",
                      "iifnames": iif})
    return rules


def parse_firewalld_conf(text):
    """firewalld.conf -> its IPv6_rpfilter rule (yes/strict: strict, loose: loose; the
    *-forward values and no do not touch local traffic), or None."""
    for line in (text or "").splitlines():
        key, _sep, value = line.strip().partition("=")
        if key.strip() != "IPv6_rpfilter":
            continue
        value = value.strip().strip('"').lower()
        mode = {"yes": "strict", "strict": "strict", "loose": "loose"}.get(value)
        if mode is None:
            return None
        return {"source": "firewalld", "rule": "firewalld: IPv6_rpfilter=%s (%s)" % (
            value, FIREWALLD_CONF), "families": [6], "mode": mode, "iifnames": None}
    return None


def applicable(rules, family, iface):
    """The rules that see a packet of `family` arriving on `iface`."""
    return [r for r in rules if family in r["families"]
            and (r["iifnames"] is None or iface in r["iifnames"])]


# --------------------------------------------------------------------------- the verdict

def verdict(family, ingress, egress, rp_effective, rules):
    """(verdict, dropped_by) from where the request arrives, where the reply would leave,
    the effective rp_filter (IPv4) and the applicable firewall rules.

    dropped_by: "rp_filter" | "firewall" | None. IPv6 has no rp_filter sysctl."""
    rules = [r for r in rules if r.get("counts", True)]
    strict_fw = [r for r in rules if r["mode"] == "strict"]
    if egress is None:
        # No route back at all: strict and loose filtering both drop; without, the request
        # is taken but the reply cannot be sent.
        if family == 4 and rp_effective in (1, 2):
            return "unreachable", "rp_filter"
        return "unreachable", "firewall" if rules else None
    if egress == ingress:
        return "symmetric", None
    if family == 4 and rp_effective == 1:
        return "asymmetric-dropped", "rp_filter"
    if strict_fw:
        return "asymmetric-dropped", "firewall"
    return "asymmetric-answered", None


def kernel_expects_reject(family, verdict_, rp_effective):
    """Whether `ip route get LOCAL from PEER iif INGRESS` should fail (the kernel's own
    source validation; firewall rules are not consulted by it)."""
    if family != 4:
        return False
    if verdict_ == "asymmetric-dropped":
        return rp_effective == 1
    if verdict_ == "unreachable":
        return rp_effective in (1, 2)
    return False


def kernel_agrees(check, expects_reject):
    """check: parse_route_get() of the kernel query."""
    if expects_reject:
        return bool(check["rejected"])
    return bool(check["ok"]) and check["type"] == "local"


def _rp_words(rp, iface):
    """e.g. "rp_filter on vswitch1 is 1 (strict, the larger of all 0 and vswitch1 1)"."""
    eff = rp["effective"]
    mode = RP_FILTER_MODES.get(eff, "unknown")
    if rp["all"] == rp["interface"]:
        return "rp_filter on %s is %s (%s)" % (iface, eff, mode)
    return "rp_filter on %s is %s (%s, the larger of all %s and %s %s)" % (
        iface, eff, mode, rp["all"], iface, rp["interface"])


def explain(path):
    """The one sentence for a path dict (see build_path)."""
    local, peer = path["local_address"], path["peer"]
    ing, eg, v = path["interface"], path["egress"], path["verdict"]
    counter = path["drop_counter"]
    tail = " (%s: %s)" % (DROP_COUNTER, counter) if counter is not None else ""
    rules = path["firewall_rpfilter"]
    head = "A request from %s to %s arrives on %s" % (peer, local, ing)
    if v == "symmetric":
        return "%s and the route back to %s leaves by %s too, so the path is symmetric " \
               "and the reply goes out where the request came in." % (head, peer, eg)
    if v == "unreachable":
        head = "%s, but the host has no route back to %s" % (head, peer)
        if path["dropped_by"] == "rp_filter":
            return "%s; %s, so the kernel drops the request and never replies%s." % (
                head, _rp_words(path["rp_filter"], ing), tail)
        if path["dropped_by"] == "firewall":
            return "%s; the reverse-path firewall rule (%s) drops the request, so no reply " \
                   "is ever made." % (head, rules[0])
        return "%s, so the request is taken but no reply can be sent." % head
    back = "%s, but the route back leaves by %s" % (head, eg)
    if v == "asymmetric-dropped" and path["dropped_by"] == "rp_filter":
        rp = path["rp_filter"]
        return "%s; %s, so the kernel drops the request and never replies%s." % (
            back, _rp_words(rp, ing), tail)
    if v == "asymmetric-dropped":
        return "%s; the reverse-path firewall rule (%s) drops the request on %s, so no " \
               "reply is ever made." % (back, rules[0], ing)
    if path["family"] == 6:
        why = "IPv6 has no rp_filter and no reverse-path firewall rule applies"
    else:
        rp = path["rp_filter"]
        why = _rp_words(rp, ing)
        if rules:
            why += " and the reverse-path firewall rules are loose"
    return "%s; %s, so the request is answered, but the reply leaves by %s (a firewall or " \
           "switch that expects it on %s may drop it)." % (back, why, eg, ing)


def notes(path):
    """What else an operator should know about this path (ARP flux, disagreement)."""
    out = []
    arp = path["arp"]
    if path["family"] == 4 and arp and path["verdict"] != "symmetric" and \
            not arp["arp_ignore"] and not arp["arp_filter"]:
        out.append("arp_ignore and arp_filter are 0 on %s: the host answers ARP for %s on any "
                   "interface, so the request may arrive elsewhere (ARP flux); the verdict "
                   "assumes it arrives on %s." % (path["interface"], path["local_address"],
                                                  path["interface"]))
    kc = path["kernel_check"]
    if not kc["agrees"]:
        out.append("The kernel's own check (%s) disagrees: %s." % (
            " ".join(kc["argv"]), kc["output_or_error"] or "no output"))
    if path["dropped_by"] == "firewall":
        out.append("ip route get does not consult firewall rules; the kernel check only "
                   "covers rp_filter.")
    return out


def build_path(local, iface, peer, egress_check, kernel_check, kernel_argv, sysvals, rules,
               counter):
    """One path dict from the collected facts (all pure inputs)."""
    family = family_of(peer)
    egress = egress_check["dev"] if egress_check["ok"] else None
    if family == 4:
        rp, arp = effective_sysctls(sysvals, iface)
    else:
        rp, arp = None, None
    rules = sorted(applicable(rules, family, iface),
                   key=lambda r: (not r.get("counts", True), r["mode"] != "strict"))
    v, by = verdict(family, iface, egress, rp["effective"] if rp else None, rules)
    expects = kernel_expects_reject(family, v, rp["effective"] if rp else None)
    path = {
        "local_address": local, "interface": iface, "peer": peer, "family": family,
        "egress": egress, "verdict": v, "dropped_by": by,
        "rp_filter": rp, "arp": arp,
        "firewall_rpfilter": [r["rule"] for r in rules],
        "drop_counter": counter,
        "kernel_check": {"argv": list(kernel_argv), "ok": bool(kernel_check["ok"]),
                         "output_or_error": kernel_check["output_or_error"],
                         "expected": "rejected" if expects else "local",
                         "agrees": kernel_agrees(kernel_check, expects)},
    }
    if not egress_check["ok"]:
        path["egress_error"] = egress_check["output_or_error"]
    path["explanation"] = explain(path)
    path["notes"] = notes(path)
    return path


def summarize_paths(paths):
    out = dict((v, 0) for v in VERDICTS)
    for p in paths:
        out[p["verdict"]] += 1
    out["disagreements"] = sum(1 for p in paths if not p["kernel_check"]["agrees"])
    return out


# --------------------------------------------------------------------------- defaults

def default_peers(neighbours, routes, interfaces):
    """The neighbours on the internal ports (with a MAC, not link-local) and the default
    gateways, in order, without duplicates."""
    out = []
    for n in neighbours:
        if n.get("dev") in interfaces and n.get("mac") and n.get("ip"):
            out.append(n["ip"])
    for r in routes:
        if r.get("dst") == "default" and r.get("gateway"):
            out.append(r["gateway"])
    seen, peers = set(), []
    for ip in out:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            continue
        if addr.is_link_local or addr.is_multicast or str(addr) in seen:
            continue
        seen.add(str(addr))
        peers.append(str(addr))
    return peers
