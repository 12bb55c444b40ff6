#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: locate
short_description: Find where an IP or MAC lives on a hypervisor's vSwitches
version_added: 0.1.0
description:
  - Says on which vSwitch and port an IPv4/IPv6 address or a MAC lives on this host (a VM's
    vnet, the internal port), or that the vSwitch learned it via its uplink (it lives
    elsewhere), or that it was not found; with the evidence for each answer.
  - "The evidence: libvirt's C(attached-mac) in a vnet's Interface external_ids, C(virsh
    domiflist) and C(virsh domifaddr) where C(virsh) is installed (skipped otherwise), the FDB
    of every vSwitch (C(ovs-appctl fdb/show)), the kernel's neighbour table and the host's own
    addresses on internal ports."
  - An IP is first resolved to MACs (neighbour table, virsh domifaddr, internal ports); each MAC
    is then looked up in the other sources.
  - With O(probe=true), one echo request is sent first from the internal port whose subnet
    holds the IP, so the kernel sends an ARP request (IPv4) or neighbour solicitation (IPv6)
    and the neighbour table and FDB are fresh. This is the only traffic the module makes.
author:
  - cloudnet.vswitch developers (@cloudnet)
extends_documentation_fragment:
  - cloudnet.vswitch.common
  - cloudnet.vswitch.common.info_attributes
options:
  ip:
    description: The IPv4 or IPv6 address to find.
    type: str
  mac:
    description: The MAC to find (any notation netaddr accepts).
    type: str
  ips:
    description:
      - Several IPv4/IPv6 addresses at once, in one run that reads OVSDB, the FDBs, the
        neighbour table and virsh once and, with O(listen), listens for all of them in the same
        window. Each address's answer is in RV(addresses), the same as O(ip) would return.
    type: list
    elements: str
  vswitches:
    description:
      - Also return RV(vswitches), what M(cloudnet.vswitch.vswitch_info) returns as
        C(vswitches), from the same read of OVSDB (saves a second module run).
    type: bool
    default: false
  listen:
    description:
      - When nothing else tells this host where O(ip) is, neither here nor behind the uplink
        (a VM on a VLAN the host has no address in, no virsh), listen up to this many seconds
        on every vnet port for a packet sent by O(ip) (C(tcpdump -c 1 -e src host IP), one per
        port at once, all ended by then, or as soon as each address was heard). The port it
        arrives on and its source MAC locate the VM. 0 (default) never listens.
      - Only with O(ip) or O(ips) (all of them listened for at once). Needs the VM to send
        something meanwhile (any traffic, ARP included).
    type: int
    default: 0
  probe:
    description:
      - Send one echo request (C(ping -c 1 -I INTERNAL_PORT IP), waiting at most
        min(O(timeout), 5) seconds) before looking, to refresh the neighbour table.
      - Only with O(ip). Runs in check mode too (it changes no configuration).
    type: bool
    default: false
notes:
  - Exactly one of O(ip), O(ips) and O(mac).
  - Each C(virsh) call is bounded by O(timeout) (through C(timeout) from coreutils when
    installed); domains not reached within O(timeout) overall are skipped and listed in
    RV(notes).
"""

EXAMPLES = r"""
- name: Where is 203.0.113.10?
  cloudnet.vswitch.locate:
    ip: 203.0.113.10
  register: where

- name: Refresh the neighbour table first
  cloudnet.vswitch.locate:
    ip: 2001:db8::10
    probe: true

- name: Several addresses in one run, with the vSwitches read by the same run
  cloudnet.vswitch.locate:
    ips: [203.0.113.10, 203.0.113.20]
    vswitches: true
  register: where_all
- name: Which hypervisor holds this VM's vNIC?
  cloudnet.vswitch.locate:
    mac: "52:54:00:12:34:56"
  register: where

- name: Say it
  ansible.builtin.debug:
    msg: "{{ where.summary }}"
"""

RETURN = r"""
found:
  description: Whether any location was found (on this host or via an uplink).
  returned: success
  type: bool
locations:
  description: Where the address lives, local ones first.
  returned: success
  type: list
  elements: dict
  contains:
    vswitch: {description: The bridge., type: str}
    port: {description: The OVS port (a bond's name for its members)., type: str}
    role: {description: "uplink, vnet, internal or other.", type: str}
    mac: {description: "The MAC, lower case.", type: str}
    ip: {description: "The IP asked for; with O(mac), the neighbour table's IP for it when
        there is exactly one, else null.", type: str}
    vlan: {description: "The VLAN (the FDB's, or the port's tag; null if unknown).", type: int}
    local:
      description: True for a VM's vnet or the internal port on this host; false when the
        vSwitch learned it via its uplink (it lives elsewhere) or another port.
      type: bool
    evidence:
      description:
        - One string per fact, for example C(libvirt attached-mac ... on interface vnet0),
          C(FDB of vswitch0 - ... on port 3 vnet0, VLAN 0, age 4 s), C(neighbour table ...),
          C(virsh domiflist ...), C(host address ... on internal port vswitch0).
        - An uplink's FDB evidence ends with C(learned via uplink ethX) (or the bond's name).
      type: list
      elements: str
  sample:
    - vswitch: vswitch0
      port: vnet0
      role: vnet
      mac: "52:54:00:12:34:56"
      ip: 203.0.113.10
      vlan: 0
      local: true
      evidence:
        - "neighbour table: 203.0.113.10 lladdr 52:54:00:12:34:56 dev vswitch0 REACHABLE"
        - "libvirt attached-mac 52:54:00:12:34:56 on interface vnet0 (vm 4d2c...)"
        - "FDB of vswitch0: 52:54:00:12:34:56 on port 3 (vnet0), VLAN 0, age 4 s"
summary:
  description: One sentence.
  returned: success
  type: str
  sample: "203.0.113.10 lives on this host: vnet port vnet0 on vswitch0 (MAC 52:54:00:12:34:56)."
notes:
  description: What was skipped or done on the side (virsh missing, the probe's result).
  returned: success
  type: list
  elements: str
addresses:
  description: With O(ips), each address's own C(found), C(locations), C(summary) and
    C(notes), as O(ip) returns them, and C(local) (true when a location is on this host).
  returned: with O(ips)
  type: dict
  sample: {"203.0.113.10": {"found": true, "local": false, "locations": [], "summary": "...",
                            "notes": []}}
vswitches:
  description: With O(vswitches=true), the same list M(cloudnet.vswitch.vswitch_info) returns.
  returned: with O(vswitches=true)
  type: list
  elements: dict
"""

import shutil
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cloudnet.vswitch.plugins.module_utils import (
    appctl,
    engine,
    fdb_read,
    info,
    kernel,
    locate,
    model,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    ParamError,
)


def validate(params):
    """(ips, mac): the addresses asked for (one with ip, several with ips), each checked and
    normalised, or the MAC. RV(addresses) keys are the addresses as given."""
    if params["mac"] is not None:
        model.require_netaddr()
        return [], model.normalize_mac(params["mac"], "mac")
    if not 0 <= params["listen"] <= 300:
        raise ParamError("listen", "%r is not a number of seconds from 0 to 300"
                         % params["listen"])
    if params["ips"] is not None:
        if not params["ips"]:
            raise ParamError("ips", "is empty")
        for i, ip in enumerate(params["ips"]):
            locate.check_ip(ip, "ips[%d]" % i)
        return list(dict.fromkeys(params["ips"])), None
    return [params["ip"]], None


def _virsh(module, ip, deadline, notes):
    """(domiflist rows, domifaddr rows), each row with its 'domain'."""
    virsh = module.get_bin_path("virsh")
    if not virsh:
        notes.append("virsh is not installed: domiflist/domifaddr skipped")
        return [], []
    limit = shutil.which("timeout")

    def run(*args):
        left = max(1, int(deadline - time.monotonic()))
        argv = ([limit, str(left)] if limit else []) + [virsh, "-q"] + list(args)
        rc, out, err = module.run_command(argv)
        if rc != 0:
            notes.append("'%s' failed (rc=%s): %s" % (" ".join(argv), rc, (err or "").strip()))
            return None
        return out

    listed = run("list", "--name")
    if listed is None:
        return [], []
    iflist, ifaddr = [], []
    for dom in [d.strip() for d in listed.splitlines() if d.strip()]:
        if time.monotonic() >= deadline:
            notes.append("timeout reached: virsh skipped domain %s and later ones" % dom)
            break
        out = run("domiflist", dom)
        iflist += [dict(r, domain=dom) for r in locate.parse_domiflist(out or "")]
        if ip is not None:
            out = run("domifaddr", dom)
            ifaddr += [dict(r, domain=dom) for r in locate.parse_domifaddr(out or "")]
    return iflist, ifaddr


def _probe(module, world, ip, notes):
    dev = locate.probe_device(world, ip)
    if dev is None:
        notes.append("probe skipped: no internal port has an address in %s's subnet" % ip)
        return
    argv = locate.probe_argv(ip, dev, module.params["timeout"])
    rc, _out, _err = module.run_command(argv)
    notes.append("probe: '%s' %s" % (" ".join(argv), "answered" if rc == 0 else
                                     "got no answer (rc=%s)" % rc))


def _listen(module, world, ips, notes):
    """Packets heard from each of ips on the vnet ports: {ip: [{mac, interface}]}. All the
    addresses are listened for in the same window; it ends early once each has been heard."""
    import signal
    import subprocess

    seconds = min(module.params["listen"], module.params["timeout"])
    ports = sorted(p for p in world["ports"] if model.port_role(world, p) == model.ROLE_VNET
                   and p in world["links"])
    procs = {}
    try:
        for ip in ips:
            for port in ports:
                # One listener per address and vnet port, all at once, stopped together after
                # the listen time; run_command can only wait for one command to end.
                procs[(ip, port)] = subprocess.Popen(  # pylint: disable=ansible-bad-function
                    locate.listen_argv(ip, port), stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL, text=True)
        end = time.monotonic() + seconds
        while time.monotonic() < end and any(p.poll() is None for p in procs.values()):
            heard_from = set(k[0] for k, p in procs.items() if p.poll() == 0)
            if heard_from.issuperset(ips):
                break
            time.sleep(0.1)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs.values():
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    heard = dict((ip, []) for ip in ips)
    for (ip, port), proc in sorted(procs.items()):
        mac = locate.parse_heard(proc.stdout.read() if proc.stdout else "")
        if mac:
            heard[ip].append({"mac": mac, "interface": port})
    for ip in ips:
        notes[ip].append("listened %ss on %d vnet port(s): %s" % (
            seconds, len(ports), ", ".join("%s from %s" % (h["interface"], h["mac"])
                                           for h in heard[ip]) or "heard nothing"))
    return heard


def _vswitches(module, world):
    """vswitch_info's `vswitches` from this run's read of OVSDB (bonds and LACP included)."""
    bonds, lacp = {}, {}
    for pname, port in world["ports"].items():
        if len(port["interfaces"]) > 1:
            bonds[pname] = info.parse_bond_show(appctl.call(module.run_command, "bond/show",
                                                            pname))
            if port["lacp"] in ("active", "passive"):
                lacp[pname] = info.parse_lacp_show(appctl.call(module.run_command,
                                                               "lacp/show", pname))
    return info.vswitches(world, bonds, lacp, None)


def collect(module):
    p = module.params
    ips, mac = validate(p)
    deadline = time.monotonic() + p["timeout"]
    notes = []
    normal = dict((ip, locate.check_ip(ip, "ip")) for ip in ips)
    world = engine.read_world(module)
    run = module.run_command
    per_ip = dict((ip, []) for ip in ips)
    if p["probe"] and ips:
        for ip in ips:
            _probe(module, world, normal[ip], per_ip[ip])
    elif p["probe"]:
        notes.append("probe skipped: it needs ip")
    tables, _ver = fdb_read.tables(run, world, sorted(world["bridges"]), p["timeout"])
    iflist, ifaddr = _virsh(module, normal[ips[0]] if ips else None, deadline, notes)
    fdbs = {b: t["entries"] for b, t in tables.items()}
    neighbours = kernel.neighbours(run)
    roles = fdb_read.role_of(world)
    if mac is not None:
        results = {None: locate.locate(world, fdbs, roles, mac=mac, neighbours=neighbours,
                                       domiflist=iflist, domifaddr=ifaddr)}
    else:
        results = dict((ip, locate.locate(world, fdbs, roles, ip=normal[ip],
                                          neighbours=neighbours, domiflist=iflist,
                                          domifaddr=ifaddr)) for ip in ips)
    # Listen only for what this host knows nothing about: an address it places itself, or
    # sees behind its uplink (its neighbour table and FDB), is not worth a listening window.
    unplaced = [ip for ip in ips if not results[ip]["locations"]]
    if p["listen"] and unplaced:
        heard = _listen(module, world, [normal[ip] for ip in unplaced],
                        dict((normal[ip], per_ip[ip]) for ip in unplaced))
        for ip in unplaced:
            if heard[normal[ip]]:
                results[ip] = locate.locate(world, fdbs, roles, ip=normal[ip],
                                            neighbours=neighbours, domiflist=iflist,
                                            domifaddr=ifaddr, heard=heard[normal[ip]])
    for key, res in results.items():
        res["notes"] = notes + per_ip.get(key, [])
        if p["ips"] is not None:
            res["local"] = any(lo["local"] for lo in res["locations"])
    if p["ips"] is not None:
        out = {"addresses": results, "found": any(r["found"] for r in results.values()),
               "notes": notes,
               "summary": " ".join(results[ip]["summary"] for ip in ips)}
    else:
        out = results[ips[0] if ips else None]
    if p["vswitches"]:
        out["vswitches"] = _vswitches(module, world)
    return out


def main():
    module = AnsibleModule(
        argument_spec=dict(
            ip=dict(type="str"),
            ips=dict(type="list", elements="str"),
            mac=dict(type="str"),
            vswitches=dict(type="bool", default=False),
            probe=dict(type="bool", default=False),
            listen=dict(type="int", default=0),
            **engine.COMMON_ARGS,
        ),
        mutually_exclusive=[("ip", "ips", "mac")],
        required_one_of=[("ip", "ips", "mac")],
        supports_check_mode=True,
    )
    engine.run_info(module, lambda: collect(module))


if __name__ == "__main__":
    main()
