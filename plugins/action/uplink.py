# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""uplink on the controller: the guarded apply of the vswitch action plugin."""

from __future__ import annotations

from ansible_collections.cloudnet.vswitch.plugins.action.vswitch import GuardedAction


class ActionModule(GuardedAction):
    MODULE = "cloudnet.vswitch.uplink"
