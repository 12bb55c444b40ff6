# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate a host's `vswitches` on the controller, with the module's own rules, so that a bad
inventory stops provision.yml before any host changes."""

from __future__ import annotations

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import ParamError
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.validate import (
    normalize_config,
)


def config_errors(vswitches, state="merged"):
    """[] if `vswitches` is a valid config of the vswitch module, else one message."""
    try:
        normalize_config(vswitches, state)
    except ParamError as exc:
        return ["vswitches" + str(exc)[len("config"):] if str(exc).startswith("config")
                else str(exc)]
    return []


class FilterModule(object):
    def filters(self):
        return {"config_errors": config_errors}
