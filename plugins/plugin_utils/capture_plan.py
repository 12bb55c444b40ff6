# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where to capture, across the fleet, for collect_captures.yml: pure, from what `locate` and
`vswitch_info` returned per host. The address's own port (a VM's vnet or an internal port), its
vSwitch's uplink and internal port; each peer's own port (its vnet or internal port) and the
uplink that carries it, on the host that holds it (the same host or another), so that both
ends of every conversation are watched; or, where it lives on no host, the uplinks that learned
it; and where no host knows it at all (a VM that has sent nothing), every uplink and internal
port of the chosen hosts: the capture goes wide instead of giving up, and the report says
where it showed up, or that it sent nothing."""

from __future__ import annotations


def _ports(vswitches, name):
    vs = next((v for v in vswitches if v["name"] == name), None)
    if vs is None:
        return None, None
    uplink = next((p["name"] for p in vs["ports"] if p["role"] == "uplink"), None)
    internal = next((p["name"] for p in vs["ports"] if p["role"] == "internal"), None)
    return uplink, internal


def hosts_plan(address, hosts, peers=(), only_hosts=(), interfaces=()):
    """hosts: {host: {"locate": {address: locate result}, "vswitches": [...]}}.

    Returns {"hosts": {host: {interface: why}}, "located": [{host, ...location}],
    "peers_located": [{host, ip, ...location}] (where each peer lives), "notes": [str],
    "wide": bool}. Raises ValueError with a sentence when there is nothing to
    capture (a host asked for that is not in the play; no vSwitch with a port anywhere)."""
    out, located, notes, down = {}, [], [], []
    is_down = {(host, port["name"]) for host, data in hosts.items()
               for vs in data.get("vswitches", []) for port in vs["ports"]
               if port.get("link_state") == "down"}

    def add(host, iface, why):
        if not iface:
            return
        if (host, iface) in is_down:
            if "%s:%s" % (host, iface) not in down:
                down.append("%s:%s" % (host, iface))
            return
        out.setdefault(host, {}).setdefault(iface, why)

    for host, data in sorted(hosts.items()):
        for loc in (data.get("locate", {}).get(address) or {}).get("locations", []):
            located.append(dict(loc, host=host))
    local = [loc for loc in located if loc.get("local")]
    for loc in local:
        uplink, internal = _ports(hosts[loc["host"]].get("vswitches", []), loc["vswitch"])
        add(loc["host"], loc["port"],
            "%s's %s port on %s" % (address, loc["role"], loc["vswitch"]))
        add(loc["host"], uplink, "the uplink of %s, where %s lives" % (loc["vswitch"], address))
        add(loc["host"], internal, "the internal port of %s" % loc["vswitch"])
    if not local:
        for loc in located:
            add(loc["host"], loc["port"], "%s was learned here (%s)" % (address, loc["role"]))
        if located:
            notes.append("%s lives on none of these hosts; capturing where it was learned"
                         % address)
    peer_homes = []
    for peer in peers:
        for host, data in sorted(hosts.items()):
            for loc in (data.get("locate", {}).get(peer) or {}).get("locations", []):
                if loc.get("local"):
                    peer_homes.append(dict(loc, host=host, ip=peer))
                    uplink, _internal = _ports(data.get("vswitches", []), loc["vswitch"])
                    # where the peer lives too, so that a request delivered to it (or its
                    # reply) is seen there, on its host as on another
                    add(host, loc.get("port"), "peer %s's %s port on %s" % (
                        peer, loc.get("role"), loc["vswitch"]))
                    add(host, uplink, "the uplink that carries peer %s" % peer)
    if only_hosts:
        missing = [h for h in only_hosts if h not in hosts]
        if missing:
            raise ValueError("capture_hosts: %s not in the play's hosts" % ", ".join(missing))
        out = {h: out.get(h, {}) for h in only_hosts}
    if interfaces:
        out = {h: {i: "asked for (interfaces)" for i in interfaces} for h in (out or hosts)}
    out = {h: i for h, i in out.items() if i}
    wide = not out and not interfaces
    if wide:
        chosen = list(only_hosts) or sorted(hosts)
        for host in chosen:
            for vs in hosts[host].get("vswitches", []):
                for port in vs["ports"]:
                    if port["role"] in ("uplink", "internal"):
                        add(host, port["name"], "every uplink and internal port (%s was found "
                            "on no host)" % address)
        out = {h: i for h, i in out.items() if i}
    if down:
        notes.append("not captured because they are down (nothing passes them): %s"
                     % ", ".join(down))
    if wide:
        notes.append("%s was found on no host (no vnet, internal port, FDB, neighbour or "
                     "libvirt entry, nothing heard from it): capturing wide, on every uplink "
                     "and internal port of %d host(s)" % (address, len(out)))
    if not out:
        raise ValueError("host_ip %s was found on no host, and the host(s) %s have no vSwitch "
                         "port to capture on: give -e capture_hosts=... -e interfaces=..."
                         % (address, ", ".join(list(only_hosts) or sorted(hosts)) or "-"))
    return {"hosts": out, "located": located, "peers_located": peer_homes, "notes": notes,
            "wide": wide}


def file_count(plan_hosts, hosts):
    """How many capture files the plan makes: one per interface, one per member of a bond."""
    n = 0
    for host, interfaces in plan_hosts.items():
        ports = {p["name"]: p for vs in hosts.get(host, {}).get("vswitches", [])
                 for p in vs["ports"]}
        for name in interfaces:
            members = ((ports.get(name) or {}).get("bond") or {}).get("members") or []
            n += max(len(members), 1)
    return n


def bytes_per_file(max_bytes, budget, files):
    """(the byte limit for each capture file, a note or None): max_bytes, lowered so that the
    files together stay within the fleet-wide budget (a wide capture has many)."""
    if not files or not budget or max_bytes * files <= budget:
        return max_bytes, None
    each = max(budget // files, 1)
    return each, ("each of the %d capture files is limited to %d bytes (max_bytes %d) so that "
                  "together they stay within the budget of %d bytes" % (
                      files, each, max_bytes, budget))


def follow(hosts, key, kind="host_ip"):
    """What the captures filter on, for what the operator gave (kind host_ip, host_mac or vm;
    key the value as given, the key of each host's locate answer): {"filter": an IP or MAC,
    "ips": the addresses known for it (for the reverse-path checks), "notes": [str]}. A VM is
    followed by its NIC's MAC (its DHCP and ARP too, even before it has an address). Raises
    ValueError with a sentence for a VM that no host knows."""
    if kind == "host_ip":
        return {"filter": key, "ips": [key], "notes": []}
    macs, ips, where = set(), set(), []
    for host, data in sorted(hosts.items()):
        res = data.get("locate", {}).get(key) or {}
        macs.update(res.get("macs") or [])
        ips.update(res.get("ips") or [])
        where += ["%s %s on %s" % (host, loc["port"], loc["vswitch"])
                  for loc in res.get("locations") or [] if loc.get("local")]
    if not macs:
        answers = [d.get("locate", {}).get(key) or {} for d in hosts.values()]
        no_virsh = bool(answers) and all(
            any(n.startswith("virsh is not installed") for n in a.get("notes") or [])
            for a in answers)
        then = ("virsh is installed on none of the hosts, so a domain name cannot be looked "
                "up: give its UUID (libvirt's vm-id) or -e host_mac=..." if no_virsh else
                "check the name with virsh list --all, or give -e host_mac=...")
        raise ValueError("vm %s: no host knows it (no vnet with that vm-id, vm-uuid or iface-id "
                         "in OVSDB, no libvirt domain of that name or UUID where virsh is "
                         "installed): %s" % (key, then))
    mac = sorted(macs)[0]
    notes = []
    if kind == "vm":
        notes.append("vm %s: MAC %s%s%s" % (
            key, ", ".join(sorted(macs)), ", at %s" % ", ".join(where) if where else "",
            ", address(es) %s" % ", ".join(sorted(ips)) if ips else ", no address known"))
    if len(macs) > 1:
        notes.append("following %s only (ether host): run again with -e host_mac= for %s"
                     % (mac, ", ".join(sorted(macs)[1:])))
    return {"filter": mac, "ips": sorted(ips), "notes": notes}
