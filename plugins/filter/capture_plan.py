# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""collect_captures.yml's plan: which interfaces to capture on which hosts."""

from __future__ import annotations

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
