# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check a capture request on the controller with the capture module's own rules, so that
collect_captures.yml stops before anything starts on any host."""

from __future__ import annotations

DOCUMENTATION = r"""
name: capture_errors
version_added: 1.0.0
short_description: Check a capture request on the controller
description:
  - Applies M(cloudnet.vswitch.capture)'s own validation (addresses, protocol, port,
    direction) and the bounds to a request, without contacting any host.
  - Returns an empty list when the request is valid, else messages that name the option and
    the value.
options:
  _input:
    description: "{host, peers, exclude, protocol, port, direction, duration, packet_count,
      max_bytes, listen, agent_wait}: listen and agent_wait are the role's captures_listen
      and captures_agent_wait, seconds from 0 to 300 (the locate module's bounds)."
    type: dict
    required: true
author:
  - cloudnet.vswitch developers
"""

EXAMPLES = r"""
- name: Stop before anything starts when the request is invalid
  ansible.builtin.assert:
    that: "({'host': host_ip, 'duration': 30} | cloudnet.vswitch.capture_errors) | length == 0"
"""

RETURN = r"""
_value:
  description: The error messages; empty when the request is valid.
  type: list
  elements: str
"""

from ansible_collections.cloudnet.vswitch.plugins.module_utils.capture.filter import (
    normalize_filter,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import ParamError
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils.inventory import missing_netaddr

# The playbook's names for the module's options.
NAMES = {"host": "host_ip", "peers": "peer_ips", "exclude": "exclude_ips", "host_mac": "host_mac",
         "vm": "vm", "listen": "captures_listen", "agent_wait": "captures_agent_wait"}


def _named(path):
    key, bracket, rest = path.partition("[")
    return NAMES.get(key, key) + bracket + rest


def capture_errors(request):
    """[] if the request is valid, else messages naming the option and the value. What to
    follow is one of host (host_ip), host_mac and vm."""
    if missing_netaddr():
        return [missing_netaddr()]
    errors = []
    given = [k for k in ("host", "host_mac", "vm") if request.get(k)]
    if not given:
        errors.append("host_ip: required (the address to follow), or host_mac (a MAC) or vm "
                      "(a libvirt domain name or UUID, or an iface-id)")
    elif len(given) > 1:
        errors.append("%s: give only one of host_ip, host_mac and vm (%s)" % (
            _named(given[1]), ", ".join("%s=%s" % (_named(k), request[k]) for k in given)))
    vm = request.get("vm")
    if vm and (not isinstance(vm, str) or any(ord(c) < 32 for c in vm)):
        errors.append("vm: %r is not a libvirt domain name, UUID or iface-id" % (vm,))
    # a VM is followed by its MAC, found later: any MAC stands in for it to check the rest
    host = request.get("host") or request.get("host_mac") or (
        "02:00:00:00:00:00" if vm else None)
    try:
        spec = normalize_filter(dict(request, host=host))
    except ParamError as exc:
        if exc.path == "host" and request.get("host_mac") and not request.get("host"):
            errors.append("host_mac: %r is not a MAC (six bytes, e.g. 52:54:00:c1:01:02; an "
                          "address is given as -e host_ip=)" % (request["host_mac"],))
        else:
            errors.append("%s: %s" % (_named(exc.path), exc.msg))
    else:
        # the playbook locates these across the fleet: a hostname cannot be located; a MAC is
        # followed as host_mac, an IP as host_ip
        host = [spec] if spec["host"] else []
        for key, entries in (("host", host), ("peers", spec["peers"])):
            for i, entry in enumerate(entries):
                addr, family = entry.get("addr", entry.get("host")), entry["family"]
                name = NAMES[key] + ("" if key == "host" else "[%d]" % i)
                if key == "host" and vm and not request.get("host"):
                    continue
                if key == "host" and request.get("host_mac"):
                    if family != "mac":
                        errors.append("host_mac: %r is not a MAC (six bytes, e.g. "
                                      "52:54:00:c1:01:02; an address is given as -e host_ip=)"
                                      % (addr,))
                elif family == "mac" and key == "host":
                    errors.append("host_ip: %r is a MAC: give it as -e host_mac=%s" % (
                        addr, addr))
                elif family not in (4, 6):
                    errors.append("%s: %r is not an IP address (give the IPv4 or IPv6 address "
                                  "itself: addresses are located across the fleet, names are "
                                  "not)" % (name, addr))
    for key, lo, hi in (("duration", 1, 86400), ("packet_count", 1, 10 ** 9),
                        ("max_bytes", 1, 10 ** 12), ("listen", 0, 300), ("agent_wait", 0, 300)):
        value = request.get(key)
        if value is not None and not (isinstance(value, int) and lo <= value <= hi):
            errors.append("%s: %r is not a number from %d to %d"
                          % (NAMES.get(key, key), value, lo, hi))
    return errors


class FilterModule(object):
    def filters(self):
        return {"capture_errors": capture_errors}
