# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One host's vSwitches checked on the controller with the vswitch module's own rules
(plugin_utils/inventory.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: config_errors
version_added: 1.0.0
short_description: Validate a host's vSwitch config on the controller
description:
  - Applies the M(cloudnet.vswitch.vswitch) module's own argument spec (unknown keys at every
    depth with the nearest valid one, types, choices, required options) and then its
    validators (names, MACs, CIDRs, VLANs, bonds, duplicates) to a C(config) list, without
    contacting the host.
  - >-
    Returns an empty list when the config is valid, else one message per mistake that names
    the path and the value, for example C(vswitches[0].vnet: unknown key (did you mean
    vnets?)) or C(vswitches[0].vnets[2].tag: 4096 is outside the VLAN range).
  - When the controller's Python lacks netaddr, returns one message that says so (pip install
    netaddr) instead of checking.
  - P(cloudnet.vswitch.inventory_errors#filter) checks every host of a play at once.
  - Checks that need the host (does the NIC exist, does it hold addresses) are made by the
    module on the host, still before it changes anything.
options:
  _input:
    description: The C(config) of M(cloudnet.vswitch.vswitch), e.g. the host variable C(vswitches).
    type: list
    elements: dict
    required: true
  state:
    description: The state the config is meant for.
    type: str
    default: merged
author:
  - cloudnet.vswitch developers
"""

EXAMPLES = r"""
- name: Stop before anything changes when a host's vswitches are invalid
  ansible.builtin.assert:
    that: vswitches | cloudnet.vswitch.config_errors | length == 0
    fail_msg: "{{ vswitches | cloudnet.vswitch.config_errors | join('\n') }}"
"""

RETURN = r"""
_value:
  description: The error messages; empty when the config is valid.
  type: list
  elements: str
"""

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import inventory


def config_errors(vswitches, state="merged"):
    """[] if `vswitches` is a valid config of the vswitch module, else one message per
    mistake."""
    return inventory.config_errors(vswitches, state)[0]


class FilterModule(object):
    def filters(self):
        return {"config_errors": config_errors}
