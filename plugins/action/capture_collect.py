# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""capture_collect on the controller: the module of the same name waits on the host and
returns the capture's result with its archive (base64) in one run; this writes the archive
(a temporary file renamed into place), and only then removes the capture's files on the host
(the directory the module verified, by the connection's own remove command: no module run)."""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.cloudnet.vswitch.plugins.modules.capture_collect import ARGUMENT_SPEC


def write_archive(dest, data):
    """data into dest, 0600, whole or not at all."""
    parent = os.path.dirname(os.path.abspath(dest))
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=".collect-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o600)
        os.rename(tmp, dest)
    except BaseException:
        os.unlink(tmp)
        raise


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
            os.makedirs(parent, mode=0o700, exist_ok=True)
            free = shutil.disk_usage(parent).free
        except OSError as e:
            raise AnsibleActionFail("capture_collect: %s: %s" % (parent, e)) from None
        # An archive that would not fit three times (archive, pcaps, merge) stays on the host,
        # its files with it, for the caller's fetch and its free-space check.
        args["content_max"] = min(args["content_max"], max(0, free // 3 - 1))
        res = self._execute_module(module_args=args, task_vars=task_vars)
        content = res.pop("content", None)
        remove = res.pop("remove", None)
        result.update(res, removed=False)
        if res.get("failed") or content is None:
            return result
        try:
            write_archive(dest, base64.b64decode(content, validate=True))
        except (binascii.Error, ValueError):
            raise AnsibleActionFail("capture_collect: the archive of %s came back damaged; "
                                    "left on the host" % res.get("archive")) from None
        except OSError as e:
            raise AnsibleActionFail("capture_collect: %s: %s; the archive is left on the host"
                                    % (dest, e)) from None
        result["dest"] = dest
        if remove and not self._task.check_mode:
            cmd = self._connection._shell.remove(remove, recurse=True)
            out = self._low_level_execute_command(cmd, sudoable=True)
            result["removed"] = out.get("rc") == 0
        return result
