#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vswitch
short_description: Manage all of a hypervisor's Open vSwitch vSwitches in one transaction
version_added: 1.0.0
description:
  - The resource module for a KVM host's vSwitches. A vSwitch is one OVS bridge with an
    B(uplink) (a NIC, or a bond of NICs), an B(internal) port named like the bridge that holds
    the host's addresses and the uplink's MAC, and B(vnet) ports, one per VM vNIC.
  - One task is one OVSDB transaction, however many vSwitches and vnets it touches. Like
    C(ovs-vsctl), the task waits until ovs-vswitchd has applied it, then fails if any interface
    it touched reports an error, with one message per interface.
  - Options left unset mean "leave as is". The string V(none) clears an optional value
    (C(tag), C(vlan_mode), C(mtu_request), C(fail_mode), C(mac_aging_time),
    C(mac_table_size)); in a map, a key set to V(null) is removed.
  - Everything the module creates is marked in external_ids (C(cloudnet-vswitch)).
    O(state=overridden) and O(state=deleted) touch only marked rows, see O(adopt).
  - "libvirt re-plugs a VM's vnet port on every VM start and migration: it deletes the port and
    adds it again under a new C(vnetN) name, with the tag from the domain XML
    (C(<vlan><tag id=.../></vlan>)). Vnets are therefore found by C(attached_mac) or
    C(iface_id), and the tag declared here must agree with the domain XML, or the next VM start
    undoes it."
author:
  - cloudnet.vswitch developers (@cloudnet)
extends_documentation_fragment:
  - cloudnet.vswitch.common
  - cloudnet.vswitch.common.attributes
  - cloudnet.vswitch.common.provisioning_attributes
  - cloudnet.vswitch.common.safety
  - cloudnet.vswitch.common.guard
options:
  config:
    description:
      - The vSwitches. With O(state=deleted) only C(name) is read; an empty list then means
        every vSwitch this collection created.
    type: list
    elements: dict
    suboptions:
      name:
        description: The bridge name, also the name of its internal port (max 15 characters).
        type: str
        required: true
      datapath_type:
        description:
          - V(system) is the kernel datapath real hosts use; V(netdev) the userspace one.
          - New bridges get V(system) unless set. Changing it on an existing bridge is
            disruptive.
        type: str
        choices: [system, netdev]
      fail_mode:
        description: What the bridge does without an OpenFlow controller. V(secure) is disruptive.
        type: str
        choices: [standalone, secure, none]
      mac_aging_time:
        description:
          - Seconds a learned MAC stays in the FDB (C(other_config:mac-aging-time); OVS default
            300). V(none) clears it.
        type: raw
      mac_table_size:
        description: Maximum FDB entries (C(other_config:mac-table-size); OVS default 8192).
        type: raw
      stp:
        description: Spanning tree (C(stp_enable)). Enabling it is disruptive.
        type: bool
      other_config:
        description:
          - Bridge C(other_config), merged key by key (see O(exclusive_maps)).
          - The keys C(hwaddr), C(mac-aging-time) and C(mac-table-size) belong to their options.
        type: dict
      external_ids:
        description: Bridge C(external_ids), merged key by key.
        type: dict
      uplink:
        description:
          - The NIC (one) or bond (two or more NICs) that carries the vSwitch out of the host.
          - A NIC that holds addresses or routes, or has a kernel master, is refused unless
            O(migrate_addresses=true). Changing the uplink of an existing vSwitch is disruptive.
        type: dict
        suboptions:
          interfaces:
            description: The NICs, e.g. V([eth0]) or V([eth2, eth3]).
            type: list
            elements: str
            required: true
          bond_name:
            description: The bond port's name; required with two or more interfaces.
            type: str
          bond_mode:
            description: The bond mode (OVS default V(active-backup)).
            type: str
            choices: [active-backup, balance-slb, balance-tcp]
          lacp:
            description: LACP on the bond (V(balance-tcp) needs it negotiated).
            type: str
            choices: ['off', active, passive]
          other_config:
            description: Port C(other_config), for example C(lacp-time=fast), merged key by key.
            type: dict
      internal:
        description: The internal (kernel) port named like the bridge.
        type: dict
        suboptions:
          addresses:
            description:
              - Its addresses with prefix length (IPv4 and IPv6), set on the kernel side.
              - V(merged) adds missing ones; V(replaced) and V(overridden) also remove others,
                which is disruptive.
              - Addresses with a lifetime (SLAAC, IPv6 privacy addresses, a DHCP lease) are the
                kernel's or a DHCP client's, not configuration - V(replaced) leaves them, and
                C(before) / C(after) do not list them.
            type: list
            elements: str
          mac:
            description:
              - V(uplink) (default when the uplink is given) clones the first uplink NIC's MAC;
                or a MAC. Set through the bridge's C(other_config:hwaddr) in the same
                transaction, because ovs-vswitchd recomputes the MAC on every reconfiguration.
            type: str
      vnets:
        description:
          - VM ports. Each is found by C(attached_mac), else C(iface_id), else C(name).
          - A vnet found on another vSwitch moves here in the same transaction.
          - A vnet whose VM is not running (not plugged, no kernel interface) is reported in
            RV(pending) and nothing is created, unless C(precreate=true).
          - With V(replaced) and V(overridden), this bridge's vnets that this collection
            created and that are not listed are removed.
        type: list
        elements: dict
        suboptions:
          name:
            description: The kernel interface, e.g. V(vnet3). libvirt renames vnets on every start.
            type: str
          attached_mac:
            description: The VM's MAC, as libvirt writes it in external_ids C(attached-mac).
            type: str
          iface_id:
            description: libvirt's / os-vif's external_ids C(iface-id).
            type: str
          tag:
            description: Access VLAN (0-4095), or V(none) to clear it.
            type: raw
          trunks:
            description: VLANs carried (IDs or V("a-b") ranges); V([]) clears.
            type: list
            elements: raw
          vlan_mode:
            description: OVS C(vlan_mode), or V(none) to clear it.
            type: str
          mtu_request:
            description: The interface's requested MTU (68-65535), or V(none) to clear it.
            type: raw
          external_ids:
            description:
              - Interface C(external_ids), merged key by key. libvirt's keys (C(iface-id),
                C(attached-mac), C(vm-id), C(iface-status), C(vm-uuid)) are never removed.
            type: dict
          precreate:
            description: Add the port even though its kernel interface does not exist yet.
            type: bool
            default: false
  state:
    description:
      - V(merged) adds and updates what is listed, removes nothing.
      - V(replaced) makes each listed vSwitch exactly as given (unset options back to OVS's
        defaults, unlisted vnets of ours removed).
      - V(overridden) is V(replaced) plus deleting every vSwitch of ours that is not listed.
      - V(deleted) deletes the listed vSwitches (or all of ours).
      - V(gathered) returns the host's vSwitches in the shape of O(config), changes nothing.
      - V(rendered) returns the equivalent commands for O(config) without touching a host.
    type: str
    choices: [merged, replaced, overridden, deleted, gathered, rendered]
    default: merged
  migrate_addresses:
    description:
      - Allow an uplink NIC that holds addresses or routes (the host's management address,
        typically) and move them onto the vSwitch's internal port in the same step, after the
        transaction, with the NIC's MAC already cloned onto the internal port.
    type: bool
    default: false
  exclusive_maps:
    description:
      - With V(replaced) and V(overridden), remove C(other_config) / C(external_ids) keys that
        are not listed (never libvirt's keys nor our mark). Otherwise maps always merge.
    type: bool
    default: false
  purge_stale:
    description:
      - With V(overridden) and V(deleted), also remove vnet ports whose interface is gone or
        reports an error (VMs that died without unplugging), ours or not.
    type: bool
    default: false
seealso:
  - module: cloudnet.vswitch.guard
  - module: cloudnet.vswitch.bridge
  - module: cloudnet.vswitch.uplink
  - module: cloudnet.vswitch.vnet
"""

EXAMPLES = r"""
- name: A freshly installed host, management address on eth0, moved onto vswitch0
  cloudnet.vswitch.vswitch:
    config:
      - name: vswitch0
        uplink:
          interfaces: [eth0]
    migrate_addresses: true

- name: Two vSwitches, the second with a LACP bond, VMs found by their MAC
  cloudnet.vswitch.vswitch:
    config:
      - name: vswitch0
        uplink:
          interfaces: [eth0]
        internal:
          addresses: [203.0.113.11/24]
        vnets:
          - attached_mac: "52:54:00:12:34:56"
            tag: 10
      - name: vswitch2
        mac_aging_time: 60
        uplink:
          interfaces: [eth2, eth3]
          bond_name: bond0
          bond_mode: balance-tcp
          lacp: active
          other_config:
            lacp-time: fast

- name: Clear a vnet's VLAN tag
  cloudnet.vswitch.vswitch:
    config:
      - name: vswitch0
        vnets:
          - attached_mac: "52:54:00:12:34:56"
            tag: none

- name: What would change, as ovs-vsctl commands, without touching the host
  cloudnet.vswitch.vswitch:
    config:
      - name: vswitch1
        uplink:
          interfaces: [eth1]
    state: rendered
  register: rendered

- name: The host's vSwitches in the shape of config
  cloudnet.vswitch.vswitch:
    state: gathered
  register: facts
"""

RETURN = r"""
before:
  description: The listed vSwitches (and, for overridden/deleted, ours) before the task.
  returned: when state is merged, replaced, overridden or deleted
  type: list
  elements: dict
  sample:
    - name: vswitch0
      datapath_type: system
      fail_mode: null
      stp: false
      mac_aging_time: null
      mac_table_size: null
      other_config: {}
      external_ids: {cloudnet-vswitch: vswitch}
      uplink: {interfaces: [eth0], other_config: {}}
      internal: {addresses: [203.0.113.11/24], mac: "52:54:00:aa:00:01"}
      vnets:
        - name: vnet0
          attached_mac: "52:54:00:12:34:56"
          iface_id: 0b1e3c52-5a0e-4f3c-9d2b-0f8e1a2b3c4d
          tag: 10
          trunks: []
          vlan_mode: null
          mtu_request: null
          external_ids: {attached-mac: "52:54:00:12:34:56", iface-status: active}
after:
  description: The same vSwitches after the task (in check mode, the prediction).
  returned: when state is merged, replaced, overridden or deleted
  type: list
  elements: dict
commands:
  description:
    - The equivalent commands, for humans and review. One C(ovs-vsctl) line (one
      transaction) followed by the C(ip) commands applied to internal ports.
  returned: always
  type: list
  elements: str
  sample:
    - "ovs-vsctl -- add-br vswitch1 -- set Bridge vswitch1 datapath_type=system
      -- add-port vswitch1 eth1"
    - ip link set dev vswitch1 up
rendered:
  description: With state rendered, the commands for O(config) on an empty host.
  returned: when state is rendered
  type: list
  elements: str
gathered:
  description: With state gathered, every vSwitch (or the listed ones) in the shape of O(config).
  returned: when state is gathered
  type: list
  elements: dict
pending:
  description:
    - Vnets that were not configured because their VM is not plugged (no port, no kernel
      interface). Each is the vnet as given plus C(vswitch) and C(reason).
  returned: always
  type: list
  elements: dict
  sample: [{attached_mac: "52:54:00:12:34:99", tag: 20, vswitch: vswitch0,
            reason: "not plugged (VM not running?)"}]
summary:
  description: Counts for a one-line report per host.
  returned: when state is merged, replaced, overridden or deleted
  type: dict
  sample: {vswitches: 2, ports_added: 3, ports_changed: 1, ports_removed: 0, pending: 1}
backend:
  description: How the module talked to OVSDB (V(idl)).
  returned: success
  type: str
retries:
  description: How many times the transaction was re-planned because another client changed
    what it had read.
  returned: when state is merged, replaced, overridden or deleted
  type: int
guard:
  description:
    - The guarded apply, when the change was guarded (see O(rollback_timeout)). C(status) is
      V(confirmed) once the action plugin has confirmed it, V(would_guard) in check mode;
      C(reasons) says why it was guarded; C(reverted) lists what a rollback undid.
  returned: when the change was (or, in check mode, would be) guarded
  type: dict
  sample: {token: 0f6c1d2e-7a41-4a8e-9a53-2b1f0c3d4e5f, status: confirmed, timeout: 60,
           reasons: ["eth0, which holds the management address 198.51.100.13/24, becomes a port
           of vswitch0"]}
timing:
  description: Seconds spent in plan+commit, waiting for ovs-vswitchd, and in total.
  returned: when state is merged, replaced, overridden or deleted
  type: dict
  sample: {plan_commit_s: 0.08, wait_vswitchd_s: 0.35, total_s: 0.52}
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
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import runner, spec


def main():
    argument_spec = dict(
        config=dict(type="list", elements="dict", options=spec.VSWITCH_OPTIONS),
        state=dict(type="str", default="merged", choices=list(spec.STATES)),
        migrate_addresses=dict(type="bool", default=False),
        exclusive_maps=dict(type="bool", default=False),
        purge_stale=dict(type="bool", default=False),
        **spec.SAFETY_ARGS,
        **spec.GUARD_ARGS,
        **spec.COMMON_ARGS,
    )
    module = options.new_module(
        argument_spec=argument_spec,
        required_if=[("state", "merged", ("config",)), ("state", "replaced", ("config",)),
                     ("state", "rendered", ("config",))],
        supports_check_mode=True,
    )
    p = module.params
    runner.run(module, p["config"] or [], p["state"], options={
        k: p[k] for k in ("adopt", "allow_disruptive", "migrate_addresses", "exclusive_maps",
                          "purge_stale")}, guarded=True)


if __name__ == "__main__":
    main()
