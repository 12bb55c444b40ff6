#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vswitch_info
short_description: Every vSwitch of a host with its ports, their roles and their state
version_added: 1.0.0
description:
  - Answers "which port is which" on a hypervisor. For each vSwitch (OVS bridge), every port
    with its OpenFlow port number, its role, type, MAC, addresses, link state, MTU and
    C(mtu_request), VLAN tag / trunks, external_ids and the OVS C(error) column.
  - "A port's C(addresses) are its scope-global ones; C(dynamic_addresses) names those of them
    with a lifetime (SLAAC, IPv6 privacy addresses, a DHCP lease): the kernel or a DHCP client
    keeps them, so the provisioning modules neither report them as the internal port's
    configured addresses nor remove them, and the diagnostics do not count them as drift."
  - "Roles: C(uplink) (the NIC or bond that leaves the host), C(internal) (the kernel port named
    like the bridge, holding the host's addresses), C(vnet) (a VM's port), C(other) (patch,
    tunnel and other ports). Taken from this collection's marks, libvirt's external_ids
    (C(attached-mac), C(iface-id), C(vm-id)), the interface type and the port's shape."
  - For bonds, C(ovs-appctl bond/show), C(lacp/show) and C(lacp/show-stats) with each
    member's link state and speed, whether the bond enabled it, which one is active, the LACP
    negotiation status and the malformed LACP PDUs each member received.
  - Bridge settings are reported with their effective values, OVS's defaults where unset
    (fail_mode standalone, mac_aging_time 300 s, mac_table_size 8192).
author:
  - cloudnet.vswitch developers (@cloudnet)
extends_documentation_fragment:
  - cloudnet.vswitch.common
  - cloudnet.vswitch.common.attributes
  - cloudnet.vswitch.common.info_attributes
options:
  bridge:
    description: Only this vSwitch; default all.
    type: str
  watch:
    description:
      - Seconds to watch the vSwitches' counters (0 to 60; 0, the default, reads nothing more).
        The ports' loss counters (C(ovs-appctl dpctl/show -s)) and the MAC tables
        (C(fdb/stats-show), C(fdb/show), three reads over the window) are read at its start and
        end; what rose is in RV(rising). The module's run takes that much longer.
    type: float
    default: 0
    version_added: 1.1.0
  history:
    description:
      - Read OVSDB's own log of the database file (C(ovsdb-tool show-log -mm), read-only) and
        return its last transactions that touched a bridge, port or interface in
        RV(history), with their moment and comment (ovs-vsctl's command line and the process
        that invoked it, libvirtd for a re-plug; this collection's own changes say
        C(cloudnet.vswitch) with the IDL backend, and are ovs-vsctl's with the vsctl one).
    type: bool
    default: false
    version_added: 1.1.0
seealso:
  - module: cloudnet.vswitch.fdb_info
  - module: cloudnet.vswitch.vswitch
"""

EXAMPLES = r"""
- name: Which port is which
  cloudnet.vswitch.vswitch_info:
  register: info

- name: The uplink of vswitch0
  ansible.builtin.debug:
    msg: "{{ info.vswitches | selectattr('name', '==', 'vswitch0') | map(attribute='ports')
             | flatten | selectattr('role', '==', 'uplink') | map(attribute='name') | list }}"
"""

RETURN = r"""
vswitches:
  description: Each vSwitch.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The bridge.
      type: str
    datapath_type:
      description: V(system) or V(netdev).
      type: str
    fail_mode:
      description: C(configured) (null when unset) and C(effective) value.
      type: dict
    mac_aging_time:
      description: C(configured) and C(effective) FDB aging time in seconds.
      type: dict
    mac_table_size:
      description: C(configured) and C(effective) FDB size.
      type: dict
    stp:
      description: Whether STP is enabled.
      type: bool
    ours:
      description: Whether this collection created (or adopted) the bridge.
      type: bool
    owner:
      description: Another manager that owns the bridge (NetworkManager, OVN), or null.
      type: str
    ports:
      description: The bridge's ports.
      type: list
      elements: dict
      sample:
        - name: eth0
          role: uplink
          ofport: 1
          type: system
          mac: "02:cb:00:01:00:00"
          addresses: []
          dynamic_addresses: []
          link_state: up
          mtu: 1500
          mtu_request: null
          tag: null
          trunks: []
          vlan_mode: null
          external_ids: {cloudnet-vswitch: uplink}
          error: null
          kernel: true
        - name: bond0
          role: uplink
          type: bond
          bond:
            mode: balance-tcp
            lacp: active
            lacp_status: negotiated
            active_member: eth2
            members:
              - {name: eth2, ofport: 4, link_state: up, mtu: 1500, link_speed: 10000000000,
                 enabled: true, active: true, lacp: current attached, lacp_bad_pdus: 0}
ovs:
  description:
    - Open vSwitch itself on the host.
    - C(version) is ovs-vswitchd's (null when it does not answer); C(vswitchd) V(running), or
      why it does not answer; C(cur_cfg) and C(next_cfg) from OVSDB's Open_vSwitch row (the
      configuration ovs-vswitchd applied, of the last one asked; read again a second later
      where it lags); C(datapaths) the datapath type each bridge really got
      (C(ovs-appctl dpif/show); a bridge that got none, e.g. V(system) without the kernel
      module, is missing; null when ovs-vswitchd does not answer); C(kernel) the host's
      kernel release.
  returned: success
  type: dict
  version_added: 1.1.0
  sample:
    version: 3.1.0
    vswitchd: running
    cur_cfg: 12
    next_cfg: 12
    datapaths: {vswitch0: system, vswitch1: system}
    kernel: 6.1.0-28-amd64
rising:
  description:
    - With O(watch), what rose while watched. C(interfaces) maps an interface to the loss
      counters that rose (V(rx_dropped), V(tx_dropped), V(rx_errors), V(tx_errors)) and by how
      much; C(moves) maps a vSwitch to C(count), the rise of its MAC table's port-moved
      counter, and C(macs), the MACs found on another port from one read to the next, with the
      ports in the order seen (a MAC flapping between two ports, the same MAC on two VMs or a
      loop).
  returned: when O(watch) is above 0
  type: dict
  version_added: 1.1.0
  sample:
    seconds: 2
    interfaces: {eth0: {rx_errors: 12}}
    moves:
      vswitch0:
        count: 6
        macs: [{mac: "52:54:00:c1:01:01", vlan: 0, ports: [vnet0, vnet4, vnet0]}]
history:
  description:
    - With O(history), C(file) (the database file read), C(error) (why it could not be read,
      or null) and C(transactions), oldest first, at most 200, each with C(time) (the
      database's clock, UTC), C(comment) and C(rows) (C(table), C(row) the name, C(op)
      V(insert), V(update) or V(delete), C(columns) changed). ovsdb-server compacts the file
      now and then, and what was older is gone.
  returned: when O(history) is true
  type: dict
  version_added: 1.1.0
  sample:
    file: /etc/openvswitch/conf.db
    error: null
    transactions:
      - time: "2026-12-04 13:37:24.096"
        comment: "ovs-vsctl (invoked by bash): ovs-vsctl set Port vnet1 tag=20"
        rows: [{table: Port, row: vnet1, op: update, columns: [tag]}]
network_files:
  description:
    - The files provision.yml persisted on the host to bring each vSwitch's uplinks up and put
      its internal port's addresses back at boot (C(/etc/network/interfaces.d/cloudnet-NAME),
      C(/etc/netplan/90-cloudnet-NAME.yaml),
      C(/etc/NetworkManager/system-connections/cloudnet-NAME.nmconnection)), as they are, with
      C(backend), C(vswitch), C(text) and C(modified) (UTC). Empty where the host persists
      nothing (C(provision_persist=runtime)). The
      diagnostics compare them with the live addresses.
  returned: success
  type: list
  elements: dict
  version_added: 1.1.0
  sample:
    - path: /etc/netplan/90-cloudnet-vswitch1.yaml
      backend: netplan
      vswitch: vswitch1
      modified: "2026-12-04 13:00:02"
      text: "network:\n  version: 2\n  ethernets:\n ..."
mtu_mismatches:
  description: VM and internal ports whose MTU differs from their vSwitch's uplink.
  returned: success
  type: list
  elements: dict
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
from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import info
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import runner_info, spec


def main():
    module = options.new_module(argument_spec=dict(bridge=dict(type="str"),
                                                   watch=dict(type="float", default=0),
                                                   history=dict(type="bool", default=False),
                                                   **spec.COMMON_ARGS),
                                supports_check_mode=True)
    runner_info.run(module, info.collect)


if __name__ == "__main__":
    main()
