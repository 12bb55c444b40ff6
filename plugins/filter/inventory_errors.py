# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory checked on the controller, with the modules' own rules, so that a mistake
stops provision.yml before any host is contacted (plugin_utils/inventory.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: inventory_errors
version_added: 1.0.0
short_description: Check every host's inventory for provision.yml, on the controller
description:
  - >-
    Checks, for each of O(hosts), the variables the provision role reads, before any host is
    contacted, and returns one line per mistake, C(host: field: what is wrong), for every host
    at once.
  - >-
    C(vswitches) (or C(provision_vswitches)) with the M(cloudnet.vswitch.vswitch) module's own
    argument spec and validators, keys included at every depth, with the nearest valid key
    (C(hv3: vswitches[0].vnet: unknown key (did you mean vnets?))); the role's variables
    (C(provision_*)) with its C(meta/argument_specs.yml); a variable named nearly
    C(vswitches) on a host that has none; an address of the same vSwitch's internal port, where
    that vSwitch has an uplink, declared on two hosts; a
    variable whose template cannot be evaluated.
  - When the controller's Python lacks netaddr, returns one message that says so (pip install
    netaddr) instead of checking.
options:
  _input:
    description: C(hostvars).
    type: dict
    required: true
  hosts:
    description: The hosts to check, e.g. C(ansible_play_hosts).
    type: list
    elements: str
    required: true
author:
  - cloudnet.vswitch developers
"""

EXAMPLES = r"""
- name: Refuse the inventory before any host is contacted
  run_once: true
  ansible.builtin.fail:
    msg: "{{ _errors | join('\n') }}"
  when: _errors | length > 0
  vars:
    _errors: "{{ hostvars | cloudnet.vswitch.inventory_errors(ansible_play_hosts) }}"
"""

RETURN = r"""
_value:
  description: One message per mistake; empty when every host's inventory is valid.
  type: list
  elements: str
"""

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import inventory


def inventory_errors(hostvars, hosts):
    """Every mistake in the inventory of `hosts` for provision.yml, one line each: `host:
    field: what is wrong`."""
    return inventory.fleet_errors(hostvars, hosts)


class FilterModule(object):
    def filters(self):
        return {"inventory_errors": inventory_errors}
