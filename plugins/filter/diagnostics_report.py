# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The diagnostics role's report.md and report.html, built on the controller by plugin_utils."""

from __future__ import annotations

DOCUMENTATION = r"""
name: diagnostics_report
version_added: 1.0.0
short_description: The fleet's vSwitch diagnostics as a report (Markdown or HTML)
description:
  - Turns what M(cloudnet.vswitch.vswitch_info), M(cloudnet.vswitch.fdb_info),
    M(cloudnet.vswitch.path_check) and M(cloudnet.vswitch.locate) returned per host into a
    report a person reads. Its verdict first (healthy, or how many findings), the findings
    (a non-symmetric path only with evidence, MTU mismatches along a vSwitch, any MAC or IP
    seen on two hosts), each check and its result, what could happen (not seen), then per
    host the vSwitches with their ports and roles, the FDB grouped by port (and the vnets
    whose VM sent nothing within the MAC aging time), and the paths.
options:
  _input:
    description: "{host: {vswitches, mtu_mismatches, fdb, paths, locate}}."
    type: dict
    required: true
  generated:
    description: When the data was collected.
    type: str
  host_ip:
    description: The address the collection was narrowed to (found on no host, a finding; the
      FDB tables then hold only its entries, and say so).
    type: str
  files:
    description: Files written beside the report, listed at its end.
    type: list
    elements: str
  format:
    description: V(markdown) (report.md) or V(html) (report.html, self-contained, the same
      look as the capture report).
    type: str
    choices: [markdown, html]
    default: markdown
author:
  - cloudnet.vswitch developers
"""

EXAMPLES = r"""
- name: Write the report
  ansible.builtin.copy:
    content: "{{ per_host | cloudnet.vswitch.diagnostics_report(generated='20261124T120000Z') }}"
    dest: report.md
    mode: "0600"
"""

RETURN = r"""
_value:
  description: The report, Markdown or HTML.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import diagnostics_report as report


def diagnostics_report(hosts, generated=None, host_ip=None, files=None, format="markdown"):
    render = {"markdown": report.markdown, "html": report.html}.get(format)
    if render is None:
        raise AnsibleFilterError("diagnostics_report: format %r is not markdown or html"
                                 % (format,))
    return render(hosts, generated=generated, host_ip=host_ip, files=files)


class FilterModule(object):
    def filters(self):
        return {"diagnostics_report": diagnostics_report}
