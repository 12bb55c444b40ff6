#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vnet
short_description: Manage one VM vnet port on a vSwitch
version_added: 1.0.0
description:
  - A single-object front door to the same engine as M(cloudnet.vswitch.vswitch). The bridge
    must exist.
  - The port is found by O(attached_mac), else O(iface_id), else O(name), on any vSwitch; found
    on another vSwitch, it moves to O(bridge) in the same transaction.
  - If the VM is not running (no port, no kernel interface) nothing is created and the result
    lists it in RV(pending), unless O(precreate=true).
  - libvirt re-plugs a VM's port on every start or migration (new vnetN name, tag from the
    domain XML); keep the domain XML and this task in agreement.
  - The string V(none) clears O(tag), O(vlan_mode) or O(mtu_request).
author:
  - cloudnet.vswitch developers (@cloudnet)
extends_documentation_fragment:
  - cloudnet.vswitch.common
  - cloudnet.vswitch.common.attributes
  - cloudnet.vswitch.common.provisioning_attributes
  - cloudnet.vswitch.common.safety
options:
  bridge:
    description: The vSwitch the vnet belongs on.
    type: str
    required: true
  name:
    description: The kernel interface (vnetN).
    type: str
  attached_mac:
    description: The VM's MAC (libvirt's external_ids C(attached-mac)).
    type: str
  iface_id:
    description: libvirt's / os-vif's external_ids C(iface-id).
    type: str
  tag:
    description: Access VLAN 0-4095, or V(none).
    type: raw
  trunks:
    description: VLANs carried; V([]) clears.
    type: list
    elements: raw
  vlan_mode:
    description: OVS vlan_mode, or V(none).
    type: str
  mtu_request:
    description: Requested MTU, or V(none).
    type: raw
  external_ids:
    description: Interface external_ids, merged key by key; libvirt's keys are never removed.
    type: dict
  precreate:
    description: Add the port even though its kernel interface does not exist yet.
    type: bool
    default: false
  state:
    description:
      - V(absent) removes the port; only one this collection created, unless O(adopt=true).
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: cloudnet.vswitch.vswitch
"""

EXAMPLES = r"""
- name: Put a running VM's NIC on VLAN 20, wherever libvirt plugged it
  cloudnet.vswitch.vnet:
    bridge: vswitch0
    attached_mac: "52:54:00:12:34:56"
    tag: 20

- name: Make it a trunk again
  cloudnet.vswitch.vnet:
    bridge: vswitch0
    attached_mac: "52:54:00:12:34:56"
    tag: none
"""

RETURN = r"""
before:
  description: The vSwitch before the task, in M(cloudnet.vswitch.vswitch)'s config shape.
  returned: success
  type: list
  elements: dict
after:
  description: The vSwitch after the task (in check mode, the prediction).
  returned: success
  type: list
  elements: dict
pending:
  description: The vnet, if its VM is not plugged and nothing was done.
  returned: always
  type: list
  elements: dict
commands:
  description: The equivalent ovs-vsctl commands.
  returned: always
  type: list
  elements: str
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
    argument_spec = dict(spec.VNET_OPTIONS)
    argument_spec.update(
        bridge=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        **spec.SAFETY_ARGS, **spec.COMMON_ARGS)
    module = options.new_module(argument_spec=argument_spec, supports_check_mode=True,
                                required_one_of=[("name", "attached_mac", "iface_id")])
    p = module.params
    vnet = {k: p[k] for k in spec.VNET_OPTIONS}
    vnet["state"] = p["state"]
    runner.run(module, [{"name": p["bridge"], "vnets": [vnet]}], "merged",
               options={"adopt": p["adopt"], "allow_disruptive": p["allow_disruptive"],
                        "create_bridges": False},
               paths={"config[0].name": "bridge", "config[0].vnets[0]": ""})


if __name__ == "__main__":
    main()
