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
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils.inventory import missing_netaddr

# The playbook's names for the module's options.
NAMES = {"host": "host_ip", "peers": "peer_ips", "exclude": "exclude_ips"}


def _named(path):
    key, bracket, rest = path.partition("[")
    return NAMES.get(key, key) + bracket + rest


def capture_errors(request):
    """[] if the request is valid, else messages naming the option and the value."""
    if missing_netaddr():
        return [missing_netaddr()]
    errors = []
    if not request.get("host"):
        errors.append("host_ip: required (the address to follow)")
    try:
        spec = normalize_filter(request)
    except ParamError as exc:
        errors.append("%s: %s" % (_named(exc.path), exc.msg))
    else:
        # the playbook locates these addresses across the fleet: a hostname cannot be located
        for key, entries in (("host", [spec] if spec["host"] else []), ("peers", spec["peers"])):
            for i, entry in enumerate(entries):
                addr, family = entry.get("addr", entry.get("host")), entry["family"]
                if family is None:
                    errors.append("%s: %r is not an IP address (give the IPv4 or IPv6 address "
                                  "itself: addresses are located across the fleet, names are "
                                  "not)" % (NAMES[key] + ("" if key == "host" else "[%d]" % i),
                                            addr))
    for key, lo, hi in (("duration", 1, 86400), ("packet_count", 1, 10 ** 9),
                        ("max_bytes", 1, 10 ** 12)):
        value = request.get(key)
        if value is not None and not (isinstance(value, int) and lo <= value <= hi):
            errors.append("%s: %r is not a number from %d to %d" % (key, value, lo, hi))
    return errors


class FilterModule(object):
    def filters(self):
        return {"capture_errors": capture_errors}
