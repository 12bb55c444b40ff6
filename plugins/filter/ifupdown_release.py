# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A host's ifupdown file with the stanzas that would give a vSwitch's uplink an address at
boot turned off (plugin_utils/ifupdown.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: ifupdown_release
version_added: 1.0.0
short_description: Turn off ifupdown stanzas that configure a vSwitch's uplink
description:
  - A NIC that is a vSwitch's uplink (a bond member included) carries no address of its own;
    its addresses live on the vSwitch's internal port (the vswitch module moves them there with
    C(migrate_addresses)). A stanza of the host's own C(/etc/network/interfaces) that still
    configures that NIC (a static address, DHCP) would put an address back on it at the next
    boot.
  - Returns the file's text with each such C(iface) stanza commented out under a marker line,
    and the NIC's name taken off its C(auto) and C(allow-*) lines, plus the NICs released. The
    collection's own file (C(interfaces.d/cloudnet-VSWITCH)) brings the NIC up without an
    address. Idempotent.
options:
  _input:
    description: The text of an interfaces(5) file.
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
- name: Turn off what configured the uplinks
  ansible.builtin.copy:
    content: "{{ (text | cloudnet.vswitch.ifupdown_release(provision_result.after)).text }}"
    dest: /etc/network/interfaces
    backup: true
"""

RETURN = r"""
_value:
  description: C(text), the new file, and C(released), the NICs whose stanzas were turned off
    (empty when nothing changed).
  type: dict
"""

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import ifupdown


def uplinks_of(vswitches):
    """{nic: vswitch} of every uplink NIC (bond members included)."""
    uplinks = {}
    for vs in vswitches or []:
        for nic in ((vs.get("uplink") or {}).get("interfaces") or []):
            uplinks[nic] = vs["name"]
    return uplinks


def ifupdown_release(text, vswitches):
    new, released = ifupdown.release(text, uplinks_of(vswitches))
    return {"text": new, "released": released}


class FilterModule(object):
    def filters(self):
        return {"ifupdown_release": ifupdown_release}
