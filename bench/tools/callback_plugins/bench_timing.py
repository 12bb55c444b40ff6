# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bench-only aggregate callback: writes when the playbook and each task started and ended
(time.monotonic, comparable with the bench driver's clock) and each task's `changed`, `rc` and
the module's own `timing` to the JSON file named by $BENCH_TIMING_OUT.

Why a callback and not `register` + a second task writing the file: that second task would be
part of the timed playbook and inflate the very Ansible overhead the bench measures (and differ
between contenders, since it would template results of very different sizes).
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: bench_timing
type: aggregate
short_description: task timings for cloudnet.vswitch's bench/
description:
  - Writes playbook and task start/end times and the module's C(timing) to $BENCH_TIMING_OUT.
requirements:
  - enabled in callbacks_enabled (the bench sets ANSIBLE_CALLBACKS_ENABLED)
"""

# imports after DOCUMENTATION, as Ansible plugins are written
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402

from ansible.plugins.callback import CallbackBase  # noqa: E402


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timing"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._out = os.environ.get("BENCH_TIMING_OUT")
        self._data = {"playbook_start": None, "playbook_end": None, "tasks": []}
        self._task = None

    def v2_playbook_on_start(self, playbook):
        self._data["playbook_start"] = time.monotonic()

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task = {"name": task.get_name(), "start": time.monotonic(), "items": []}

    def v2_runner_item_on_ok(self, result):
        # a loop: when each item's result came back (the per-item cost of a looped task)
        if self._task is not None:
            self._task["items"].append(time.monotonic())

    v2_runner_item_on_failed = v2_runner_item_on_ok

    def _record(self, result, status):
        res = getattr(result, "result", None) or result._result
        entry = dict(self._task or {}, end=time.monotonic(), status=status,
                     changed=res.get("changed"), rc=res.get("rc"), timing=res.get("timing"))
        if status != "ok":
            entry["msg"] = str(res.get("msg", ""))[:2000]
            entry["stderr"] = str(res.get("stderr", ""))[-2000:]
        self._data["tasks"].append(entry)

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        self._data["playbook_end"] = time.monotonic()
        if self._out:
            with open(self._out, "w") as f:
                json.dump(self._data, f)
