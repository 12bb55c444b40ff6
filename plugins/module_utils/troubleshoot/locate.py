# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where an IP or a MAC lives on this host, from evidence gathered elsewhere: the OVSDB world
(libvirt's attached-mac on vnets, internal ports), the kernel (links, neighbour table), the FDB
of each vSwitch (already joined to port names and roles by fdb.join), and virsh's domiflist /
domifaddr where virsh exists. Pure: the module gathers, this decides. Also the parsers of
virsh's table output and the probe's argv.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import ParamError

LOCAL_ROLES = ("vnet", "internal")


# --------------------------------------------------------------------------- input

def normalize_ip(value):
    """An IPv4/IPv6 address (no prefix) in canonical form, or ValueError."""
    return str(ipaddress.ip_address(str(value).strip()))


def check_ip(value, option):
    """normalize_ip, or ParamError naming the option and the value."""
    try:
        return normalize_ip(value)
    except ValueError:
        raise ParamError(option, "%r is not an IPv4 or IPv6 address" % (value,)) from None


def ip_version(value):
    return ipaddress.ip_address(value).version


# --------------------------------------------------------------------------- virsh

def _rows(text):
    """The data rows of a virsh table (header and dashes skipped; -q output has neither)."""
    rows = []
    for line in (text or "").splitlines():
        s = line.strip()
        if not s or set(s) == {"-"}:
            continue
        if s.split()[0] in ("Interface", "Name"):
            continue
        rows.append(s.split())
    return rows


def parse_domiflist(text):
    """`virsh domiflist DOM` -> [{interface, type, source, model, mac}]."""
    out = []
    for f in _rows(text):
        if len(f) >= 5:
            out.append({"interface": f[0], "type": f[1], "source": f[2], "model": f[3],
                        "mac": f[4].lower()})
    return out


def parse_domifaddr(text):
    """`virsh domifaddr DOM [--source ...]` -> [{name, mac, protocol, address, prefix}].
    Continuation rows ('-  -  ipv6  ...') belong to the interface above them."""
    out = []
    name = mac = None
    for f in _rows(text):
        if len(f) != 4:
            continue
        if f[0] != "-":
            name, mac = f[0], f[1].lower()
        addr, _sep, prefix = f[3].partition("/")
        out.append({"name": name, "mac": mac, "protocol": f[2], "address": addr,
                    "prefix": int(prefix) if prefix.isdigit() else None})
    return out


# The order `virsh domifaddr --source` is tried in, per domain, until one gives addresses: the
# guest agent knows every address of the guest; the host's ARP table only those the host talked
# to; libvirt's leases only its own networks' DHCP (never a bridge-type interface's).
DOMIFADDR_SOURCES = ("agent", "arp", "lease")


def domifaddr_notes(said):
    """One note per source from [(source, domain, count of addresses or the error)], e.g.
    'virsh domifaddr --source arp: lv-a failed (internal error: wrong nlmsg len)'. More than
    three domains with the same answer are counted, not named."""
    notes = []
    for source in DOMIFADDR_SOURCES:
        groups = {}
        for src, dom, got in said:
            if src != source:
                continue
            if isinstance(got, int):
                key = "%d address(es)" % got if got else "no address"
            else:
                key = "failed (%s)" % got.splitlines()[-1] if got else "failed"
            groups.setdefault(key, []).append(dom)
        parts = []
        for key, doms in groups.items():
            who = ", ".join(doms) if len(doms) <= 3 else "%d domains" % len(doms)
            parts.append("%s %s" % (who, key))
        if parts:
            notes.append("virsh domifaddr --source %s: %s" % (source, "; ".join(parts)))
    return notes


# --------------------------------------------------------------------------- probe

def probe_argv(ip, dev, timeout):
    """One echo request from `dev` to `ip`, bounded: the kernel sends the ARP request / ND
    solicitation it needs first, which is what refreshes the neighbour table."""
    wait = max(1, min(int(timeout), 5))
    argv = ["ping", "-c", "1", "-W", str(wait), "-I", dev, ip]
    if ip_version(ip) == 6:
        argv.insert(1, "-6")
    return argv


def probe_device(world, ip):
    """The internal port (bridge-named link) with an address in the same subnet as `ip`."""
    addr = ipaddress.ip_address(ip)
    for name in sorted(world["bridges"]):
        for cidr in world["links"].get(name, {}).get("addresses", []):
            net = ipaddress.ip_interface(cidr).network
            if net.version == addr.version and addr in net:
                return name
    return None


# --------------------------------------------------------------------------- locate

def listen_argv(ips, device):
    """tcpdump printing the link-layer header of each packet sent BY any of ips on device (IP,
    ARP or IPv6: tcpdump's `src host` matches the ARP sender address too), one line each."""
    expr = []
    for ip in ips:
        expr += (["or"] if expr else []) + ["src", "host", ip]
    return ["tcpdump", "-i", device, "-n", "-e", "-l", "-Q", "in"] + expr


_HEARD = re.compile(r"^\S+\s+([0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}) > .*?, length \d+: (.*)$")
_ARP_SENDER = re.compile(r"(?:tell|Reply|Announcement) ([0-9a-fA-F.:]+)")
_IP_SENDER = re.compile(r"(?:^|, )([0-9a-fA-F.:]+) > [0-9a-fA-F.:]+: ")


def parse_heard(line):
    """(sender address as printed, source MAC) of a line `tcpdump -n -e` printed, or None:
    an ARP's sender protocol address (what `src host` matched), an IP packet's source without
    its port."""
    m = _HEARD.match(line.strip())
    if not m:
        return None
    mac, rest = m.group(1).lower(), m.group(2)
    sender = (_ARP_SENDER if ", ethertype ARP" in line else _IP_SENDER).search(rest)
    if not sender:
        return None
    addr = sender.group(1).rstrip(".:")
    if addr.count(".") == 4 or (":" in addr and "." in addr):   # a port after the address
        addr = addr.rsplit(".", 1)[0]
    return addr, mac


def macs_for_ip(ip, world, neighbours, domifaddr=(), heard=()):
    """{mac: [evidence]} for an IP: the neighbour table, virsh domifaddr, packets heard from it
    on a port (opt-in listen), and the host's own addresses on internal ports."""
    macs = {}
    for h in heard:
        macs.setdefault(h["mac"], []).append(
            "heard %s send from MAC %s on %s (listen)" % (ip, h["mac"], h["interface"]))
    for n in neighbours:
        if n.get("ip") and _same_ip(n["ip"], ip) and n.get("mac"):
            macs.setdefault(n["mac"], []).append(
                "neighbour table: %s lladdr %s dev %s %s" % (ip, n["mac"], n.get("dev"),
                                                             n.get("state")))
    for r in domifaddr:
        if r.get("address") and _same_ip(r["address"], ip) and r.get("mac"):
            macs.setdefault(r["mac"], []).append(
                "virsh domifaddr: domain %s interface %s has %s" % (
                    r.get("domain"), r.get("name"), ip))
    for name in world["bridges"]:
        link = world["links"].get(name, {})
        for cidr in link.get("addresses", []):
            if _same_ip(cidr.split("/")[0], ip) and link.get("mac"):
                macs.setdefault(link["mac"], []).append(
                    "host address %s on internal port %s" % (cidr, name))
    return macs


def attached_evidence(world, macs):
    """Add to {mac: [evidence]} the vnet whose libvirt attached-mac is that MAC."""
    for iname, iface in sorted(world["interfaces"].items()):
        m = (iface.get("external_ids", {}).get("attached-mac") or "").lower()
        port = world["ports"].get(iface.get("port") or "")
        if m in macs and port is not None:
            macs[m].append("libvirt attached-mac %s on interface %s of %s" % (
                m, iname, port["bridge"]))
    return macs


VM_KEYS = ("vm-id", "vm-uuid", "iface-id")


def vm_macs(world, vm, domiflist=(), names=()):
    """{mac: [evidence]} of a VM given as what an operator knows: a libvirt domain name or UUID
    (libvirt writes the UUID as vm-id on the vnets it plugs) or an interface's iface-id.
    domiflist rows carry their 'domain'; `names` are that domain's name and UUID as virsh
    gave them (empty without virsh, or when the domain is not on this host)."""
    want = vm.strip().lower()
    macs = {}
    for iname, iface in sorted(world["interfaces"].items()):
        ids = iface.get("external_ids", {})
        mac = (ids.get("attached-mac") or "").lower()
        for key in VM_KEYS:
            if mac and (ids.get(key) or "").lower() == want:
                macs.setdefault(mac, []).append(
                    "OVSDB: interface %s has %s=%s and attached-mac %s" % (
                        iname, key, ids[key], mac))
    wanted = {want} | {n.lower() for n in names}
    for row in domiflist:
        if (row.get("domain") or "").lower() in wanted and row.get("mac"):
            macs.setdefault(row["mac"], []).append(
                "virsh domiflist %s: interface %s (source %s) has MAC %s" % (
                    row["domain"], row.get("interface"), row.get("source"), row["mac"]))
    return macs


def locate_macs(world, fdbs, role_of, what, macs, neighbours=(), domiflist=(), domifaddr=()):
    """Where the MACs of one thing (a VM's NICs, or one MAC) live, merged: {found, locations,
    summary, macs, ips}; `macs` is {mac: [evidence]}, `ips` the addresses the neighbour table
    and virsh domifaddr give those MACs."""
    locations = []
    for mac in sorted(macs):
        res = locate(world, fdbs, role_of, mac=mac, neighbours=neighbours, domiflist=domiflist,
                     domifaddr=domifaddr)
        for loc in res["locations"]:
            if loc["local"]:       # what names the VM is evidence of its home, not of an uplink
                loc["evidence"] = list(dict.fromkeys(macs[mac] + loc["evidence"]))
            locations.append(loc)
    ips = sorted({n["ip"] for n in neighbours if n.get("mac") in macs and n.get("ip")}
                 | {r["address"] for r in domifaddr if r.get("mac") in macs
                    and r.get("address")})
    locations.sort(key=lambda x: (not x["local"], x["vswitch"] or "", x["port"] or ""))
    text = summary(what, locations, macs)
    if ips:
        text += " Its address(es): %s." % ", ".join(ips)
    domains = sorted({loc["domain"] for loc in locations if loc.get("domain")})
    return {"found": bool(locations), "locations": locations, "summary": text,
            "macs": sorted(macs), "ips": ips, "domain": domains[0] if len(domains) == 1 else None}


def _same_ip(a, b):
    try:
        return ipaddress.ip_address(a.split("%")[0]) == ipaddress.ip_address(b)
    except ValueError:
        return False


def _port_vlan(world, pname):
    port = world["ports"].get(pname) or {}
    return port.get("tag")


def locate(world, fdbs, role_of, ip=None, mac=None, neighbours=(), domiflist=(),
           domifaddr=(), heard=()):
    """{found, locations, summary}. fdbs: {bridge: [joined entry]}; domiflist / domifaddr rows
    carry their 'domain'. Exactly one of ip / mac (normalised)."""
    if ip is not None:
        macs = macs_for_ip(ip, world, neighbours, domifaddr, heard)
    else:
        macs = {mac: ["neighbour table: %s lladdr %s dev %s %s" % (
            n["ip"], mac, n.get("dev"), n.get("state")) for n in neighbours
            if n.get("mac") == mac and n.get("ip")]}
        ips = sorted(set(n["ip"] for n in neighbours if n.get("mac") == mac and n.get("ip")))
        ip = ips[0] if len(ips) == 1 else None
    locs = {}

    def add(bridge, pname, role, m, evidence, vlan=None):
        key = (bridge, pname)
        loc = locs.get(key)
        if loc is None:
            loc = locs[key] = {"vswitch": bridge, "port": pname, "role": role, "mac": m,
                               "ip": ip, "vlan": vlan, "local": role in LOCAL_ROLES,
                               "domain": None, "evidence": list(macs.get(m, []))}
        if loc["vlan"] is None:
            loc["vlan"] = vlan
        for e in evidence:
            if e not in loc["evidence"]:
                loc["evidence"].append(e)

    for m in sorted(macs):
        for iname, iface in sorted(world["interfaces"].items()):
            ids = iface.get("external_ids", {})
            if (ids.get("attached-mac") or "").lower() != m or not iface.get("port"):
                continue
            pname = iface["port"]
            port = world["ports"].get(pname, {})
            ev = "libvirt attached-mac %s on interface %s" % (m, iname)
            if ids.get("vm-id") or ids.get("vm-uuid"):
                ev += " (vm %s)" % (ids.get("vm-id") or ids.get("vm-uuid"))
            add(port.get("bridge"), pname, role_of(pname), m, [ev], _port_vlan(world, pname))
        for name in world["bridges"]:
            if world["links"].get(name, {}).get("mac") == m and name in world["ports"]:
                add(name, name, role_of(name), m,
                    ["MAC %s is internal port %s's own" % (m, name)], _port_vlan(world, name))
        for row in domiflist:
            if row.get("mac") != m:
                continue
            pname = row.get("interface")
            ev = "virsh domiflist: domain %s interface %s (source %s) has MAC %s" % (
                row.get("domain"), pname, row.get("source"), m)
            if pname in world["ports"]:
                add(world["ports"][pname]["bridge"], pname, role_of(pname), m, [ev],
                    _port_vlan(world, pname))
                locs[(world["ports"][pname]["bridge"], pname)]["domain"] = row.get("domain")
            else:
                for loc in locs.values():
                    if loc["mac"] == m:
                        loc["evidence"].append(ev)
        for bridge in sorted(fdbs):
            for e in fdbs[bridge]:
                if e["mac"] != m:
                    continue
                ev = "FDB of %s: %s on port %s (%s), VLAN %d, %s" % (
                    bridge, m, e["port"], e.get("port_name") or "unknown port", e["vlan"],
                    "static" if e["static"] else "age %s s" % e["age"])
                role = e.get("role")
                pname = e.get("port_name") or e["port"]
                if role == "uplink":
                    ev += "; learned via uplink %s" % pname
                add(bridge, pname, role, m, [ev], e["vlan"])
    locations = sorted(locs.values(), key=lambda x: (not x["local"], x["vswitch"] or "",
                                                     x["port"] or ""))
    return {"found": bool(locations), "locations": locations,
            "summary": summary(mac if mac is not None else ip, locations, macs)}


def summary(what, locations, macs):
    """One sentence."""
    local = [x for x in locations if x["local"]]
    remote = [x for x in locations if not x["local"]]
    if local:
        parts = ["%s port %s on %s (MAC %s%s)" % (
            x["role"], x["port"], x["vswitch"], x["mac"],
            ", VLAN %s" % x["vlan"] if x["vlan"] else "") for x in local]
        s = "%s lives on this host: %s" % (what, "; ".join(parts))
        if remote:
            s += "; it is also learned via %s" % ", ".join(
                "%s %s on %s" % (x["role"] or "port", x["port"], x["vswitch"]) for x in remote)
        return s + "."
    if remote:
        return "%s is not on this host: %s." % (what, "; ".join(
            "%s learned it via %s %s (MAC %s, VLAN %s)" % (
                x["vswitch"], x["role"] or "port", x["port"], x["mac"], x["vlan"])
            for x in remote))
    if macs and any(macs.values()):
        return "%s resolves to %s but that MAC is in no FDB, attached-mac or internal port " \
               "here (not found)." % (what, ", ".join(sorted(macs)))
    return "%s was not found on this host (no neighbour entry, attached-mac, internal port " \
           "or FDB entry)." % what
