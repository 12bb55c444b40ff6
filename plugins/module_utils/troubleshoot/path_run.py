# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""path_check on a host: the reads (firewall rules, the drop counter, `ip -j route get` both
ways, the rp_filter sysctls) that routes.py turns into a verdict per address and peer."""

from __future__ import annotations

import json
import time

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import ParamError
from ansible_collections.cloudnet.vswitch.plugins.module_utils.host import files, kernel
from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import mtu
from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot.routes import (
    DROP_COUNTER,
    FIREWALLD_CONF,
    build_path,
    default_peers,
    family_of,
    local_address,
    parse_firewalld_conf,
    parse_iptables_rpfilter,
    parse_nft_rpfilter,
    parse_nstat,
    parse_proc_netstat,
    parse_route_get,
    summarize_paths,
    sysctl_paths,
    validate_interfaces,
    validate_peers,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.validate import check_ifname
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.world import (
    ROLE_INTERNAL,
    port_role,
)


def firewall_rules(run, read, which):
    """Every reverse-path firewall rule this host has, from each tool that exists."""
    rules = []
    if which("nft"):
        rc, out, _err = run([which("nft"), "-j", "list", "ruleset"])
        if rc == 0:
            try:
                rules += parse_nft_rpfilter(json.loads(out or "{}"))
            except ValueError:
                pass
    for tool, family in (("iptables-save", 4), ("ip6tables-save", 6)):
        if which(tool):
            rc, out, _err = run([which(tool)])
            if rc == 0:
                rules += parse_iptables_rpfilter(out, family)
    conf = read(FIREWALLD_CONF)
    fwd = parse_firewalld_conf(conf) if conf else None
    # firewalld writes its rule into nftables; the file alone counts only where the ruleset
    # cannot be read (firewalld may be installed but not running).
    if fwd and which("nft"):
        fwd = dict(fwd, counts=False, rule=fwd["rule"] + ", not counted: the nftables ruleset "
                   "shows what firewalld enforces")
    if fwd:
        rules.append(fwd)
    return rules


def drop_counter(run, read, which):
    """TcpExtIPReversePathFilter of this network namespace, or None."""
    value = parse_proc_netstat(read("/proc/net/netstat"))
    if value is None and which("nstat"):
        # -s: do not update nstat's history file (we only read).
        rc, out, _err = run([which("nstat"), "-a", "-s", "-z", "-j", DROP_COUNTER])
        if rc == 0:
            value = parse_nstat(out)
    return value


def route_get(run, argv):
    rc, out, err = run(list(argv))
    return parse_route_get(rc, out, err)


def paths(world, internal, run, read, which, interfaces=None, peers=None,
          neighbours=None):
    """Every path for the internal ports (or `interfaces`) and the peers (or the defaults).

    internal: names of the internal ports; peers: validated (routes.validate_peers);
    neighbours: parsed `ip neigh` (the default peers, and each path's peer_neighbours)."""
    names = validate_interfaces(interfaces, internal)
    neighbours = neighbours or []
    peers = peers or default_peers(neighbours, world.get("routes", []), names)
    rules = firewall_rules(run, read, which)
    counter = drop_counter(run, read, which)
    local_ips = set()
    for link in world["links"].values():
        local_ips.update(local_address(a) for a in link.get("addresses", []))
    found = []
    for iface in names:
        link = world["links"].get(iface) or {}
        sysvals = dict((p, read("/proc/sys/" + p)) for p in sysctl_paths(iface))
        for cidr in link.get("addresses", []):
            local = local_address(cidr)
            fam = family_of(local)
            for peer in peers:
                if family_of(peer) != fam or peer in local_ips:
                    continue
                egress = route_get(run, ["ip", "-j", "route", "get", peer, "from", local])
                kargv = ["ip", "-j", "route", "get", local, "from", peer, "iif", iface]
                kcheck = route_get(run, kargv)
                path = build_path(local, iface, peer, egress, kcheck, kargv, sysvals, rules,
                                  counter)
                # a fact, not a verdict: where the host has met the peer (the reports make a
                # finding of a path only with evidence that its request really arrives there)
                path["peer_neighbours"] = [
                    {"dev": n["dev"], "mac": n["mac"], "state": n["state"]}
                    for n in neighbours if n.get("ip") == peer]
                found.append(path)
    return {"paths": found, "summary": summarize_paths(found), "peers": peers,
            "interfaces": names, "drop_counter": counter}


def collect(host):
    """path_check on a host: every internal port's addresses (or `interfaces`) against the
    peers (or the neighbours and gateways it knows)."""
    p = host.params
    for i, name in enumerate(p["interfaces"] or []):
        check_ifname(name, "interfaces[%d]" % i)
    peers = validate_peers(p["peers"])
    world = host.read_world()
    internal = sorted(n for n in world["ports"] if port_role(world, n) == ROLE_INTERNAL)
    if not 0 <= p["watch"] <= 60:
        raise ParamError("watch", "%r is not a number of seconds from 0 to 60" % p["watch"])
    mtu_peers = _mtu_peers(p.get("mtu_peers") or {}, internal)
    neigh = kernel.neighbours(host.run)

    def read(path):
        return files.read_text(path, None)

    out = paths(world, internal, host.run, read, host.which, interfaces=p["interfaces"],
                peers=peers, neighbours=neigh)
    watched = [x for x in out["paths"] if x["dropped_by"] == "rp_filter"]
    for x in out["paths"]:
        x["drop_counter_rise"] = x["drop_counter_window"] = None
    out["mtu_probes"] = _mtu_probes(host, world, mtu_peers)
    if p["watch"] and watched and out["drop_counter"] is not None:
        time.sleep(p["watch"])
        after = drop_counter(host.run, read, host.which)
        for x in watched:
            x["drop_counter_rise"] = None if after is None else after - out["drop_counter"]
            x["drop_counter_window"] = p["watch"]
    return out


def _mtu_peers(asked, internal):
    """`mtu_peers` checked before anything is probed: {internal port: [peer address]}."""
    out = {}
    for name in sorted(asked):
        if name not in internal:
            raise ParamError("mtu_peers.%s" % name, "%r is not the internal port of a vSwitch "
                             "on this host (internal ports: %s)" % (
                                 name, ", ".join(internal) or "none"))
        try:
            out[name] = validate_peers(asked[name] or [])
        except ParamError as exc:
            raise ParamError("mtu_peers.%s%s" % (name, exc.path[len("peers"):]),
                             exc.msg) from None
    return out


def _mtu_probes(host, world, peers):
    """DF probes from each internal port to its peers (mtu.py), up to the port's MTU as the
    kernel has it."""
    return [mtu.probe(host.run, name, (world["links"].get(name) or {}).get("mtu"), peer)
            for name in sorted(peers) for peer in peers[name]]
