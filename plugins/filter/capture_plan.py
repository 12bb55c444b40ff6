# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""collect_captures.yml's plan: which interfaces to capture on which hosts."""

from __future__ import annotations

DOCUMENTATION = r"""
name: capture_plan
version_added: 1.0.0
short_description: Where to capture an address's traffic across the fleet
description:
  - From what M(cloudnet.vswitch.locate) and M(cloudnet.vswitch.vswitch_info) returned per
    host, the interfaces to capture on each host - the address's own port (a VM's vnet or an
    internal port), its vSwitch's uplink and internal port, each peer's own port (its vnet or
    internal port) and the uplink that carries it on the host that holds it (the same host or
    another); where the address lives on no host, the ports that learned it; where no host
    knows it at all, every uplink and internal port (up) of the chosen hosts.
  - What the captures filter on - the address itself, or for a MAC or a VM the MAC (a VM's
    first NIC, the others named in a note).
  - >-
    Returns C({error: sentence}) when there is nothing to capture (it does not raise: the
    caller fails with that one sentence).
options:
  _input:
    description: "{host: {locate: {address: locate result}, vswitches: vswitch_info vswitches}},
      or {host: what M(cloudnet.vswitch.locate) returned with O(cloudnet.vswitch.locate#module:ips)
      and O(cloudnet.vswitch.locate#module:vswitches=true)} (its C(addresses) and C(vswitches))."
    type: dict
    required: true
  address:
    description: What to follow, as given (an IP, a MAC or a VM), of O(kind).
    type: str
    required: true
  peers:
    description: Peer addresses whose own ports (vnet or internal port) and uplinks are
      captured too, on the hosts that hold them.
    type: list
    elements: str
  only_hosts:
    description: Capture on these hosts only.
    type: list
    elements: str
  interfaces:
    description: Capture on these interfaces (on each capture host) instead.
    type: list
    elements: str
  max_bytes:
    description: The byte limit of each capture file asked for.
    type: int
  budget:
    description: The most all the capture files may take together; O(max_bytes) is lowered
      to fit (a wide capture has many files).
    type: int
  kind:
    description: What O(address) is.
    type: str
    choices: [host_ip, host_mac, vm]
    default: host_ip
author:
  - cloudnet.vswitch developers
"""

EXAMPLES = r"""
- name: Plan
  ansible.builtin.set_fact:
    plan: "{{ per_host | cloudnet.vswitch.capture_plan('203.0.113.102') }}"
"""

RETURN = r"""
_value:
  description:
    - "{hosts: {host: {interface: why}}, located: [location + host], peers_located: [location
      + host + ip], follow: {filter: IP or MAC, ips: [str]}, max_bytes: each file's limit,
      notes: [str], wide: bool}."
    - "C({error: sentence}) instead when there is nothing to capture (the address found on
      no host and no port to capture on, O(only_hosts) outside the play, a VM no host knows)."
  type: dict
"""

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils.capture_plan import (
    bytes_per_file,
    file_count,
    follow,
    hosts_plan,
)


def capture_plan(hosts, address, peers=(), only_hosts=(), interfaces=(), kind="host_ip",
                 max_bytes=None, budget=None):
    """The plan, with what the captures filter on (`follow`: filter, ips) and the byte limit
    of each file (`max_bytes`, within the fleet-wide `budget`), or {"error": the sentence}
    when there is nothing to capture: the role fails with that one sentence (an exception here
    would reach the user wrapped in three "caused by" blocks that repeat it). `address` is
    what the operator gave, of `kind` host_ip, host_mac or vm."""
    # each host's value may be locate's own result ({addresses, vswitches}, as registered)
    hosts = dict((h, d if "addresses" not in d else {"locate": d["addresses"],
                                                     "vswitches": d.get("vswitches") or []})
                 for h, d in (hosts or {}).items())
    try:
        followed = follow(hosts, address, kind)
        plan = hosts_plan(address, hosts, list(peers or ()), list(only_hosts or ()),
                          list(interfaces or ()))
    except ValueError as exc:
        return {"error": str(exc)}
    each, note = bytes_per_file(max_bytes, budget, file_count(plan["hosts"], hosts))
    return dict(plan, follow=followed, max_bytes=each,
                notes=followed["notes"] + plan["notes"] + ([note] if note else []))


class FilterModule(object):
    def filters(self):
        return {"capture_plan": capture_plan}
