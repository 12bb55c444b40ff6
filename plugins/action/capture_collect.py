# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""capture_collect on the controller: the module of the same name waits on the host and
returns the capture's result with its archive (base64) in one run; this writes the archive
and returns the result without it."""

from __future__ import annotations

import base64
import binascii
import os
import shutil

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.cloudnet.vswitch.plugins.modules.capture_collect import ARGUMENT_SPEC


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        dest = args["dest"]
        parent = os.path.dirname(os.path.abspath(dest))
        try:
            if not os.path.isdir(parent):
                os.makedirs(parent, mode=0o700)
            free = shutil.disk_usage(parent).free
        except OSError as e:
            raise AnsibleActionFail("capture_collect: %s: %s" % (parent, e)) from None
        # An archive that would not fit three times (archive, pcaps, merge) stays on the host,
        # its files with it, for the caller's fetch and its free-space check.
        args["content_max"] = min(args["content_max"], max(0, free // 3 - 1))
        res = self._execute_module(module_args=args, task_vars=task_vars)
        content = res.pop("content", None)
        result.update(res)
        if res.get("failed") or content is None:
            return result
        try:
            data = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise AnsibleActionFail("capture_collect: the archive of %s came back damaged"
                                    % res.get("archive")) from None
        del content
        try:
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(dest, 0o600)
        except OSError as e:
            raise AnsibleActionFail("capture_collect: %s: %s" % (dest, e)) from None
        result["dest"] = dest
        return result
