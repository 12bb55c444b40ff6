# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The diagnostics role's report.md and report.html, built on the controller by plugin_utils."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import diagnostics_report as report


def diagnostics_report(hosts, generated=None, host_ip=None, files=None, format="markdown"):
    render = {"markdown": report.markdown, "html": report.html}.get(format)
    if render is None:
        raise AnsibleFilterError("diagnostics_report: format %r is not markdown or html"
                                 % (format,))
    return render(hosts, generated=generated, host_ip=host_ip, files=files)


def diagnostics_findings(hosts, host_ip=None):
    return report.findings(hosts, host_ip)


class FilterModule(object):
    def filters(self):
        return {"diagnostics_report": diagnostics_report,
                "diagnostics_findings": diagnostics_findings}
