# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A host's netplan file without the addressing that would give a vSwitch's uplink an address
at boot (plugin_utils/ifupdown.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: netplan_release
version_added: 1.0.0
short_description: Remove the addressing of a vSwitch's uplinks from a netplan file
description:
  - A NIC that is a vSwitch's uplink (a bond member included) carries no address of its own.
    netplan merges its files by appending lists, so an address, DHCP or a route that another
    file (the installer's C(50-cloud-init.yaml)) gives that NIC comes back at the next boot,
    whatever the collection's own file says.
  - Returns the file's text with C(addresses), C(dhcp4), C(dhcp6), C(gateway4), C(gateway6),
    C(routes), C(routing-policy), C(nameservers) and C(accept-ra) removed from the NIC's
    C(ethernets) entry (by its id or its C(set-name)), the entry itself kept, and the NICs
    released. Comments are not kept (the task keeps a backup). Idempotent.
options:
  _input:
    description: The text of a netplan YAML file.
    type: str
    required: true
  vswitches:
    description: The vSwitches (the vswitch module's C(after)); their C(uplink.interfaces) are
      released.
    type: list
    elements: dict
    required: true
author:
  - cloudnet.vswitch developers
"""

EXAMPLES = r"""
- name: Remove what gave the uplinks an address
  ansible.builtin.copy:
    content: "{{ (text | cloudnet.vswitch.netplan_release(provision_result.after)).text }}"
    dest: /etc/netplan/50-cloud-init.yaml
    mode: "0600"
    backup: true
"""

RETURN = r"""
_value:
  description: C(text), the new file (the same text when nothing changed), and C(released), the
    NICs whose addressing was removed.
  type: dict
"""

import yaml

from ansible_collections.cloudnet.vswitch.plugins.filter.ifupdown_release import uplinks_of
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import ifupdown


def netplan_release(text, vswitches):
    doc = yaml.safe_load(text) if text and text.strip() else None
    if not isinstance(doc, dict):
        return {"text": text, "released": []}
    doc, released = ifupdown.netplan_release(doc, uplinks_of(vswitches))
    if not released:
        return {"text": text, "released": []}
    return {"text": yaml.safe_dump(doc, default_flow_style=False, sort_keys=False),
            "released": released}


class FilterModule(object):
    def filters(self):
        return {"netplan_release": netplan_release}
