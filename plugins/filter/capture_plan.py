# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""collect_captures.yml's plan: which interfaces to capture on which hosts."""

from __future__ import annotations

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils.capture_plan import hosts_plan


def capture_plan(hosts, address, peers=(), only_hosts=(), interfaces=()):
    """The plan, or {"error": the sentence} when there is nothing to capture: the role fails
    with that one sentence (an exception here would reach the user wrapped in three
    "caused by" blocks that repeat it)."""
    try:
        return hosts_plan(address, hosts, list(peers or ()), list(only_hosts or ()),
                          list(interfaces or ()))
    except ValueError as exc:
        return {"error": str(exc)}


class FilterModule(object):
    def filters(self):
        return {"capture_plan": capture_plan}
