# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""collect_captures.yml's plan: which interfaces to capture on which hosts."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils.capture_plan import hosts_plan


def capture_plan(hosts, address, peers=(), only_hosts=(), interfaces=()):
    try:
        return hosts_plan(address, hosts, list(peers or ()), list(only_hosts or ()),
                          list(interfaces or ()))
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule(object):
    def filters(self):
        return {"capture_plan": capture_plan}
