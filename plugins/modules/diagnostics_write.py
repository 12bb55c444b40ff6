#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: diagnostics_write
short_description: Write a diagnostics run - each host's JSON, the report, the summary
version_added: 1.1.0
description:
  - Runs on the controller (an action plugin; nothing runs on the managed hosts). The
    C(diagnostics) role's last step, in one task for the whole fleet. It takes each host's
    results (the fact O(fact) the role set on every host of the play) and writes, mode 0600
    in directories 0700, C(<dir>/<host>/vswitches.json), C(fdb.json), C(routes.json) and
    C(locate.json) (when a locate ran), C(report.md), C(report.html) and C(summary.json)
    (the host count, the findings and the drift rows).
  - A host of the play without results (unreachable, or a module failed before the fact was
    set) has no directory and is one finding of the report (C(no data)).
  - The findings and the drift are also returned, for the play's message and C(fail_on).
author:
  - cloudnet.vswitch developers (@cloudnet)
options:
  dir:
    description: The run's directory (created, 0700), C(OUTPUT_DIR/diagnostics/<UTC timestamp>).
    type: path
    required: true
  hosts:
    description: The hosts whose results are written. Default, every host of the play
      (C(ansible_play_hosts_all)).
    type: list
    elements: str
  fact:
    description: The name of the fact holding a host's results (see the
      P(cloudnet.vswitch.diagnostics_report#filter) filter for its shape).
    type: str
    default: _diagnostics_data
  host_ip:
    description: The address the run was narrowed to, if any.
    type: str
seealso:
  - plugin: cloudnet.vswitch.diagnostics_report
    plugin_type: filter
  - plugin: cloudnet.vswitch.diagnostics_drift
    plugin_type: filter
extends_documentation_fragment:
  - cloudnet.vswitch.common.attributes
  - cloudnet.vswitch.common.action_attributes
attributes:
  action:
    details: The work is done by the action plugin on the controller.
  check_mode:
    details: Nothing is written; the findings and the drift are returned all the same.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Every run rewrites the run directory's files.
"""

EXAMPLES = r"""
# What the diagnostics role does once every host's results are in (roles/diagnostics), here
# with vswitch_info's alone.
- name: Ports and roles of this host
  cloudnet.vswitch.vswitch_info:
  register: info

- name: Keep them as this host's results
  ansible.builtin.set_fact:
    my_diagnostics:
      vswitches: "{{ info.vswitches }}"
      mtu_mismatches: "{{ info.mtu_mismatches }}"
      ovs: "{{ info.ovs }}"

- name: Each host's JSON, the report and the summary, in one task on the controller
  run_once: true
  cloudnet.vswitch.diagnostics_write:
    dir: "{{ output_dir }}/diagnostics/{{ now(utc=true, fmt='%Y%m%dT%H%M%SZ') }}"
    fact: my_diagnostics
  register: written

- name: What it found, and where the report is
  ansible.builtin.debug:
    msg: "{{ written.findings | length }} finding(s); {{ written.written | select('search',
      'report.html$') | first }}"
"""

RETURN = r"""
findings:
  description: The report's findings, worst first, one sentence each.
  returned: always
  type: list
  elements: str
drift:
  description: The drift rows (host, object, field, declared, live, and changed where known),
    as the P(cloudnet.vswitch.diagnostics_drift#filter) filter returns them.
  returned: always
  type: list
  elements: dict
written:
  description: The files written (none in check mode).
  returned: always
  type: list
  elements: str
  sample: [/out/diagnostics/20261204T160000Z/hv1/vswitches.json,
           /out/diagnostics/20261204T160000Z/report.html]
"""

from ansible.module_utils.basic import AnsibleModule

ARGUMENT_SPEC = {"dir": {"type": "path", "required": True},
                 "hosts": {"type": "list", "elements": "str"},
                 "fact": {"type": "str", "default": "_diagnostics_data"},
                 "host_ip": {"type": "str"}}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="diagnostics_write runs on the controller only (an action plugin); it "
                         "was executed on a host, which means the collection's action plugin "
                         "was not found")


if __name__ == "__main__":
    main()
