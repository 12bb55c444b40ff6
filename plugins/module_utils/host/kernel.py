# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel side of a host, read with `ip -j` (JSON, never scraped text) and changed with
`ip` argv lists: links with their MAC, master, state and addresses, and the main table's routes.

`run` is a callable argv -> (rc, stdout, stderr), e.g. AnsibleModule.run_command, so the parsers
below are pure and unit-tested on captured JSON.
"""

from __future__ import annotations

import json

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import KernelError

# Routes that follow an address when it moves (proto kernel ones come back with the address).
_NOT_MIGRATED_PROTOS = ("kernel", "ra")


def _ip_json(run, argv):
    rc, out, err = run(["ip", "-j"] + argv)
    if rc != 0:
        raise KernelError(["ip", "-j"] + argv, rc, err)
    return json.loads(out or "[]")


def parse_links(addr_json):
    """`ip -j address show` -> {ifname: {mac, master, up, operstate, mtu, addresses, dynamic}}.
    Addresses are the scope-global ones as CIDR strings (link-local ones never move); `dynamic`
    are those of them with a lifetime (SLAAC, privacy, a DHCP lease): the kernel or a DHCP
    client keeps them, no configuration does."""
    links = {}
    for link in addr_json:
        found = [("%s/%d" % (a["local"], a["prefixlen"]), bool(a.get("dynamic")))
                 for a in link.get("addr_info", []) if a.get("scope") == "global" and "local" in a]
        addrs = sorted(addr for addr, _dyn in found)
        links[link["ifname"]] = {
            "mac": (link.get("address") or "").lower() or None,
            "master": link.get("master"),
            "up": "UP" in link.get("flags", []),
            "operstate": link.get("operstate"),
            "mtu": link.get("mtu"),
            "addresses": addrs,
            "dynamic": sorted(addr for addr, dyn in found if dyn),
        }
    return links


def parse_routes(route_json, family):
    """`ip -j route show table main` -> [{dst, dev, gateway, metric, protocol, family,
    migrate}]; migrate is True for the routes that must follow a NIC's addresses."""
    routes = []
    for r in route_json:
        if r.get("type", "unicast") != "unicast" or "dev" not in r:
            continue
        dst = r.get("dst", "default")
        if family == 6 and (dst.startswith("fe80:") or dst.startswith("ff")):
            continue
        routes.append({
            "dst": dst, "dev": r["dev"], "gateway": r.get("gateway"),
            "metric": r.get("metric"), "protocol": r.get("protocol", "boot"),
            "family": family,
            "migrate": r.get("protocol", "boot") not in _NOT_MIGRATED_PROTOS,
        })
    return routes


def parse_neighbours(neigh_json):
    """`ip -j neigh show` -> [{ip, dev, mac, state}] (entries without a MAC are kept, with
    mac None: INCOMPLETE / FAILED say something too)."""
    out = []
    for n in neigh_json:
        out.append({"ip": n.get("dst"), "dev": n.get("dev"),
                    "mac": (n.get("lladdr") or "").lower() or None,
                    "state": (n.get("state") or ["NONE"])[0] if isinstance(n.get("state"), list)
                    else n.get("state")})
    return out


def neighbours(run):
    return parse_neighbours(_ip_json(run, ["neigh", "show"]))


def all_links(run):
    """Every link with its MAC, master, state and addresses (`ip -j address show`)."""
    return parse_links(_ip_json(run, ["address", "show"]))


def read(run):
    """Every link with its addresses and every route of the main table, in three `ip -j`
    calls (what the read-only modules show)."""
    links = all_links(run)
    routes = parse_routes(_ip_json(run, ["route", "show", "table", "main"]), 4)
    routes += parse_routes(_ip_json(run, ["-6", "route", "show", "table", "main"]), 6)
    return links, routes


def parse_link_names(proc_net_dev):
    """/proc/net/dev -> the names of the network devices it lists (two header lines, then
    `NAME: counters` per device; a device name never holds a colon)."""
    return [line.split(":", 1)[0].strip() for line in proc_net_dev.splitlines()[2:]
            if ":" in line]


def link_names(path="/proc/net/dev"):
    """The names of every network device of this process's network namespace: /proc/net is
    per namespace, and one read of it costs nothing, where `ip -j link show` formats every
    device (0.6 MB of JSON and 40 ms for 1,000 vnets and their veth peers)."""
    with open(path) as f:
        return parse_link_names(f.read())


def _ip_json_dev(run, argv, dev):
    """`ip -j ARGV dev DEV`; None when DEV vanished since it was listed."""
    rc, out, err = run(["ip", "-j"] + argv + ["dev", dev])
    if rc != 0:
        if "does not exist" in err or "Cannot find device" in err:
            return None
        raise KernelError(["ip", "-j"] + argv + ["dev", dev], rc, err)
    return json.loads(out or "[]")


def read_some(run, names, route_names=(), present=None):
    """The kernel facts a plan needs, and not the ones it does not: every link by name (the
    tap of a vnet whose VM runs exists; `present`, by default link_names()), the MAC, master,
    state and addresses of the links in `names` only (internal ports, uplink NICs: `ip -j
    address show dev X`), and the main table's routes of the links in `route_names` only (`ip
    -j [-6] route show table main dev X`). `ip -j address show` and `ip -j -6 route show` list
    every vnet's link-local address and route: 1 MB of JSON at 1,000 vnets. A link read by name
    only is {} in `links`. Returns (links, routes) like read()."""
    present = link_names() if present is None else present
    links = dict.fromkeys(present)
    for name in sorted(set(names) & set(links)):
        addr = _ip_json_dev(run, ["address", "show"], name)
        if addr:
            links.update(parse_links(addr))
        else:                        # gone since it was listed
            del links[name]
    routes = []
    for name in sorted(set(route_names) & set(links)):
        for family, argv in ((4, ["route", "show", "table", "main"]),
                             (6, ["-6", "route", "show", "table", "main"])):
            found = _ip_json_dev(run, argv, name) or []
            # `dev X` leaves the device out of each route; a multipath route (nexthops) stays
            # out, as in read()
            routes += parse_routes([dict(r, dev=name) for r in found if "nexthops" not in r],
                                   family)
    return {name: link or {} for name, link in links.items()}, routes


def route_replace_argv(route, dev):
    """`ip [-6] route replace DST [via GW] dev DEV [metric M]` for a parsed route, on `dev`
    (a migration moves it onto the internal port; an undo puts it back)."""
    argv = ["ip"] + (["-6"] if route.get("family") == 6 else [])
    argv += ["route", "replace", route["dst"]]
    if route.get("gateway"):
        argv += ["via", route["gateway"]]
    argv += ["dev", dev]
    if route.get("metric") is not None:
        argv += ["metric", str(route["metric"])]
    return argv


def apply(run, commands):
    """Run the planner's `ip` argv lists in order; stop at the first failure."""
    for argv in commands:
        rc, _out, err = run(list(argv))
        if rc != 0:
            raise KernelError(argv, rc, err)


def wait_for_links(run, names, timeout, sleep):
    """Wait until ovs-vswitchd has created the internal ports' kernel devices."""
    import time

    end = time.monotonic() + timeout
    while True:
        links = parse_links(_ip_json(run, ["address", "show"]))
        missing = [n for n in names if n not in links]
        if not missing:
            return links
        if time.monotonic() >= end:
            raise KernelError(["ip", "link", "show"] + missing, 1,
                              "ovs-vswitchd did not create %s within %ss" % (
                                  ", ".join(missing), timeout))
        sleep(0.05)
