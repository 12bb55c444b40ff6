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
# The rows are also in OUTPUT_DIR/diagnostics/<timestamp>/summary.json ("drift"), and
# collect_diagnostics.yml -e fail_on=drift fails on them; from the diagnostics role's own
# per-host results (hostvars[host]._diagnostics_data), in a play after the role:
- name: Fail a CI job on drift
  vars:
    _data: "{{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars)
               | map(attribute='_diagnostics_data'))) }}"
  ansible.builtin.assert:
    that: _data | cloudnet.vswitch.diagnostics_drift | length == 0
"""

RETURN = r"""
_value:
  description:
    - One dict per difference with C(host), C(object), C(field), C(declared) and C(live),
      for example host V(hv2), object V(vswitch0 vnet vnet1 [52:54:00:c1:02:02]) (the MAC in
      round brackets), field V(tag), declared V(10), live V(20).
    - A host whose check failed is one row, field V(drift check), live V(not checked - ...)
      (the reason); its drift is unknown, never taken for none.
  type: list
  elements: dict
"""

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import diagnostics_report


def diagnostics_drift(hosts):
    return diagnostics_report.drift_rows(hosts)


class FilterModule(object):
    def filters(self):
        return {"diagnostics_drift": diagnostics_drift}
