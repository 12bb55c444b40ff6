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
  description:
    - C(text), the new file; C(released), the NICs whose stanzas were turned off (empty when
      nothing changed).
    - C(lost), the options of those stanzas that nothing persists any more, one string each
      (C(eth0 - gateway 198.51.100.1), C(dns-nameservers ...)); the provision role says them.
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import ifupdown


def check_text(name, text):
    """The file's text, or one line that says what was given instead."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise AnsibleFilterError("%s: the input must be the file's text (slurp it, then "
                                 "b64decode), not a %s" % (name, type(text).__name__))
    return text


def uplinks_of(vswitches, name="ifupdown_release"):
    """{nic: vswitch} of every uplink NIC (bond members included), from the vswitch module's
    `after` (a list of vSwitches); one clear line for anything else."""
    if not isinstance(vswitches, list):
        raise AnsibleFilterError("%s: vswitches must be the vswitch module's after (a list of "
                                 "vSwitches), not a %s" % (name, type(vswitches).__name__))
    uplinks = {}
    for i, vs in enumerate(vswitches):
        if not isinstance(vs, dict) or not vs.get("name"):
            raise AnsibleFilterError("%s: vswitches[%d] is not a vSwitch with a name: %r"
                                     % (name, i, vs))
        nics = (vs.get("uplink") or {}).get("interfaces") or []
        if not isinstance(nics, list):
            raise AnsibleFilterError("%s: vswitches[%d].uplink.interfaces must be a list, not "
                                     "%r" % (name, i, nics))
        for nic in nics:
            uplinks[nic] = vs["name"]
    return uplinks


def ifupdown_release(text, vswitches):
    new, released, lost = ifupdown.release(check_text("ifupdown_release", text),
                                           uplinks_of(vswitches))
    return {"text": new, "released": released, "lost": lost}


class FilterModule(object):
    def filters(self):
        return {"ifupdown_release": ifupdown_release}
