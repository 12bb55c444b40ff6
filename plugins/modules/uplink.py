#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: uplink
short_description: Manage the uplink (a NIC or a bond) of one vSwitch
version_added: 1.0.0
description:
  - A single-object front door to the same engine as M(cloudnet.vswitch.vswitch). The bridge
    must exist. One interface makes a plain uplink port; two or more make a bond.
  - The internal port takes the first NIC's MAC (C(other_config:hwaddr)) in the same
    transaction.
  - Changing or removing the uplink of a vSwitch is disruptive, see O(allow_disruptive).
author:
  - cloudnet.vswitch developers (@cloudnet)
extends_documentation_fragment:
  - cloudnet.vswitch.common
  - cloudnet.vswitch.common.attributes
  - cloudnet.vswitch.common.provisioning_attributes
  - cloudnet.vswitch.common.safety
  - cloudnet.vswitch.common.guard
options:
  bridge:
    description: The vSwitch.
    type: str
    required: true
  interfaces:
    description: The NICs; required with V(present).
    type: list
    elements: str
  bond_name:
    description: The bond port's name; required with two or more interfaces.
    type: str
  bond_mode:
    description: The bond mode.
    type: str
    choices: [active-backup, balance-slb, balance-tcp]
  lacp:
    description: LACP on the bond.
    type: str
    choices: ['off', active, passive]
  other_config:
    description: Port other_config, for example C(lacp-time=fast), merged key by key.
    type: dict
  migrate_addresses:
    description:
      - Allow NICs that hold addresses or routes and move them onto the internal port.
    type: bool
    default: false
  state:
    description: V(absent) removes the uplink port (disruptive).
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: cloudnet.vswitch.guard
  - module: cloudnet.vswitch.vswitch
"""

EXAMPLES = r"""
- name: A LACP bond on vswitch2
  cloudnet.vswitch.uplink:
    bridge: vswitch2
    interfaces: [eth2, eth3]
    bond_name: bond0
    bond_mode: balance-tcp
    lacp: active
    other_config:
      lacp-time: fast
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
commands:
  description: The equivalent ovs-vsctl and ip commands.
  returned: always
  type: list
  elements: str
guard:
  description: The guarded apply, when the change was guarded (see O(rollback_timeout)), as in
    M(cloudnet.vswitch.vswitch).
  returned: when the change was guarded
  type: dict
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
    argument_spec = dict(spec.UPLINK_OPTIONS)
    argument_spec["interfaces"] = dict(type="list", elements="str")
    argument_spec.update(
        bridge=dict(type="str", required=True),
        migrate_addresses=dict(type="bool", default=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        **spec.SAFETY_ARGS, **spec.GUARD_ARGS, **spec.COMMON_ARGS)
    module = options.new_module(argument_spec=argument_spec, supports_check_mode=True,
                                required_if=[("state", "present", ("interfaces",))])
    p = module.params
    if p["state"] == "present":
        uplink = {k: p[k] for k in spec.UPLINK_OPTIONS}
    else:
        uplink = {"state": "absent"}
    runner.run(module, [{"name": p["bridge"], "uplink": uplink}], "merged",
               options={"adopt": p["adopt"], "allow_disruptive": p["allow_disruptive"],
                        "migrate_addresses": p["migrate_addresses"], "create_bridges": False},
               guarded=True, paths={"config[0].name": "bridge", "config[0].uplink": ""})


if __name__ == "__main__":
    main()
