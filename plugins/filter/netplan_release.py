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
    file (cloud-init's C(50-cloud-init.yaml), the installer's
    C(00-installer-config.yaml)) gives that NIC comes back at the next boot,
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
  description:
    - C(text), the new file (the same text when nothing changed; every other value kept as
      written, e.g. an unquoted MAC); C(released), the NICs whose addressing was removed.
    - C(lost), what of it nothing persists any more (C(routes), C(gateway4), C(nameservers)...),
      one string each; the provision role says them.
  type: dict
"""

import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.cloudnet.vswitch.plugins.filter.ifupdown_release import (
    check_text,
    uplinks_of,
)
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import ifupdown


def netplan_release(text, vswitches):
    text = check_text("netplan_release", text)
    uplinks = uplinks_of(vswitches, "netplan_release")
    try:
        # every scalar as the text it is (YAML 1.1 would read 52:54:00:12:34:56 as a
        # base-60 number, on as true): written back quoted where needed, netplan reads it so
        doc = yaml.load(text, Loader=yaml.BaseLoader) if text.strip() else None
    except yaml.YAMLError as exc:
        raise AnsibleFilterError("netplan_release: the file is not YAML: %s"
                                 % " ".join(str(exc).split())) from None
    doc, released, lost = ifupdown.netplan_release(doc, uplinks)
    if not released:
        return {"text": text, "released": [], "lost": []}
    return {"text": yaml.safe_dump(doc, default_flow_style=False, sort_keys=False),
            "released": released, "lost": lost}


class FilterModule(object):
    def filters(self):
        return {"netplan_release": netplan_release}
