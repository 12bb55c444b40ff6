#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: locate
short_description: Find where an IP or MAC lives on a hypervisor's vSwitches
version_added: 1.0.0
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
  - cloudnet.vswitch.common.attributes
  - cloudnet.vswitch.common.info_attributes
options:
  ip:
    description: The IPv4 or IPv6 address to find.
    type: str
  mac:
    description:
      - The MAC to find (any notation netaddr accepts).
      - May come with O(ips) (the peers), the MAC's answer then in RV(addresses) too, under
        the MAC as given.
    type: str
  vm:
    description:
      - A VM, by what an operator knows of it; its NICs' MACs are then found as with O(mac).
      - A libvirt domain name or UUID (C(virsh domiflist), C(domname), C(domuuid) where virsh
        exists; libvirt writes the UUID as C(vm-id) on the vnets it plugs, found in OVSDB
        without virsh), or an interface's C(iface-id).
      - Its addresses come from the neighbour table and C(virsh domifaddr) (C(--source agent),
        then C(arp), then C(lease), the first that has any; RV(notes) says what each gave).
      - May come with O(ips) (the peers), the VM's answer then in RV(addresses) too, under
        the name as given.
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
        on every vnet port for a packet sent by O(ip) (C(tcpdump -i PORT -n -e -Q in src host
        IP), one per port at once, all ended by then, or as soon as each address was heard on
        some port). The port it arrives on and its source MAC locate the VM. 0 (default) never
        listens.
      - Listening places an address; it does not look for a second VM with the same address
        (the window ends once the address is heard). The diagnostics' check for an address
        on two hosts, and the captures, do.
      - The window never outlasts O(timeout) (at most min(O(listen), O(timeout)) seconds);
        raise both for a VM that sends rarely.
      - Only with O(ip) or O(ips) (all of them listened for at once). Needs the VM to send
        something meanwhile (any traffic, ARP included).
    type: int
    default: 0
  listen_detach:
    description:
      - Set by the action plugin when the task runs on several hosts with O(listen); not for
        direct use. The module then returns once it has read everything, its listening window
        going on in a detached process that the action plugin follows, ending it as soon as
        every address listened for lives on some host of the play (RV(locations[].local);
        each host hears only the VMs it hosts). The result has the same keys as without it;
        a host's window may end sooner (RV(notes) says when and why).
      - With fewer forks than hosts (or C(throttle)), a host whose turn comes later is told at
        once what the earlier ones found, and an earlier one listens its whole window for an
        address that only a later one hosts. The retries of a task (C(until)) share what
        their earlier attempts found.
    type: bool
    default: false
  found_elsewhere:
    description:
      - Set by the action plugin; not for direct use. Addresses another host of this run
        places on itself (RV(locations[].local)), which this host then does not listen for
        (RV(notes) says so).
    type: list
    elements: str
    default: []
  capture_wait:
    description:
      - Seconds (0 to 300) a detached process (the capture agent) stays on the host after
        the module returns, waiting for a capture's start from
        O(cloudnet.vswitch.capture#module:agent); the capture then starts without a module
        run of its own (collect_captures.yml plans its captures from every host's locate
        answer, then starts them this way). It takes one order; it ends when its time is up
        or its directory (RV(capture_agent.dir)) is removed. Not in check mode. V(0) leaves
        none.
    type: int
    default: 0
    version_added: 1.1.0
  probe:
    description:
      - Send one echo request (C(ping -c 1 -I INTERNAL_PORT IP), waiting at most
        min(O(timeout), 5) seconds) before looking, to refresh the neighbour table.
      - Only with O(ip). Runs in check mode too (it changes no configuration).
    type: bool
    default: false
notes:
  - One of O(ip), O(ips), O(mac) and O(vm); O(ips) may come with O(mac) or O(vm).
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

- name: And this VM's (by its libvirt name or UUID), with its peer located in the same run
  cloudnet.vswitch.locate:
    vm: web01
    ips: [203.0.113.20]
  register: where_vm

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
    domain: {description: "The libvirt domain whose interface this port is (C(virsh
        domiflist)); null without virsh or when no running domain has it.", type: str}
    local:
      description: True for a VM's vnet or the internal port on this host; false when the
        vSwitch learned it via its uplink (it lives elsewhere) or another port.
      type: bool
    evidence:
      description:
        - "One string per fact, for example C(libvirt attached-mac ... on interface vnet0),
          C(FDB of vswitch0: ... on port 3 [vnet0], VLAN 0, age 4 s) (the port's name in round
          brackets), C(neighbour table: ...), C(virsh domiflist: ...), C(host address ... on
          internal port vswitch0)."
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
      domain: web01
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
  description:
    - What was skipped or done on the side (virsh missing, the probe's result).
    - "What each C(virsh domifaddr --source) gave, tried per domain in the order agent, arp,
      lease until one has addresses, e.g. C(virsh domifaddr --source arp: web01 no address)."
  returned: success
  type: list
  elements: str
macs:
  description: With O(mac) or O(vm), the MACs followed (a VM's NICs; none when nothing on
    this host names the VM).
  returned: with O(mac) or O(vm)
  type: list
  elements: str
  sample: ["52:54:00:12:34:56"]
domain:
  description: With O(mac) or O(vm), the libvirt domain's name (with O(vm), as virsh names
    it, also when the domain is not running); null when virsh is missing or knows none.
  returned: with O(mac) or O(vm)
  type: str
  sample: web01
ips:
  description: With O(mac) or O(vm), the addresses the neighbour table and C(virsh domifaddr)
    give those MACs.
  returned: with O(mac) or O(vm)
  type: list
  elements: str
  sample: [203.0.113.10]
addresses:
  description: With O(ips), each address's own C(found), C(locations), C(summary) and
    C(notes), as O(ip) returns them, and C(local) (true when a location is on this host);
    with O(mac) or O(vm) as well, their answer too (with RV(macs) and RV(ips)), under the
    value as given.
  returned: with O(ips)
  type: dict
  sample: {"203.0.113.10": {"found": true, "local": false, "locations": [], "summary": "...",
                            "notes": []}}
vswitches:
  description: With O(vswitches=true), the same list M(cloudnet.vswitch.vswitch_info) returns.
  returned: with O(vswitches=true)
  type: list
  elements: dict
capture_agent:
  description:
    - With O(capture_wait), the capture agent waiting on the host; give it to
      M(cloudnet.vswitch.capture)'s O(cloudnet.vswitch.capture#module:agent).
  returned: with O(capture_wait), not in check mode
  type: dict
  contains:
    dir:
      description: Its directory, where the order is written, in a directory only the
        module's user can enter (C(/run/cloudnet-vswitch), 0700, as root).
      type: str
    pid:
      description: Its process.
      type: int
    seconds:
      description: How long it waits for the order.
      type: int
missing:
  description:
    - On failure because the host lacks something, what it lacks, by the name of the package,
      command or daemon (V(python3-openvswitch), V(ovs-vsctl), V(python3-netaddr),
      V(ovsdb-server)); the message says how to install it. A playbook can tell such a host
      (install, then run again) from a change that was refused.
  returned: failure, when something the host needs is missing
  type: list
  elements: str
  sample: [python3-openvswitch, ovs-vsctl]
"""

from ansible_collections.cloudnet.vswitch.plugins.module_utils import options
from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import locate_run
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import runner_info, spec


def main():
    module = options.new_module(
        argument_spec=dict(
            ip=dict(type="str"),
            ips=dict(type="list", elements="str"),
            mac=dict(type="str"),
            vm=dict(type="str"),
            vswitches=dict(type="bool", default=False),
            probe=dict(type="bool", default=False),
            listen=dict(type="int", default=0),
            listen_detach=dict(type="bool", default=False),
            found_elsewhere=dict(type="list", elements="str", default=[]),
            capture_wait=dict(type="int", default=0),
            **spec.COMMON_ARGS,
        ),
        mutually_exclusive=[("ip", "ips"), ("ip", "mac"), ("ip", "vm"), ("mac", "vm")],
        required_one_of=[("ip", "ips", "mac", "vm")],
        supports_check_mode=True,
    )
    capture = None
    if module.params["capture_wait"]:
        # only a run that leaves a capture agent compiles the capture's code, before the agent
        # is detached (the module's payload is gone once the module exits)
        from ansible_collections.cloudnet.vswitch.plugins.module_utils.capture import run

        capture = (run.run, run.ARGS)
    runner_info.run(module, lambda host: locate_run.collect(host, capture))


if __name__ == "__main__":
    main()
