#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: trace
short_description: Say what a host's vSwitch would do with a frame, and why, without sending one
version_added: 1.1.0
description:
  - Traces a frame through the vSwitch of the port it enters by with C(ovs-appctl
    ofproto/trace) and says in words where it goes or why it dies there - for example that a
    frame on VLAN 30 from the uplink is dropped because no port carries VLAN 30, that a flow
    C(ip,nw_dst=203.0.113.103,priority=100) in table 0 drops it, or that it leaves by the
    uplink tagged 20.
  - The frame is described by its headers, never given as a packet and never with
    C(-generate), so the trace has no side effects (NORMAL does not learn its source MAC).
  - Each port the frame leaves by is checked against OVSDB for what loses it there - a link that is
    down, or an MTU smaller than O(size).
  - One frame from the top-level options, or several with O(traces) (one C(dpif/show) and one
    trace per frame, in one module run). The fleet-wide path, hop by hop from a VM to another,
    is C(playbooks/trace.yml).
  - Never changes anything.
author:
  - cloudnet.vswitch developers (@cloudnet)
extends_documentation_fragment:
  - cloudnet.vswitch.common
  - cloudnet.vswitch.common.attributes
  - cloudnet.vswitch.common.info_attributes
options:
  traces:
    description:
      - Frames to trace, each with the keys of the top-level options O(in_port) to O(size).
        When set, the top-level frame options are ignored.
    type: list
    elements: dict
  in_port:
    description: The port the frame enters the vSwitch by (a vnet, an uplink or bond, the
      internal port). Required unless O(traces) is set.
    type: str
  src_mac:
    description: The frame's source MAC.
    type: str
  dst_mac:
    description: The frame's destination MAC. Required unless O(traces) is set.
    type: str
  vlan:
    description: The VLAN the frame carries as it enters (0 or unset, untagged; a VM's frames
      are untagged, an uplink's usually tagged).
    type: int
  protocol:
    description: The frame's protocol. V(icmp), V(tcp), V(udp) and V(ip) with IPv6 addresses
      mean their IPv6 forms.
    type: str
    choices: [arp, ip, ip6, icmp, icmp6, tcp, udp]
  src_ip:
    description: The source IPv4 or IPv6 address (ARP's sender address with V(arp)).
    type: str
  dst_ip:
    description: The destination IPv4 or IPv6 address (ARP's target address with V(arp)).
    type: str
  src_port:
    description: The TCP or UDP source port.
    type: int
  dst_port:
    description: The TCP or UDP destination port.
    type: int
  icmp_type:
    description: The ICMP (ICMPv6) type, for example 8 for an echo request.
    type: int
  arp_op:
    description: The ARP operation, 1 request, 2 reply.
    type: int
  size:
    description: The packet's size in bytes (IP header and payload); an output port whose MTU
      is smaller loses it. Unset, MTUs are not checked.
    type: int
notes:
  - A balance-tcp bond picks its member after a recirculation; the output is then named by the
    bond.
  - Flows other than a single NORMAL (an OpenFlow controller's, a hand-made one) are reported
    as the rule that matched, with its actions.
"""

EXAMPLES = r"""
- name: Would a VM's ping to 203.0.113.200 leave by the uplink, and on which VLAN?
  cloudnet.vswitch.trace:
    in_port: vnet0
    src_mac: "52:54:00:12:34:56"
    dst_mac: "52:54:00:aa:00:c8"
    protocol: icmp
    src_ip: 203.0.113.10
    dst_ip: 203.0.113.200
    icmp_type: 8
    size: 1500
  register: hop

- name: Say it
  ansible.builtin.debug:
    msg: "{{ hop.traces[0].sentence }}"

- name: The reply as it would arrive by the uplink (untagged), and the same on VLAN 30
  cloudnet.vswitch.trace:
    traces:
      - {in_port: eth0, src_mac: "52:54:00:aa:00:c8", dst_mac: "52:54:00:12:34:56",
         protocol: icmp, src_ip: 203.0.113.200, dst_ip: 203.0.113.10, icmp_type: 0}
      - {in_port: eth0, vlan: 30, src_mac: "52:54:00:aa:00:c8", dst_mac: "52:54:00:12:34:56",
         protocol: icmp, src_ip: 203.0.113.200, dst_ip: 203.0.113.10, icmp_type: 0}
"""

RETURN = r"""
traces:
  description: One result per frame, in the order asked.
  returned: success
  type: list
  elements: dict
  contains:
    bridge: {description: The vSwitch traced (the one O(in_port) is on)., type: str}
    in_port: {description: The port the frame entered by., type: str}
    flow: {description: The flow given to C(ofproto/trace)., type: str}
    vlan:
      description: The VLAN the vSwitch put the frame on (an access port's tag, or the tag it
        carried), null for untagged.
      type: int
    verdict:
      description:
        - V(output) (to the port a learned MAC names), V(flood) (the destination is not in the
          MAC table), V(drop) (nothing leaves, see RV(traces[].reason)), V(lost) (it leaves,
          but only by ports that lose it, see RV(traces[].outputs[].problem)), V(other)
          (flows other than NORMAL decided, see RV(traces[].rule)).
      type: str
    reason:
      description: Why, in words (NORMAL's own, or the flow that dropped it).
      type: str
    rule:
      description: The flow that decided, when it was not NORMAL (table, match, priority,
        actions, text).
      type: dict
    outputs:
      description: The ports the frame leaves by.
      type: list
      elements: dict
      contains:
        port: {description: The port., type: str}
        role: {description: "uplink, vnet, internal or other.", type: str}
        vlan: {description: The VLAN it is tagged with there (null untagged)., type: int}
        link_state: {description: The interface's link state in OVSDB., type: str}
        mtu: {description: The interface's MTU in OVSDB., type: int}
        problem: {description: What loses it there (null if nothing)., type: str}
    entry:
      description: When the frame cannot even enter (larger than the MTU of the port it
        arrives by, or a bond none of whose members is enabled, from C(bond/show) and
        C(lacp/show), read only on a bridge that has a bond), that port with its C(problem),
        else null.
      type: dict
    actions: {description: The datapath actions of the trace., type: str}
    sentence: {description: The verdict in one line., type: str}
    trace: {description: C(ofproto/trace)'s own output., type: str}
  sample:
    - bridge: vswitch1
      in_port: eth1
      flow: "icmp,in_port=3,dl_vlan=30,dl_src=52:54:00:c1:02:03,dl_dst=52:54:00:c1:01:03"
      vlan: 30
      verdict: drop
      reason: "no port carries VLAN 30 but the internal port (the host's kernel gets it
        tagged, and ignores it)"
      outputs: [{port: vswitch1, role: internal, vlan: 30, link_state: up, mtu: 1500,
                 problem: null}]
      actions: "3"
      sentence: "vswitch1: frame on VLAN 30 from eth1 (uplink), no port carries VLAN 30 but
        the internal port (the host's kernel gets it tagged, and ignores it) → dropped"
"""

from ansible_collections.cloudnet.vswitch.plugins.module_utils import options
from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import trace_run
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import runner_info, spec


def main():
    module = options.new_module(
        argument_spec=dict(
            traces=dict(type="list", elements="dict"),
            in_port=dict(type="str"),
            src_mac=dict(type="str"),
            dst_mac=dict(type="str"),
            vlan=dict(type="int"),
            protocol=dict(type="str", choices=["arp", "ip", "ip6", "icmp", "icmp6", "tcp",
                                               "udp"]),
            src_ip=dict(type="str"),
            dst_ip=dict(type="str"),
            src_port=dict(type="int"),
            dst_port=dict(type="int"),
            icmp_type=dict(type="int"),
            arp_op=dict(type="int"),
            size=dict(type="int"),
            **spec.COMMON_ARGS,
        ),
        supports_check_mode=True,
    )
    runner_info.run(module, trace_run.collect)


if __name__ == "__main__":
    main()
