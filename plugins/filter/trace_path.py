# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""trace.yml's path across the fleet: the frames each round traces, then the verdicts."""

from __future__ import annotations

DOCUMENTATION = r"""
name: trace_path
version_added: 1.1.0
short_description: A frame's path from one address to another across the fleet, hop by hop
description:
  - From what M(cloudnet.vswitch.locate) returned per host, the frames M(cloudnet.vswitch.trace)
    traces, round by round, and then the verdict of each direction (the request, and the reply
    back) - delivered to the receiver's port, or where it stops and why.
  - Round 1 traces the frame entering the sender's vSwitch by its own port; where it leaves by
    an uplink towards another host, round 2 traces it entering the receiver's vSwitch by its
    uplink on the VLAN round 1 tagged it with. The physical network in between is not traced.
  - Call it with the same arguments three times - without O(first) (round 1's frames), with
    O(first) (round 2's, or the verdicts when there is no round 2), with both (the verdicts).
  - Returns C({error - sentence}) when an address lives on none of the hosts.
options:
  _input:
    description: "{host: {locate: {address: locate result}, vswitches: vswitch_info vswitches}}."
    type: dict
    required: true
  src:
    description: The sender - an IP address, or a VM's MAC.
    type: str
    required: true
  dst:
    description: The receiver - an IP address, or a VM's MAC.
    type: str
    required: true
  protocol:
    description: The frame's protocol (M(cloudnet.vswitch.trace)'s choices).
    type: str
    default: icmp
  port:
    description: The TCP or UDP destination port of the request.
    type: int
  size:
    description: The packet size checked against each output's MTU (default the sender's port's
      MTU, the largest packet it sends).
    type: int
  src_ip:
    description: The sender's IP the frames carry, where O(src) is a MAC whose IP no host knows.
    type: str
  dst_ip:
    description: The receiver's IP the frames carry, where O(dst) is a MAC whose IP no host
      knows.
    type: str
  first:
    description: "Round 1's results: {host: trace module result}."
    type: dict
  second:
    description: "Round 2's results: {host: trace module result}."
    type: dict
author:
  - cloudnet.vswitch developers
"""

EXAMPLES = r"""
- name: Round 1's frames
  ansible.builtin.set_fact:
    round1: "{{ seen | cloudnet.vswitch.trace_path('203.0.113.103', '203.0.113.107') }}"
"""

RETURN = r"""
_value:
  description:
    - "While a round is to run - {round: 1 or 2, hosts: {host: [frames]}}; then {round: null,
      directions: [{from, to, hops: [{host, bridge, in_port, verdict, reason, outputs,
      sentence}], verdict: delivered | stopped, stops_at: {host, bridge, port, cause},
      sentence}], summary: [sentences]}."
  type: dict
"""

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils.trace_path import plan


def trace_path(seen, src, dst, protocol="icmp", port=None, size=None, src_ip=None, dst_ip=None,
               first=None, second=None):
    return plan(seen, src, dst, protocol or None, port or None, int(size) if size else None,
                first, second, (src_ip or None, dst_ip or None))


class FilterModule(object):
    def filters(self):
        return {"trace_path": trace_path}
