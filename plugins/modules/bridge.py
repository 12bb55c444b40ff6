#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: bridge
short_description: Manage one Open vSwitch bridge (a vSwitch) and its internal port
version_added: 1.0.0
description:
  - A single-object front door to the same engine as M(cloudnet.vswitch.vswitch), for ad-hoc
    tasks and C(ansible -m). V(present) merges the given settings; unset options are left as
    they are. V(absent) deletes the bridge with its ports.
  - The string V(none) clears C(fail_mode), C(mac_aging_time) or C(mac_table_size).
author:
  - cloudnet.vswitch developers (@cloudnet)
extends_documentation_fragment:
  - cloudnet.vswitch.common
  - cloudnet.vswitch.common.attributes
  - cloudnet.vswitch.common.provisioning_attributes
  - cloudnet.vswitch.common.safety
  - cloudnet.vswitch.common.guard
options:
  name:
    description: The bridge (and internal port) name.
    type: str
    required: true
  state:
    description:
      - V(absent) deletes only a bridge this collection created (or with O(adopt=true)), and
        refuses one that carries ports it did not create (VMs' vnets) unless O(adopt=true).
    type: str
    choices: [present, absent]
    default: present
  datapath_type:
    description: V(system) (kernel, the default for new bridges) or V(netdev) (userspace).
    type: str
    choices: [system, netdev]
  fail_mode:
    description: V(standalone), V(secure) (disruptive) or V(none).
    type: str
    choices: [standalone, secure, none]
  mac_aging_time:
    description: FDB aging in seconds (OVS default 300), or V(none).
    type: raw
  mac_table_size:
    description: Maximum FDB entries (OVS default 8192), or V(none).
    type: raw
  stp:
    description: Spanning tree. Enabling it is disruptive.
    type: bool
  other_config:
    description: Bridge other_config, merged key by key; V(null) removes a key.
    type: dict
  external_ids:
    description: Bridge external_ids, merged key by key; V(null) removes a key.
    type: dict
  internal:
    description: The internal port named like the bridge.
    type: dict
    suboptions:
      addresses:
        description: Addresses (CIDR) to add on the kernel side.
        type: list
        elements: str
      mac:
        description: A MAC for the internal port (C(other_config:hwaddr)).
        type: str
seealso:
  - module: cloudnet.vswitch.guard
  - module: cloudnet.vswitch.vswitch
  - module: cloudnet.vswitch.uplink
"""

EXAMPLES = r"""
- name: A userspace bridge with a 60 s MAC aging time
  cloudnet.vswitch.bridge:
    name: vswitch9
    datapath_type: netdev
    mac_aging_time: 60

- name: Remove it
  cloudnet.vswitch.bridge:
    name: vswitch9
    state: absent
"""

RETURN = r"""
before:
  description: The bridge in the shape of M(cloudnet.vswitch.vswitch)'s config, or nothing.
  returned: success
  type: list
  elements: dict
after:
  description: The bridge after the task (in check mode, the prediction).
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
    argument_spec = dict(spec.BRIDGE_OPTIONS)
    argument_spec.update(state=dict(type="str", default="present", choices=["present", "absent"]),
                         **spec.SAFETY_ARGS, **spec.GUARD_ARGS, **spec.COMMON_ARGS)
    module = options.new_module(argument_spec=argument_spec, supports_check_mode=True)
    p = module.params
    vswitch = {k: p[k] for k in spec.BRIDGE_OPTIONS}
    runner.run(module, [vswitch], "merged" if p["state"] == "present" else "deleted",
               options={"adopt": p["adopt"], "allow_disruptive": p["allow_disruptive"]},
               guarded=True, paths={"config[0]": ""})


if __name__ == "__main__":
    main()
