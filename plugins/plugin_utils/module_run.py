# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module run behind an action plugin, as Ansible runs any module: with `async`, each host
on its own (async_wrapper where the connection has no native async). For the action plugins
that do more than run their module (locate's hosts listening together, capture's agent), and
fall back to it."""

from __future__ import annotations


def module_run(action, args, task_vars):
    """The module's result for `args`, the task's `async` honoured."""
    if not action._task.async_val:
        return action._execute_module(module_args=args, task_vars=task_vars)
    wrap_async = not action._connection.has_native_async
    result = action._execute_module(module_args=args, task_vars=task_vars, wrap_async=wrap_async)
    if not wrap_async:
        action._remove_tmp_path(action._connection._shell.tmpdir)
    return result
