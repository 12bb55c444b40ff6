# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""diagnostics_write on the controller: the whole fleet's diagnostics files in one task (the
role wrote them with a `copy` per file and host before: five controller module runs per host).
Nothing runs on the managed hosts."""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.cloudnet.vswitch.plugins.module_utils.host.files import write_private
from ansible_collections.cloudnet.vswitch.plugins.modules.diagnostics_write import ARGUMENT_SPEC
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import diagnostics_report


def write(run_dir, texts):
    """Each {relative path: text} under run_dir, 0600, in directories 0700; the paths."""
    root = os.path.realpath(run_dir)
    for rel in texts:                       # every path checked before anything is written
        path = os.path.realpath(os.path.join(root, rel))
        if not path.startswith(root + os.sep):
            raise AnsibleActionFail("diagnostics_write: %r is not inside %s (a host named so?)"
                                    % (rel, root))
    os.makedirs(root, mode=0o700, exist_ok=True)
    os.chmod(root, 0o700)
    written = []
    for rel, text in sorted(texts.items()):
        path = os.path.realpath(os.path.join(root, rel))
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            os.makedirs(parent, mode=0o700)
        write_private(path, text)
        written.append(path)
    return written


def _fact(task_vars, host, name):
    """The host's fact `name`, None when it has none: this task's host's from its own
    variables (the implicit localhost is in no inventory, and hostvars does not find it),
    the others' from hostvars."""
    if host == task_vars.get("inventory_hostname"):
        return task_vars.get(name)
    try:
        return (task_vars.get("hostvars") or {})[host][name]
    except KeyError:
        return None


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        hosts = args.get("hosts") or task_vars.get("ansible_play_hosts_all") or []
        data = {h: _fact(task_vars, h, args["fact"]) for h in hosts}
        name = os.path.basename(os.path.normpath(args["dir"]))
        try:
            texts, found, drifted = diagnostics_report.run_files(data, name,
                                                                 args.get("host_ip"))
        except ValueError as e:
            raise AnsibleActionFail("diagnostics_write: %s" % e) from None
        written = []
        if not self._task.check_mode:
            try:
                written = write(args["dir"], texts)
            except OSError as e:
                raise AnsibleActionFail("diagnostics_write: %s" % e) from None
        result.update(changed=bool(written), findings=found, drift=drifted, written=written)
        return result
