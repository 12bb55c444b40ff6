#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fdb_info
short_description: Show the MAC learning table (FDB) of a host's vSwitches, with port names
version_added: 1.0.0
description:
  - Reads C(ovs-appctl fdb/show) and C(fdb/stats-show) for one or every vSwitch and joins each
    entry to its port name and role (uplink, vnet, internal, other). The port column of
    C(fdb/show) is an OpenFlow port number, or C(LOCAL) for the bridge's internal port; a bond
    is shown as one of its members and reported here under the bond's name.
  - Uses the JSON form of C(fdb/show) where ovs-vswitchd has it (OVS 3.6 and later, whose shape
    changed in 4.0), and the text form otherwise (OVS 3.1 prints only text).
  - Filters by MAC, or by IP through the neighbour table, the host's own addresses on internal
    ports and libvirt's view of the VMs.
  - With O(explain), says whether a frame to that MAC would go to one port or be flooded, using
    C(ofproto/trace) without C(-generate), so the trace teaches the table nothing.
  - Never changes anything.
author:
  - cloudnet.vswitch developers (@cloudnet)
extends_documentation_fragment:
  - cloudnet.vswitch.common
  - cloudnet.vswitch.common.attributes
  - cloudnet.vswitch.common.info_attributes
options:
  bridge:
    description: The vSwitch to read. All of them when unset.
    type: str
  mac:
    description: Show only the entries for this MAC (any notation netaddr accepts).
    type: str
  ip:
    description:
      - Show only the entries for the MACs this IPv4 or IPv6 address resolves to, from the
        kernel's neighbour table and the host's own addresses on internal ports.
      - The MACs found and why are returned in RV(ip_macs), with the vnet whose libvirt
        C(attached-mac) is that MAC, if any (so an idle VM whose entry aged out is still
        named).
    type: str
  explain:
    description:
      - A MAC to explain. For each vSwitch (and each VLAN, see O(vlan)) the module traces a
        frame to it entering by another port that carries the VLAN (the uplink first, then
        the internal port, then a vnet), and reports C(unicast) (one port), C(flood) or C(drop)
        with a sentence.
    type: str
  vlan:
    description:
      - The VLAN for O(explain). By default the VLANs on which the FDB has the MAC, or 0.
      - Requires O(explain).
    type: int
notes:
  - "O(mac) and O(ip) are mutually exclusive."
  - On OVS older than 3.6 only the text output exists; both are parsed into the same entries.
"""

EXAMPLES = r"""
- name: Every vSwitch's FDB
  cloudnet.vswitch.fdb_info:
  register: fdb

- name: Where did vswitch0 learn this VM's MAC, and would a frame to it be flooded?
  cloudnet.vswitch.fdb_info:
    bridge: vswitch0
    mac: "52:54:00:12:34:56"
    explain: "52:54:00:12:34:56"

- name: The FDB entries of an IP's MAC
  cloudnet.vswitch.fdb_info:
    ip: 203.0.113.10

- name: The ports that have learned something on VLAN 10
  ansible.builtin.debug:
    msg: "{{ fdb.bridges | map(attribute='entries') | flatten
             | selectattr('vlan', 'eq', 10) | map(attribute='port_name') | unique }}"
"""

RETURN = r"""
bridges:
  description: One item per vSwitch read, sorted by name.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The bridge.
      type: str
    aging_time:
      description: Seconds an idle entry lives, in effect (other_config C(mac-aging-time), or
        OVS's default 300, clamped to 15-3600 like OVS does).
      type: int
    table_size:
      description: Maximum number of entries in effect (C(fdb/stats-show)'s maximum, or
        other_config C(mac-table-size), or OVS's default 8192).
      type: int
    format:
      description: The C(fdb/show) output parsed, V(json) or V(text).
      type: str
    entries:
      description: The FDB entries (after the O(mac) / O(ip) filter), in OVS's order (least
        recently used first).
      type: list
      elements: dict
      contains:
        port:
          description: The port column as C(fdb/show) prints it (an OpenFlow port number, or
            C(LOCAL)).
          type: str
        ofport:
          description: The OpenFlow port number (65534 for LOCAL).
          type: int
        port_name:
          description: The OVS port (a bond's name for any of its members); null if the port
            is unknown to OVSDB.
          type: str
        role:
          description: uplink, vnet, internal or other.
          type: str
        vlan:
          description: The VLAN the MAC was learned on (0 untagged).
          type: int
        mac:
          description: The MAC, lower case.
          type: str
        age:
          description: Seconds since the MAC was last seen; null for a static entry.
          type: int
        static:
          description: Whether the entry was added with C(fdb/add) and never ages.
          type: bool
    stats:
      description: The C(fdb/stats-show) counters.
      type: dict
      contains:
        current: {description: Entries in the table., type: int}
        max: {description: Maximum entries., type: int}
        static: {description: Static entries., type: int}
        learned: {description: MACs learned since start (or the last stats clear)., type: int}
        expired: {description: Entries aged out., type: int}
        evicted: {description: Entries evicted because the table was full., type: int}
        moved: {description: Entries whose port changed., type: int}
    explain:
      description: With O(explain), one result per VLAN traced.
      returned: when O(explain) is set
      type: list
      elements: dict
      contains:
        mac: {description: The MAC explained., type: str}
        vlan: {description: The VLAN traced., type: int}
        bridge: {description: The bridge., type: str}
        in_port: {description: The port the imaginary frame enters by (null if none carries
            the VLAN)., type: str}
        flow: {description: The flow given to C(ofproto/trace)., type: str}
        verdict: {description: "unicast (one port), flood, drop, or other (flows other than
            NORMAL decided; see actions).", type: str}
        reason: {description: "NORMAL's own words, e.g. C(forwarding to learned port).",
                 type: str}
        actions: {description: The datapath actions of the trace., type: str}
        port: {description: "For unicast, the port as fdb/show prints it.", type: str}
        port_name: {description: "For unicast, the port it goes to.", type: str}
        role: {description: "For unicast, that port's role.", type: str}
        aging_time: {description: The bridge's aging time., type: int}
        sentence: {description: One sentence that says it all., type: str}
  sample:
    - name: vswitch0
      aging_time: 300
      table_size: 8192
      format: text
      entries:
        - {port: "3", ofport: 3, port_name: vnet0, role: vnet, vlan: 0,
           mac: "52:54:00:12:34:56", age: 4, static: false}
        - {port: LOCAL, ofport: 65534, port_name: vswitch0, role: internal, vlan: 0,
           mac: "52:54:00:aa:bb:cc", age: 0, static: false}
      stats: {current: 2, max: 8192, static: 0, learned: 2, expired: 0, evicted: 0, moved: 0}
ip_macs:
  description: With O(ip), the MACs it resolves to and the evidence for each.
  returned: when O(ip) is set
  type: dict
  sample:
    "52:54:00:12:34:56":
      - "neighbour table: 203.0.113.10 lladdr 52:54:00:12:34:56 dev vswitch0 REACHABLE"
      - "libvirt attached-mac 52:54:00:12:34:56 on interface vnet0 of vswitch0"
ovs_version:
  description: ovs-vswitchd's version as reported by C(ovs-appctl version), or null.
  returned: success
  type: str
  sample: 3.1.0
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
from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import fdb_read
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import runner_info, spec


def main():
    module = options.new_module(
        argument_spec=dict(
            bridge=dict(type="str"),
            mac=dict(type="str"),
            ip=dict(type="str"),
            explain=dict(type="str"),
            vlan=dict(type="int"),
            **spec.COMMON_ARGS,
        ),
        mutually_exclusive=[("mac", "ip")],
        required_by={"vlan": "explain"},
        supports_check_mode=True,
    )
    runner_info.run(module, fdb_read.collect)


if __name__ == "__main__":
    main()
