# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vswitch on the controller: run the module with the addresses this connection reaches the host
by, and when the change is guarded, confirm it the only way that proves anything: over a new
connection, opened after the host applied the change. A change that cut the host off is undone
by the host itself; this plugin then reports the rollback as the task's failure."""

from __future__ import annotations

import ipaddress
import json
import socket
import time

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.action import ActionBase

GUARD = "cloudnet.vswitch.guard"
POLL_WAIT = 5          # seconds the guard module waits on the host per status call
SLACK = 30             # beyond the rollback deadline: the rollback itself, ssh timeouts


def addresses_of(host):
    """The IP addresses `host` (ansible_host) stands for, resolved here on the controller."""
    if not host:
        return []
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, 0, socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({i[4][0] for i in infos})


def received(result):
    """The task's result from what a guarded module sends (vswitch/runner.py): `before` and
    `after` as JSON text (decoded here in one call; at 1,000 vnets the structure is ~15,000
    objects that the module's exit and the controller's decoding would otherwise walk one by
    one), `after` left out when it equals `before`. The task's result has both, as RETURN
    documents."""
    for key in ("before", "after"):
        text = result.pop(key + "_json", None)
        if isinstance(text, str):
            result[key] = json.loads(text)
    if "before" in result and "after" not in result:
        result["after"] = result["before"]
    return result


class GuardedAction(ActionBase):
    """Shared by the provisioning modules that take GUARD_ARGS (vswitch, bridge, uplink)."""

    MODULE = "cloudnet.vswitch.vswitch"
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        if args.get("management_addresses") is None and \
                self._connection.transport not in ("local", "ansible.builtin.local"):
            host = task_vars.get("ansible_host") or self._play_context.remote_addr or \
                task_vars.get("inventory_hostname")
            args["management_addresses"] = addresses_of(host)
        res = self._execute_module(module_name=self.MODULE, module_args=args,
                                   task_vars=task_vars)
        result.update(received(res))
        g = res.get("guard")
        if res.get("failed") or not g or g.get("status") != "armed":
            return result
        return self._confirm(result, g, args, task_vars)

    def _guard(self, args, task_vars):
        """Run the guard module over a new connection (reset first). None when unreachable."""
        try:
            self._connection.reset()
        except Exception:  # a transport without reset: its next command reconnects anyway
            pass
        try:
            return self._execute_module(module_name=GUARD, module_args=args,
                                        task_vars=task_vars)
        except AnsibleConnectionFailure:
            return None

    def _confirm(self, result, g, args, task_vars):
        token = g["token"]
        common = {"token": token}
        if args.get("db"):
            common["db"] = args["db"]
        limit = time.monotonic() + g["timeout"] + int(args.get("timeout") or 30) + SLACK
        unreachable = 0
        while time.monotonic() < limit:
            st = self._guard(dict(common, wait=POLL_WAIT), task_vars)
            if st is None or st.get("unreachable"):
                unreachable += 1
                time.sleep(1)
                continue
            rec = st.get("guard") or {}
            status = rec.get("status")
            if st.get("failed") and not rec:
                return dict(result, failed=True, msg="confirming the guarded change %s: %s"
                            % (token, st.get("msg")))
            if status == "applied":
                # A new connection again: this one was opened after the change was applied.
                c = self._guard(dict(common, state="confirmed"), task_vars)
                if c is None or c.get("unreachable"):
                    unreachable += 1
                    continue
                if c.get("failed"):
                    return self._rolled_back(result, c)
                return self._kept(result, c, unreachable)
            if status in ("rolled_back", "failed"):
                c = self._guard(dict(common, state="confirmed"), task_vars) or st
                return self._rolled_back(result, c)
            if status == "confirmed":
                return self._kept(result, st, unreachable)
        return dict(result, failed=True, unreachable=True, guard=dict(g, status="unknown"),
                    msg="could not reach the host again after the guarded change %s (%d "
                    "attempts); without a confirmation it rolls the change back %ss after "
                    "applying it, and the next run on this host reports it"
                    % (token, unreachable, g["timeout"]))

    @staticmethod
    def _kept(result, c, unreachable):
        out = dict(result)
        out.update(c.get("result") or {})
        out["guard"] = dict(c.get("guard") or {}, reconnects=unreachable)
        out["changed"] = True
        out.pop("failed", None)
        return out

    @staticmethod
    def _rolled_back(result, c):
        out = dict(result)
        out.update(failed=True, changed=True, msg=c.get("msg"), guard=c.get("guard"))
        return out


class ActionModule(GuardedAction):
    MODULE = "cloudnet.vswitch.vswitch"
