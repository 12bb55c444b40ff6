# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory checked on the controller, with the modules' own rules, so that a mistake
stops provision.yml before any host is contacted (plugin_utils/inventory.py)."""

from __future__ import annotations

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import inventory


def config_errors(vswitches, state="merged"):
    """[] if `vswitches` is a valid config of the vswitch module, else one message per
    mistake."""
    return inventory.config_errors(vswitches, state)[0]


def inventory_errors(hostvars, hosts):
    """Every mistake in the inventory of `hosts` for provision.yml, one line each: `host:
    field: what is wrong`."""
    return inventory.fleet_errors(hostvars, hosts)


class FilterModule(object):
    def filters(self):
        return {"config_errors": config_errors, "inventory_errors": inventory_errors}
