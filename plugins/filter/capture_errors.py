# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check a capture request on the controller with the capture module's own rules, so that
collect_captures.yml stops before anything starts on any host."""

from __future__ import annotations

from ansible_collections.cloudnet.vswitch.plugins.module_utils.capture.filter import (
    normalize_filter,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import ParamError


def capture_errors(request):
    """[] if the request is valid, else messages naming the option and the value."""
    errors = []
    if not request.get("host"):
        errors.append("host_ip: required (the address to follow)")
    try:
        normalize_filter(request)
    except ParamError as exc:
        errors.append(str(exc).replace("host:", "host_ip:", 1))
    for key, lo, hi in (("duration", 1, 86400), ("packet_count", 1, 10 ** 9),
                        ("max_bytes", 1, 10 ** 12)):
        value = request.get(key)
        if value is not None and not (isinstance(value, int) and lo <= value <= hi):
            errors.append("%s: %r is not a number from %d to %d" % (key, value, lo, hi))
    return errors


class FilterModule(object):
    def filters(self):
        return {"capture_errors": capture_errors}
