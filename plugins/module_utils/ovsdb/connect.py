# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where ovsdb-server is, and how long a task may wait for it: the socket (`db`, or the first
default that exists) and one deadline per wait."""

from __future__ import annotations

import os
import time

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import Missing

DEFAULT_SOCKETS = ("/run/openvswitch/db.sock", "/var/run/openvswitch/db.sock")
PACKAGES = "python3-openvswitch (Debian/Ubuntu), python3-openvswitch or python3-ovs " \
           "(RHEL family, from the NFV/OpenStack repositories), or 'pip install ovs'"


def resolve_remote(db):
    """`db` as given, or the first default socket that exists."""
    if db:
        if db.startswith(("unix:", "tcp:", "ssl:")):
            return db
        return "unix:" + db
    for path in DEFAULT_SOCKETS:
        if os.path.exists(path):
            return "unix:" + path
    raise Missing("no OVSDB socket at %s: is Open vSwitch installed and ovsdb-server running? "
                  "(set db: to its socket)" % " or ".join(DEFAULT_SOCKETS), ["ovsdb-server"])


class Deadline(object):
    def __init__(self, seconds):
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left_ms(self):
        return max(0, int((self.end - time.monotonic()) * 1000))

    def expired(self):
        return time.monotonic() >= self.end
