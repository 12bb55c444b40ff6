# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet's drift from the inventory as rows (plugin_utils/drift.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: diagnostics_drift
version_added: 1.0.0
short_description: What differs between the inventory's vSwitches and the live ones
description:
  - One row per host, object and field where the live vSwitches differ from the inventory's
    C(vswitches), from what the diagnostics role collected per host (the
    M(cloudnet.vswitch.vswitch) module run in check mode with state C(replaced) - its C(before)
    is what lives, its C(after) what the inventory would make of it), plus the live vSwitches
    the inventory does not list.
  - The same rows as the report's C(Drift from the inventory) table.
options:
  _input:
    description: "{host: the diagnostics role's per-host data}; a host's C(drift) is
      C({before, after}), C({error}) or null (not checked)."
    type: dict
    required: true
author:
  - cloudnet.vswitch developers
"""

EXAMPLES = r"""
- name: Fail a CI job on drift
  ansible.builtin.assert:
    that: data | cloudnet.vswitch.diagnostics_drift | length == 0
"""

RETURN = r"""
_value:
  description: "[{host, object, field, declared, live}], e.g. C({host: hv2, object: vswitch0
    vnet vnet1 (52:54:00:c1:02:02), field: tag, declared: '10', live: '20'})."
  type: list
  elements: dict
"""

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import diagnostics_report


def diagnostics_drift(hosts):
    return diagnostics_report.drift_rows(hosts)


class FilterModule(object):
    def filters(self):
        return {"diagnostics_drift": diagnostics_drift}
