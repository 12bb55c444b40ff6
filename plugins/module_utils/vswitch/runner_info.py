# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The read-only modules' edge (and capture's): like runner.py, the only code of theirs that
sees AnsibleModule, but without the provisioning engine (apply, plan, guard, undo). A module
run compiles every file it imports from source (AnsiballZ's zip holds no bytecode), on every
host, every time: locate, capture and path_check run on every host of a fleet at once."""

from __future__ import annotations

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import VswitchError
from ansible_collections.cloudnet.vswitch.plugins.module_utils.host import kernel
from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb.client import open_client
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.validate import (
    check_timeout,
)


class Host(object):
    """What the troubleshooting and capture runners may use of the module: its parameters,
    check mode, run_command, get_bin_path and a read of the world; never fail_json."""

    def __init__(self, module):
        self.params = module.params
        self.check_mode = module.check_mode
        self.run = module.run_command
        self.which = module.get_bin_path

    def with_params(self, params):
        """The same host for another run's parameters (a capture ordered from locate's
        detached process: capture/agent.py)."""
        other = object.__new__(Host)
        other.__dict__.update(self.__dict__, params=params)
        return other

    def read_world(self):
        """The host as the planner sees it: OVSDB (bridges, ports, interfaces with their
        status) and the kernel (links, addresses, routes)."""
        p = self.params
        check_timeout(p["timeout"])
        with open_client(db=p.get("db"), timeout=p["timeout"],
                         backend=p.get("backend") or "auto", run=self.run) as client:
            world = client.world()
        world["links"], world["routes"] = kernel.read(self.run)
        return world


def run(module, collect):
    """Exit with collect(Host)'s dict, or fail with the typed error's message (and the
    partial result a RunFailed carries)."""
    try:
        result = collect(Host(module))
    except VswitchError as exc:
        module.fail_json(**exc.to_fail())
    module.exit_json(**dict({"changed": False}, **result))
