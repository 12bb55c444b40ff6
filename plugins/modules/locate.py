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
  listen:
    description:
      - When nothing else places O(ip) on this host (a VM on a VLAN the host has no address
        in, no virsh), listen up to this many seconds on every vnet port for a packet sent by
        O(ip) (C(tcpdump -c 1 -e src host IP), one per port at once, all ended by then). The
        port it arrives on and its source MAC locate the VM. 0 (default) never listens.
      - Only with O(ip). Needs the VM to send something meanwhile (any traffic, ARP included).
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
  - Exactly one of O(ip) and O(mac).
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
"""

import shutil
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.cloudnet.vswitch.plugins.module_utils import (
    engine,
    fdb_read,
    kernel,
    locate,
    model,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    ParamError,
)


def validate(params):
    if params["mac"] is not None:
        model.require_netaddr()
        return None, model.normalize_mac(params["mac"], "mac")
    if not 0 <= params["listen"] <= 300:
        raise ParamError("listen", "%r is not a number of seconds from 0 to 300"
                         % params["listen"])
    return locate.check_ip(params["ip"], "ip"), None


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


def _listen(module, world, ip, notes):
    """Packets heard from ip on the vnet ports: [{mac, interface}]."""
    import signal
    import subprocess

    seconds = min(module.params["listen"], module.params["timeout"])
    ports = sorted(p for p in world["ports"] if model.port_role(world, p) == model.ROLE_VNET
                   and p in world["links"])
    procs = {}
    try:
        for port in ports:
            # One listener per vnet port, all at once, stopped together after the listen time;
            # run_command can only wait for one command to end.
            procs[port] = subprocess.Popen(  # pylint: disable=ansible-bad-function
                locate.listen_argv(ip, port), stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, text=True)
        end = time.monotonic() + seconds
        while time.monotonic() < end and any(p.poll() is None for p in procs.values()):
            if any(p.poll() == 0 for p in procs.values()):
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
    heard = []
    for port, proc in sorted(procs.items()):
        mac = locate.parse_heard(proc.stdout.read() if proc.stdout else "")
        if mac:
            heard.append({"mac": mac, "interface": port})
    notes.append("listened %ss on %d vnet port(s): %s" % (
        seconds, len(ports), ", ".join("%s from %s" % (h["interface"], h["mac"]) for h in heard)
        or "heard nothing"))
    return heard


def collect(module):
    p = module.params
    ip, mac = validate(p)
    deadline = time.monotonic() + p["timeout"]
    notes = []
    world = engine.read_world(module)
    run = module.run_command
    if p["probe"] and ip is not None:
        _probe(module, world, ip, notes)
    elif p["probe"]:
        notes.append("probe skipped: it needs ip")
    tables, _ver = fdb_read.tables(run, world, sorted(world["bridges"]), p["timeout"])
    iflist, ifaddr = _virsh(module, ip, deadline, notes)
    fdbs = {b: t["entries"] for b, t in tables.items()}
    neighbours = kernel.neighbours(run)
    result = locate.locate(world, fdbs, fdb_read.role_of(world), ip=ip, mac=mac,
                           neighbours=neighbours, domiflist=iflist, domifaddr=ifaddr)
    if p["listen"] and ip is not None and not any(lo["local"] for lo in result["locations"]):
        heard = _listen(module, world, ip, notes)
        if heard:
            result = locate.locate(world, fdbs, fdb_read.role_of(world), ip=ip,
                                   neighbours=neighbours, domiflist=iflist, domifaddr=ifaddr,
                                   heard=heard)
    result["notes"] = notes
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            ip=dict(type="str"),
            mac=dict(type="str"),
            probe=dict(type="bool", default=False),
            listen=dict(type="int", default=0),
            **engine.COMMON_ARGS,
        ),
        mutually_exclusive=[("ip", "mac")],
        required_one_of=[("ip", "mac")],
        supports_check_mode=True,
    )
    engine.run_info(module, lambda: collect(module))


if __name__ == "__main__":
    main()
