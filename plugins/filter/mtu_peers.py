# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whom each internal port of one host probes for the path MTU (plugin_utils/diagnostics_report)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: mtu_peers
version_added: 1.1.0
short_description: The other hosts' addresses on each of a host's vSwitches, for DF probes
description:
  - For one host, each vSwitch's internal port and the IPv4 and IPv6 addresses that the other
    hosts have on the internal port of the vSwitch of the same name (the same network, by the
    inventory's convention); the input of
    O(cloudnet.vswitch.path_check#module:mtu_peers).
  - Each pair of hosts is probed from one side only, so the fleet sends N(N-1)/2 probes, not
    N(N-1) - from the host whose internal port takes the larger MTU (a probe goes up to its
    sender's MTU), and between equal MTUs spread evenly over the hosts (of N hosts with an
    address on that vSwitch, each probes the next N/2 in the order of their names, around
    the circle). The probe tests the path there with DF set; its reply comes back on the same
    VLAN (fragmented where it must be).
  - A vSwitch without an address of this host's own is left out (nothing to probe from).
options:
  _input:
    description: "{host: that host's vSwitches, as M(cloudnet.vswitch.vswitch_info) returns
      them}."
    type: dict
    required: true
  host:
    description: The host that probes.
    type: str
    required: true
author:
  - cloudnet.vswitch developers
"""

EXAMPLES = r"""
- name: Probe the other hosts from each vSwitch (vswitch_info registered as info on every host)
  cloudnet.vswitch.path_check:
    mtu_peers: >-
      {{ dict(ansible_play_hosts | zip(ansible_play_hosts
      | map('extract', hostvars, ['info', 'vswitches'])))
      | cloudnet.vswitch.mtu_peers(inventory_hostname) }}
"""

RETURN = r"""
_value:
  description: "{internal port: [address]}, for example C({vswitch1: [203.0.113.32]})."
  type: dict
"""

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import diagnostics_report


def mtu_peers(vswitches, host):
    return diagnostics_report.mtu_peers(vswitches, host)


class FilterModule(object):
    def filters(self):
        return {"mtu_peers": mtu_peers}
