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
  - For one host, each vSwitch's internal port and the IPv4 and IPv6 addresses of the other
    hosts it probes on the internal port of the vSwitch of the same name (the same network,
    by the inventory's convention); the input of
    O(cloudnet.vswitch.path_check#module:mtu_peers). Without O(host), that for every host at
    once, by host, computed once for the fleet.
  - The hosts with an address on a vSwitch are paired around the circle of their names, each
    with O(peers) others on each side at distances spread from the next host to the far side
    (every pair with O(peers=0)). Each pair is probed from one side only - from the host whose
    internal port takes the larger MTU (a probe goes up to its sender's MTU), and between
    equal MTUs spread evenly over the hosts. The probe tests the path there with DF set; its
    reply comes back on the same VLAN (fragmented where it must be).
  - A vSwitch without an address of this host's own is left out (nothing to probe from).
options:
  _input:
    description: "{host: that host's vSwitches, as M(cloudnet.vswitch.vswitch_info) returns
      them}."
    type: dict
    required: true
  host:
    description: The host that probes; omitted, every host (a dict by host).
    type: str
  peers:
    description:
      - How many others each host is paired with (it probes about as many as probe it); the
        fleet's probes then grow with the fleet, about N times this. A fleet of up to twice
        this plus one hosts is paired pair by pair.
      - 0 pairs every host with every other (N(N-1)/2 probed paths).
    type: int
    default: 0
author:
  - cloudnet.vswitch developers
"""

EXAMPLES = r"""
- name: Whom each vSwitch probes, once for the fleet (vswitch_info registered as info)
  run_once: true
  ansible.builtin.set_fact:
    probes: >-
      {{ dict(ansible_play_hosts | zip(ansible_play_hosts
      | map('extract', hostvars, ['info', 'vswitches'])))
      | cloudnet.vswitch.mtu_peers(peers=3) }}

- name: Probe them
  cloudnet.vswitch.path_check:
    mtu_peers: "{{ probes[inventory_hostname] | default({}) }}"
"""

RETURN = r"""
_value:
  description:
    - "{internal port: [address]}, for example C({vswitch1: [203.0.113.32]})."
    - "Without O(host), C({host: {internal port: [address]}}) (hosts with nothing to probe left
      out)."
  type: dict
"""

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import diagnostics_report


def mtu_peers(vswitches, host=None, peers=0):
    return diagnostics_report.mtu_peers(vswitches, host, int(peers))


class FilterModule(object):
    def filters(self):
        return {"mtu_peers": mtu_peers}
