# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host's own network configuration, made to agree with its vSwitches: a NIC that became
a vSwitch's uplink carries no address of its own, so what configures it there (a static
address, DHCP) would put one back at the next boot. ifupdown: its stanzas are commented out,
marked, and the NIC's name taken off its auto / allow-* lines. netplan: its addressing keys are
removed from its entry. The collection's own file brings the NIC up."""

from __future__ import annotations

import configparser
import ipaddress
import re

import yaml

# interfaces(5): the words that start a stanza; every other line belongs to the iface above.
STANZAS = ("iface", "mapping", "auto", "source", "source-directory", "rename", "no-auto-down",
           "no-scripts")
MARK = "# cloudnet.vswitch: %s is the uplink of %s; its own configuration below is off\n"


def _starts_stanza(words):
    return bool(words) and (words[0] in STANZAS or words[0].startswith("allow-"))


# Options of a released stanza that the collection does not persist elsewhere (the model has
# addresses, not routes nor resolvers): the operator is told they are lost at the next boot.
LOST_OPTIONS = ("gateway", "dns-nameservers", "dns-search", "up", "post-up", "pre-up")


def release(text, uplinks):
    """(text, released, lost): ``text`` (an interfaces(5) file) with every stanza configuring
    one of ``uplinks`` ({nic: vswitch}) commented out, the NICs whose stanzas were, and the
    options of those stanzas nothing persists any more ('eth0: gateway 198.51.100.1').
    Idempotent: what is commented out stays so and is not counted again."""
    out, released, lost, block = [], [], [], None
    for line in text.splitlines(True):
        words = line.split()
        if _starts_stanza(words):
            block = None
            if words[0] == "iface" and len(words) > 1 and words[1] in uplinks:
                block = words[1]
                released.append(words[1])
                out += [MARK % (words[1], uplinks[words[1]]), "# " + line]
                continue
            if words[0] != "iface" and words[0] not in ("mapping", "source",
                                                        "source-directory", "rename") and \
                    any(w in uplinks for w in words[1:]):
                keep = [w for w in words[1:] if w not in uplinks]
                out.append("# " + line)
                if keep:
                    out.append(" ".join([words[0]] + keep) + "\n")
                continue
        elif block and words and not words[0].startswith("#"):
            if words[0] in LOST_OPTIONS:
                lost.append("%s: %s" % (block, " ".join(words)))
            out.append("# " + line)
            continue
        out.append(line)
    return "".join(out), sorted(set(released)), lost


# --------------------------------------------------------------------------- netplan

# What gives an interface an address or a route in netplan. netplan merges files by appending
# lists, so the collection's own file cannot take these away: they are removed where they are.
NETPLAN_ADDRESSING = ("addresses", "dhcp4", "dhcp6", "gateway4", "gateway6", "routes",
                      "routing-policy", "nameservers", "accept-ra")


NETPLAN_LOST = ("routes", "gateway4", "gateway6", "routing-policy", "nameservers")


def _said(value):
    """A netplan value in words: routes as 'default via 198.51.100.1', maps as k v."""
    if isinstance(value, list):
        return ", ".join(_said(v) for v in value)
    if isinstance(value, dict):
        if "to" in value or "via" in value:
            return " ".join(str(x) for x in (value.get("to"), "via" if value.get("via") else
                                             None, value.get("via")) if x)
        return ", ".join("%s %s" % (k, _said(v)) for k, v in value.items())
    return str(value)


def netplan_release(doc, uplinks):
    """(doc, released, lost): a netplan YAML document (a dict) with the addressing of the
    uplinks ({nic: vswitch}) removed from its ethernets (by id, or by set-name), the NICs whose
    entries changed, and what of it nothing persists any more ('eth0: routes ...'). The entry
    stays (its match and other settings), so the NIC keeps its name and is still brought up."""
    released, lost = [], []
    network = (doc or {}).get("network") if isinstance(doc, dict) else None
    ethernets = (network.get("ethernets") if isinstance(network, dict) else None) or {}
    if not isinstance(ethernets, dict):
        return doc, [], []
    for key, entry in ethernets.items():
        if not isinstance(entry, dict):
            continue
        nic = entry.get("set-name") or key
        if nic not in uplinks:
            continue
        gone = [k for k in NETPLAN_ADDRESSING if k in entry]
        lost += ["%s: %s %s" % (nic, k, _said(entry[k])) for k in gone if k in NETPLAN_LOST]
        for k in gone:
            del entry[k]
        if gone:
            released.append(nic)
    return doc, sorted(set(released)), lost


# ------------------------------------------------------------- what comes back at boot

def _cidr(address, netmask=None):
    """'203.0.113.1/24' however the file says it (a prefix, or a separate netmask); the text as
    it is when it is no address (then it differs from every live one, as it should)."""
    text = str(address).strip()
    try:
        if netmask and "/" not in text:
            text = "%s/%s" % (text, netmask)
        return str(ipaddress.ip_interface(text))
    except ValueError:
        return text


def _global(addresses):
    """The addresses as the live side has them: link-local ones (fe80::/10) never move, and
    vswitch_info does not list them."""
    out = []
    for a in addresses:
        try:
            if ipaddress.ip_interface(a).ip.is_link_local:
                continue
        except ValueError:
            pass
        out.append(a)
    return sorted(out)


def _ifupdown_boot(text, name):
    up, stanzas, current = set(), [], None
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if _starts_stanza(words):
            current = None
            if words[0] == "auto" or words[0].startswith("allow-"):
                up.update(words[1:])
            elif words[0] == "iface" and len(words) > 1 and words[1] == name:
                current = {"address": [], "netmask": [None]}
                stanzas.append(current)
        elif current is not None and words[0] in current and len(words) > 1:
            current[words[0]].append(words[1])
    # an interface that no auto / allow-* line names is not brought up at boot
    addresses = [_cidr(a, st["netmask"][-1]) for st in stanzas for a in st["address"]]
    return {"addresses": _global(addresses) if name in up else [],
            "uplinks": sorted(up - {name, "lo"})}


def _netplan_boot(text, name):
    doc = yaml.safe_load(text) or {}
    ethernets = ((doc.get("network") or {}).get("ethernets") or {}) if isinstance(doc, dict) \
        else {}
    if not isinstance(ethernets, dict):
        raise ValueError("network.ethernets is not a map")
    entry = ethernets.get(name) or {}
    listed = entry.get("addresses") or [] if isinstance(entry, dict) else []
    if not isinstance(listed, list):
        raise ValueError("network.ethernets.%s.addresses is not a list" % name)
    # netplan's addresses: strings, or {address: {lifetime, label}} maps
    addresses = [_cidr(next(iter(a)) if isinstance(a, dict) else a) for a in listed]
    uplinks = sorted((e.get("set-name") if isinstance(e, dict) else None) or k
                     for k, e in ethernets.items() if k != name)
    return {"addresses": _global(addresses), "uplinks": uplinks}


def _keyfile_boot(text, name):
    conf = configparser.ConfigParser(interpolation=None, strict=False)
    conf.read_string(text)
    autoconnect = conf.get("connection", "autoconnect", fallback="true").lower()
    if conf.get("connection", "interface-name", fallback=name) != name or \
            autoconnect in ("false", "no", "0"):
        return {"addresses": [], "uplinks": None}
    addresses = []
    for family, plen in (("ipv4", 24), ("ipv6", 64)):
        if conf.get(family, "method", fallback="") != "manual":
            continue
        for key, value in conf.items(family):
            if not re.match(r"^address(es)?\d*$", key):
                continue
            if "/" not in value and value.count(";") >= 1 and value.split(";")[1].isdigit():
                # the legacy form, address;prefix;gateway
                addresses.append(_cidr(value.split(";")[0], value.split(";")[1]))
                continue
            # address1=ADDR[/PREFIX][,GATEWAY]; without a prefix NetworkManager takes 24 / 64
            for a in (a.split(",")[0].strip() for a in value.split(";")):
                if a:
                    addresses.append(_cidr(a if "/" in a else "%s/%d" % (a, plen)))
    # NetworkManager brings no uplink up here: OVS owns it (persist_networkmanager.yml)
    return {"addresses": _global(addresses), "uplinks": None}


BOOT = {"ifupdown": _ifupdown_boot, "netplan": _netplan_boot, "networkmanager": _keyfile_boot}


def boot(backend, text, name):
    """What one of the files provision.yml persists (host/files.network_files) brings back at
    boot for vSwitch `name`: {addresses (its internal port's, CIDR, sorted), uplinks (the NICs
    it brings up; None where the backend brings none up), error (why the file could not be
    read, else None)}."""
    try:
        return dict(BOOT[backend](text, name), error=None)
    except (ValueError, yaml.YAMLError, configparser.Error, AttributeError) as exc:
        return {"addresses": None, "uplinks": None,
                "error": " ".join(str(exc).split()) or type(exc).__name__}
