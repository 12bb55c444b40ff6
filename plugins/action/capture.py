# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""capture on the controller. With `agent` (the capture agent a locate run left on the host,
module_utils/capture/agent.py) and `background`, the options go to the agent with one command
instead of a module run: no payload built, sent and compiled on the host, which on a fleet
sharing its CPUs is most of the start's time. The command writes the order (the options as
JSON, base64-encoded: nothing from the task reaches the shell as text of its own) into the
agent's directory and waits for the agent's answer, the result the module would have
returned. When the agent is gone, or does not take the order within TAKE_WAIT (withdrawn
then), the module runs as it would without `agent`, and its notes say so. Without `agent`, in
check mode and with `async`, the module runs."""

from __future__ import annotations

import base64
import json
import re
import shlex
import time

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.cloudnet.vswitch.plugins.module_utils.capture import agent as capture_agent
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils.module_run import module_run

POLL = 0.05
TAKE_WAIT = 2.0     # seconds the agent has to take its order (it looks every 0.05 s)
# Past start_at and three OVSDB timeouts (the world read, then the module's own two): the
# capture's wait for its tcpdumps to listen (capture/run.py LISTEN_WAIT, 5 s), and some.
SLACK = 10.0
_AGENT_DIR = re.compile(r"^/[A-Za-z0-9_./-]*/%s[A-Za-z0-9_]+$" % re.escape(capture_agent.PREFIX))


def agent_dir(agent):
    """The agent's directory from locate's `capture_agent`, checked: only such a directory
    is ever put in a command."""
    path = agent.get("dir") if isinstance(agent, dict) else None
    if not isinstance(path, str) or not _AGENT_DIR.match(path) or "/../" in path:
        raise ValueError("agent: %r is not a capture agent (locate's capture_agent)" % (agent,))
    return path


def answer_wait(args, now):
    """How long the command waits for the agent's answer: as long as the module itself would
    take to listen (its OVSDB read before anything starts, up to start_at, two OVSDB timeouts,
    the listening), and some."""
    try:
        start_at = float(args.get("start_at") or 0)
        timeout = int(args.get("timeout") or 30)
    except (TypeError, ValueError):     # the agent says what is wrong with them
        start_at, timeout = 0, 30
    return max(0.0, start_at - now) + 3 * timeout + SLACK


def order_command(path, args, wait):
    """One shell command: write the order (atomically) into the agent's directory (only if it
    is a directory of the user's own, not a link); give the agent TAKE_WAIT seconds to take it,
    else withdraw it (a rename, atomic against the agent's own: it never takes it after) and
    remove the directory; then wait up to `wait` seconds for the answer. It prints `started`
    and the answer (and removes the directory), `waiting` when the agent took the order but
    has not answered, or `gone` when the order was never taken (no directory, or no agent)."""
    order = base64.b64encode(json.dumps(args, sort_keys=True, default=str).encode()).decode()
    o, t, a = capture_agent.ORDER, capture_agent.TAKEN, capture_agent.STARTED
    return (
        'd=%s; umask 077; if [ -d "$d" ] && [ -O "$d" ] && [ ! -L "$d" ]; then '
        'printf %%s %s | base64 -d > "$d/.order.tmp" && mv -f "$d/.order.tmp" "$d/%s"; '
        'fi 2>/dev/null; i=0; while [ -e "$d/%s" ] && [ $i -lt %d ]; do sleep %s; '
        'i=$((i+1)); done; '
        'if [ -e "$d/%s" ] && mv "$d/%s" "$d/%s.withdrawn" 2>/dev/null; then rm -rf -- "$d"; '
        'echo gone; elif [ ! -e "$d/%s" ]; then echo gone; else i=0; '
        'while [ -d "$d" ] && [ ! -e "$d/%s" ] && [ $i -lt %d ]; do sleep %s; i=$((i+1)); '
        'done; if [ -e "$d/%s" ]; then echo started; cat "$d/%s"; rm -rf -- "$d"; '
        'else echo waiting; fi; fi; true'
        % (shlex.quote(path), shlex.quote(order), o, o, int(TAKE_WAIT / POLL), POLL,
           o, o, o, t, a, int(wait / POLL) + 1, POLL, a, a))


def read_answer(stdout):
    """(kind, result): `started` with the agent's result, `waiting` or `gone` with None."""
    kind, _sep, rest = stdout.partition("\n")
    kind = kind.strip()
    if kind == "started":
        return kind, json.loads(rest)
    if kind in ("waiting", "gone"):
        return kind, None
    raise ValueError("unexpected answer %r" % stdout[:200])


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        agent = args.pop("agent", None)
        background = boolean(args.get("background", False), strict=False)
        if agent is None or self._task.check_mode or self._task.async_val or not background:
            result.update(module_run(self, args, task_vars))
            return result
        try:
            path = agent_dir(agent)
        except ValueError as exc:
            result.update(failed=True, msg=str(exc))
            return result
        wait = answer_wait(args, time.time())
        try:
            out = self._low_level_execute_command(order_command(path, args, wait), sudoable=True)
            kind, answer = read_answer(out.get("stdout") or "")
        except (AnsibleError, ValueError) as exc:
            result.update(failed=True, msg="the capture agent (%s on the host) could not be "
                          "given its order: %s" % (path, to_text(exc).strip()))
            return result
        if kind == "started":
            result.update(answer)
            return result
        if kind == "waiting":
            result.update(failed=True, msg="the capture agent (%s on the host) took the order "
                          "but did not answer within %d s: its capture may still run, bounded "
                          "by its watchdog; its output directory (%s) says what it did"
                          % (path, wait, args.get("output_dir")))
            return result
        result.update(module_run(self, args, task_vars))
        result.setdefault("notes", []).append(
            "the capture agent that locate left on the host was gone or did not take the order "
            "(its %s s were up, or it ended): the capture was started by a module run"
            % agent.get("seconds"))
        return result
