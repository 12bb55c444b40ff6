# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The diagnostics role's findings, one per problem the evidence shows, built on the controller
by plugin_utils."""

from __future__ import annotations

DOCUMENTATION = r"""
name: diagnostics_findings
version_added: 1.0.0
short_description: The findings of the fleet's vSwitch diagnostics, one sentence each
description:
  - The findings that P(cloudnet.vswitch.diagnostics_report#filter)'s report opens with, as a list
    (a non-symmetric path with evidence and its explanation, MTU mismatches along a vSwitch,
    any MAC or IP seen on two hosts, a host whose data could not be read, O(host_ip) found on
    no host). An empty list when nothing is abnormal.
options:
  _input:
    description: "{host: {vswitches, mtu_mismatches, fdb, paths, locate}}, as for
      diagnostics_report."
    type: dict
    required: true
  host_ip:
    description: The address the run was narrowed to (its locate answers are in the input).
    type: str
author:
  - cloudnet.vswitch developers
"""

EXAMPLES = r"""
- name: Say what was found
  ansible.builtin.debug:
    msg: "{{ per_host | cloudnet.vswitch.diagnostics_findings or ['nothing abnormal'] }}"
"""

RETURN = r"""
_value:
  description: The findings, one sentence each.
  type: list
  elements: str
"""

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import diagnostics_report as report


def diagnostics_findings(hosts, host_ip=None):
    return report.findings(hosts, host_ip)


class FilterModule(object):
    def filters(self):
        return {"diagnostics_findings": diagnostics_findings}
