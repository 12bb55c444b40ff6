#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: path_check
short_description: Tell whether the host answers a peer on the vSwitch the request came in by
version_added: 1.0.0
description:
  - For every address on a vSwitch's internal port (the kernel port named like the bridge,
    where the host's addresses live) and every peer, IPv4 and IPv6, finds the interface the
    request arrives on, the interface the reply would leave by, and what the host does with a
    request whose route back leaves by another vSwitch.
  - B(Ingress) is the internal port that holds the local address. This is an assumption (the
    request for address A arrives where A lives when the hosts that send it resolve A there,
    that is with C(arp_ignore=1) (or C(arp_filter=1)) on the internal ports or a static
    neighbour entry on the sender). With the defaults (all 0) Linux answers ARP for any of its
    addresses on any interface (ARP flux) and the request may arrive elsewhere; RV(paths[].notes)
    then says so.
  - B(Egress) is the interface of C(ip -j route get PEER from LOCAL).
  - The B(verdict) is V(symmetric) when egress is ingress. Otherwise the request is dropped on
    arrival (V(asymmetric-dropped)), so no reply is ever made, when the effective IPv4
    C(rp_filter) of the ingress interface (the maximum of C(conf/all) and C(conf/IFACE)) is 1
    (strict), or when a strict reverse-path firewall rule sees it (nftables
    C(fib saddr . iif oif missing drop), C(-m rpfilter --invert -j DROP), firewalld's
    C(IPv6_rpfilter)). With C(rp_filter) 0 or 2 (loose) and no such rule the request is
    answered, by the other vSwitch (V(asymmetric-answered)). V(unreachable) means there is no
    route back to the peer at all.
  - IPv6 has no C(rp_filter) sysctl; only firewall rules filter by reverse path there.
  - The kernel's own view corroborates the verdict, with
    C(ip -j route get LOCAL from PEER iif INGRESS) fails with C(Invalid argument) (or
    C(Invalid cross-device link) on the forwarding path) when source validation rejects the
    request, and shows C(local ... dev lo) otherwise. It does not consult firewall rules.
    RV(paths[].kernel_check.agrees) is false when it says something else than the verdict
    implies.
  - The reverse-path drop counter C(TcpExtIPReversePathFilter) is read from
    C(/proc/net/netstat) (or C(nstat)); it counts drops of the whole network namespace,
    not of one path.
  - Firewall tools are used only where they exist (C(nft), C(iptables-save),
    C(ip6tables-save), C(/etc/firewalld/firewalld.conf)); a missing one is skipped.
  - Read-only. Every command is an argv list; nothing is written, not even C(nstat)'s
    history file.
author:
  - cloudnet.vswitch developers (@cloudnet)
extends_documentation_fragment:
  - cloudnet.vswitch.common
  - cloudnet.vswitch.common.attributes
  - cloudnet.vswitch.common.info_attributes
options:
  interfaces:
    description:
      - Check only these internal ports (vSwitch names, for example V(vswitch1)).
      - Default is every internal port. A name that is not a vSwitch's internal port fails.
    type: list
    elements: str
  peers:
    description:
      - The peers' IP addresses (IPv4 and/or IPv6, no prefix length). Each is paired with the
        local addresses of its own family.
      - Default is the neighbours on the internal ports (entries with a MAC, link-local ones
        left out) and the default gateways.
    type: list
    elements: str
  watch:
    description:
      - When a path's request is dropped by C(rp_filter), read the drop counter again after
        this many seconds (0 to 60) and return the rise, the evidence that such drops happen
        now (RV(paths[].drop_counter_rise)). Nothing is waited for when no path is dropped
        that way, so a healthy host costs nothing. 0 (default) reads the counter once.
    type: int
    default: 0
  mtu_peers:
    description:
      - DF probes (C(ping -M do), one echo request each, never fragmented) from an internal
        port to peers' addresses, a dict of internal port to a list of addresses, for example
        the other hosts' addresses on the same vSwitch. Each finds the largest packet that gets
        an answer, up to the port's MTU (the smallest size first, 576 bytes or 1280 for IPv6,
        then the full size, so a healthy path costs two probes; then a bisection), in
        RV(mtu_probes). A size fails only when two probes in a row go unanswered, and a size
        found below the MTU is checked again (the MTU, then the first size refused) before it
        is believed; an answer then marks the path C(lossy).
      - A path that answers not even the smallest probe says nothing about MTUs (a firewall
        may drop ICMP) and has no size.
    type: dict
    version_added: 1.1.0
notes:
  - The module must run in the network namespace of the host's vSwitches (the host itself).
  - Reading the firewall rules needs root, like the rest of the module.
seealso:
  - module: cloudnet.vswitch.vswitch
"""

EXAMPLES = r"""
- name: A VM's request arriving on the other vSwitch of the host (vswitch1 holds 203.0.113.31)
  cloudnet.vswitch.path_check:
    interfaces: [vswitch1]
    peers: [203.0.113.101]
    watch: 3
  register: paths

- name: Fail when any path drops requests
  ansible.builtin.assert:
    that: paths.summary['asymmetric-dropped'] == 0
    fail_msg: "{{ paths.paths | selectattr('verdict', 'eq', 'asymmetric-dropped')
      | map(attribute='explanation') | list }}"

- name: Every internal address against the neighbours and default gateways, IPv4 and IPv6
  cloudnet.vswitch.path_check:
  register: all_paths
"""

RETURN = r"""
paths:
  description: One entry per local address and peer of the same family.
  returned: success
  type: list
  elements: dict
  contains:
    local_address:
      description: The host's address on the internal port.
      type: str
      sample: 203.0.113.31
    interface:
      description: The ingress interface, the internal port holding C(local_address).
      type: str
      sample: vswitch1
    peer:
      description: The peer's address.
      type: str
      sample: 203.0.113.101
    family:
      description: 4 or 6.
      type: int
    egress:
      description: The interface the reply would leave by; null when there is no route back.
      type: str
      sample: vswitch0
    egress_error:
      description: The error of C(ip route get PEER from LOCAL), when it failed.
      type: str
      returned: when there is no route back
    verdict:
      description: symmetric, asymmetric-dropped, asymmetric-answered or unreachable.
      type: str
      sample: asymmetric-dropped
    dropped_by:
      description: V(rp_filter), V(firewall) or null.
      type: str
    explanation:
      description: One sentence that explains the verdict and names the vSwitches.
      type: str
      sample: "A request from 203.0.113.101 to 203.0.113.31 arrives on vswitch1, but the
        route back leaves by vswitch0; rp_filter on vswitch1 is 1 (strict, the larger of all 0
        and vswitch1 1), so the kernel drops the request and never replies
        (TcpExtIPReversePathFilter: 3)."
    notes:
      description: Other things worth knowing (ARP flux, a disagreeing kernel check).
      type: list
      elements: str
    rp_filter:
      description: C(conf/all), C(conf/INTERFACE) and the effective value (their maximum);
        null for IPv6.
      type: dict
      sample: {all: 0, interface: 1, effective: 1}
    arp:
      description: Effective C(arp_ignore), C(arp_announce) (maximum of all and the
        interface) and C(arp_filter) (all OR the interface); null for IPv6.
      type: dict
      sample: {arp_ignore: 1, arp_announce: 2, arp_filter: 0}
    firewall_rpfilter:
      description: The reverse-path firewall rules that see this request, each prefixed by
        its source (nft, iptables, ip6tables, firewalld).
      type: list
      elements: str
      sample: ["nft: inet filter chain prerouting: fib saddr . iif oif missing drop"]
    drop_counter:
      description: TcpExtIPReversePathFilter of the host (whole namespace), or null.
      type: int
      sample: 3
    drop_counter_rise:
      description:
        - With O(watch), on a path dropped by C(rp_filter), how much the counter rose in
          RV(paths[].drop_counter_window) seconds (the whole namespace's drops, not this
          path's alone); null when it was not watched or cannot be read.
      type: int
      sample: 3
    drop_counter_window:
      description: The seconds watched (O(watch)), or null.
      type: int
      sample: 3
    peer_neighbours:
      description:
        - The host's neighbour-table entries for the peer (C(ip neigh)), on any interface. An
          entry on O(interfaces)' port with a MAC is evidence that the peer is on that port's
          network, so that its request can arrive there; the reports make a finding of a
          non-symmetric path only with such evidence (or packets seen), and list the others as
          what could happen.
      type: list
      elements: dict
      sample: [{dev: vswitch1, mac: "52:54:00:c1:01:01", state: STALE}]
    kernel_check:
      description:
        - The kernel's own source validation, C(ip -j route get LOCAL from PEER iif
          INTERFACE). C(ok) is whether it returned a route, C(output_or_error) its JSON or
          error, C(expected) V(local) or V(rejected) (what the verdict implies), C(agrees)
          whether the two match.
      type: dict
      contains:
        argv: {description: The command that was run., type: list, elements: str}
        ok: {description: Whether it returned a route., type: bool}
        output_or_error: {description: Its JSON output or its error message., type: raw}
        expected:
          description: What the verdict implies, V(local) or V(rejected).
          type: str
        agrees: {description: Whether the kernel's answer matches the verdict., type: bool}
      sample:
        argv: [ip, -j, route, get, 203.0.113.31, from, 203.0.113.101, iif, vswitch1]
        ok: false
        output_or_error: "RTNETLINK answers: Invalid argument"
        expected: rejected
        agrees: true
summary:
  description: How many paths got each verdict, and how many kernel checks disagreed.
  returned: success
  type: dict
  sample: {symmetric: 1, asymmetric-dropped: 1, asymmetric-answered: 0, unreachable: 0,
           disagreements: 0}
peers:
  description: The peers used (given or default).
  returned: success
  type: list
  elements: str
interfaces:
  description: The internal ports checked.
  returned: success
  type: list
  elements: str
mtu_probes:
  description: The DF probes of O(mtu_peers), one entry per port and peer ([] without it).
  returned: success
  type: list
  elements: dict
  version_added: 1.1.0
  contains:
    interface:
      description: The internal port the probes left by.
      type: str
    address:
      description: The peer's address.
      type: str
    mtu:
      description: The port's MTU (bytes), the largest size probed.
      type: int
    largest:
      description: The largest packet (bytes, IP header included) that was answered, null when
        none was, or when a size refused before was answered on the second look (C(lossy)).
      type: int
    answered:
      description: Whether any probe was answered.
      type: bool
    lossy:
      description: Whether replies were lost on the way (a size refused before was answered
        when checked again); a lossy path's C(largest) is its MTU when that was answered, null
        otherwise - loss is no evidence of a small MTU.
      type: bool
      version_added: 1.1.0
    probes:
      description: How many probes were sent.
      type: int
  sample:
    - {interface: vswitch1, address: 203.0.113.32, mtu: 1500, largest: 1300, answered: true,
       lossy: false, probes: 24}
drop_counter:
  description: TcpExtIPReversePathFilter of the host, or null where it cannot be read.
  returned: success
  type: int
missing:
  description:
    - On failure because the host lacks something, what it lacks, by the name of the package,
      command or daemon (V(python3-openvswitch), V(ovs-vsctl), V(python3-netaddr),
      V(ovsdb-server)); the message says how to install it. A playbook can tell such a host
      (install, then run again) from a change that was refused.
  returned: failure, when something the host needs is missing
  type: list
  elements: str
  sample: [python3-openvswitch, ovs-vsctl]
"""

from ansible_collections.cloudnet.vswitch.plugins.module_utils import options
from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import path_run
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import runner_info, spec


def main():
    module = options.new_module(
        argument_spec=dict(
            interfaces=dict(type="list", elements="str"),
            peers=dict(type="list", elements="str"),
            watch=dict(type="int", default=0),
            mtu_peers=dict(type="dict"),
            **spec.COMMON_ARGS,
        ),
        supports_check_mode=True,
    )
    runner_info.run(module, path_run.collect)


if __name__ == "__main__":
    main()
