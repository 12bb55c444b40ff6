# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bench-only aggregate callback for fleet runs: per host, how many module runs went to the
host (remote) and how many stayed on the controller, per task; and each task's start and end
(time.monotonic). Written as JSON to $BENCH_FLEET_OUT.

A result counts as a remote module run when its action is not one of the action plugins that
never touch the host (assert, debug, set_fact, ...) and it was not delegated to localhost; a
looped task counts one run per item that was not skipped; skipped results count nothing.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: bench_fleet
type: aggregate
short_description: remote module runs per host and task timings for cloudnet.vswitch's bench/
description:
  - Counts, per host, the module runs that executed on the host, and writes task timings.
requirements:
  - enabled in callbacks_enabled (the bench sets ANSIBLE_CALLBACKS_ENABLED)
"""

import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402

from ansible.plugins.callback import CallbackBase  # noqa: E402

# Action plugins that run entirely on the controller: no module is sent to the host.
LOCAL_ACTIONS = {
    "assert", "debug", "set_fact", "include_vars", "fail", "meta", "add_host", "group_by",
    "set_stats", "include_tasks", "import_tasks", "include_role", "import_role", "pause",
    "capture_report", "validate_argument_spec",
}


def _short(action):
    return (action or "").rsplit(".", 1)[-1]


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_fleet"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._out = os.environ.get("BENCH_FLEET_OUT")
        self._data = {"playbook_start": None, "playbook_end": None, "hosts": {}, "tasks": []}
        self._task = None

    def v2_playbook_on_start(self, playbook):
        self._data["playbook_start"] = time.monotonic()

    def _close_task(self):
        if self._task is not None:
            self._task["end"] = time.monotonic()
            self._data["tasks"].append(self._task)
            self._task = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close_task()
        self._task = {"name": task.get_name(), "action": _short(task.action),
                      "start": time.monotonic(), "wall": time.time(), "remote_runs": 0}

    v2_playbook_on_handler_task_start = v2_playbook_on_task_start

    def _count(self, result, status):
        task = result._task
        host = result._host.get_name()
        res = result._result or {}
        action = _short(task.action)
        delegated = (res.get("_ansible_delegated_vars") or {}).get("ansible_host") or \
            getattr(task, "delegate_to", None)
        local = action in LOCAL_ACTIONS or delegated in ("localhost", "127.0.0.1")
        if status == "skipped":
            runs = 0
        elif isinstance(res.get("results"), list):
            runs = sum(1 for r in res["results"] if not r.get("skipped"))
        else:
            runs = 1
        h = self._data["hosts"].setdefault(host, {"remote": 0, "local": 0, "remote_tasks": {}})
        if runs:
            if local:
                h["local"] += runs
            else:
                h["remote"] += runs
                key = "%s (%s)" % (task.get_name(), action)
                h["remote_tasks"][key] = h["remote_tasks"].get(key, 0) + runs
                if self._task is not None:
                    self._task["remote_runs"] += runs

    def v2_runner_on_ok(self, result):
        self._count(result, "ok")

    def v2_runner_retry(self, result):
        # an `until` loop: every retry before the last result was a run of its own
        self._count(result, "retry")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._count(result, "failed")

    def v2_runner_on_unreachable(self, result):
        self._count(result, "unreachable")

    def v2_runner_on_skipped(self, result):
        self._count(result, "skipped")

    def v2_playbook_on_stats(self, stats):
        self._close_task()
        self._data["playbook_end"] = time.monotonic()
        if self._out:
            with open(self._out, "w") as f:
                json.dump(self._data, f)
