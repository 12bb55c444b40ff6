#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: guard
short_description: Show and confirm the guarded changes of cloudnet.vswitch.vswitch on a host
version_added: 1.0.0
description:
  - A guarded change (see O(cloudnet.vswitch.vswitch#module:rollback_timeout)) is made by a
    detached process on the host, which undoes it unless it is confirmed in time. The
    M(cloudnet.vswitch.vswitch) action plugin confirms by itself, over a new connection, once
    the change is applied; this module is what it runs, and what an operator runs to see what
    happened on a host.
  - Without O(token), lists the host's guarded changes of the last boot (they live in
    C(/run/cloudnet-vswitch/guard)).
author:
  - cloudnet.vswitch developers (@cloudnet)
options:
  token:
    description: The guarded change, as the C(guard.token) of the vswitch task's result.
    type: str
  state:
    description:
      - V(status) reports the change (or, without O(token), every change).
      - V(confirmed) keeps the change, if it is applied and not yet rolled back; fails, naming
        what was reverted, if it was rolled back.
    type: str
    choices: [status, confirmed]
    default: status
  wait:
    description:
      - With O(state=status) and O(token), wait up to this many seconds while the change is
        still being applied or rolled back.
    type: int
    default: 0
  db:
    description:
      - The OVSDB server the change was made on (guarded changes are kept per server). By
        default the first of C(/run/openvswitch/db.sock) and C(/var/run/openvswitch/db.sock)
        that exists.
    type: str
extends_documentation_fragment:
  - cloudnet.vswitch.common.attributes
attributes:
  check_mode:
    details: In check mode O(state=confirmed) says whether it would confirm, and does not.
  diff_mode:
    support: none
seealso:
  - module: cloudnet.vswitch.vswitch
"""

EXAMPLES = r"""
- name: What happened to the guarded changes on this host
  cloudnet.vswitch.guard:
  register: guards

- name: Keep a change made with rollback_timeout by a run that lost its connection
  cloudnet.vswitch.guard:
    token: "{{ change.guard.token }}"
    state: confirmed
"""

RETURN = r"""
guard:
  description:
    - The guarded change. C(status) is one of V(armed), V(applying), V(applied) (waiting for
      its confirmation; C(seconds_left) says for how long), V(confirmed), V(rolling_back),
      V(rolled_back), V(failed). C(reasons) says why it was guarded, C(reverted) what a
      rollback undid, C(error) what went wrong.
  returned: when O(token) is given
  type: dict
  sample: {token: 0f6c1d2e-7a41-4a8e-9a53-2b1f0c3d4e5f, status: rolled_back, timeout: 20,
           reverted: ["ovs-vsctl -- del-port vswitch0 bond0", "ip address add 198.51.100.13/24
           dev eth0"]}
guards:
  description: Every guarded change on the host (for this OVSDB), oldest first.
  returned: when O(token) is not given
  type: list
  elements: dict
result:
  description: The vswitch task's result as the guard process made the change (C(before),
    C(after), C(commands), C(summary), ...).
  returned: when the change is applied or confirmed
  type: dict
"""

import time

from ansible_collections.cloudnet.vswitch.plugins.module_utils import options
from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import VswitchError
from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb.connect import resolve_remote
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import guard

_MOVING = ("armed", "applying", "rolling_back")


def main():
    module = options.new_module(
        argument_spec=dict(
            token=dict(type="str", no_log=False),
            state=dict(type="str", default="status", choices=["status", "confirmed"]),
            wait=dict(type="int", default=0),
            db=dict(type="str"),
        ),
        required_if=[("state", "confirmed", ("token",))],
        supports_check_mode=True,
    )
    p = module.params
    try:
        if not p["token"]:
            db = resolve_remote(p["db"])
            recs = guard.records(db)
            if not module.check_mode:
                recs = [guard.lost(r) for r in recs]
            module.exit_json(changed=False, guards=[guard.public(r) for r in recs])
        rec = guard.read(p["token"])
        if rec is not None and not module.check_mode:
            rec = guard.lost(rec)
        if rec is None:
            module.fail_json(msg="token: no guarded change %r on this host (records live in "
                             "%s until the next boot)" % (p["token"], guard.guard_dir()),
                             path="token")
        end = time.monotonic() + max(0, p["wait"])
        while p["state"] == "status" and rec["status"] in _MOVING and time.monotonic() < end:
            time.sleep(0.1)
            rec = guard.read(p["token"]) or rec
            rec = rec if module.check_mode else guard.lost(rec)
        if p["state"] == "confirmed":
            _confirm(module, rec)
        out = {"changed": False, "guard": guard.public(rec)}
        if rec["status"] in ("applied", "confirmed"):
            out["result"] = rec.get("result")
        module.exit_json(**out)
    except VswitchError as exc:
        module.fail_json(**exc.to_fail())


def _confirm(module, rec):
    token = rec["token"]
    if rec["status"] in guard.FINAL_FAILED or guard.decision(token) == "rollback":
        rec = _settled(token, rec)
        if not rec.get("reported") and not module.check_mode:
            rec["reported"] = True
            guard.write(rec)
        module.fail_json(msg=guard.describe(rec) if rec["status"] in guard.FINAL_FAILED else
                         "the guarded change %s is being rolled back" % token,
                         guard=guard.public(rec))
    if rec["status"] == "confirmed":
        module.exit_json(changed=False, guard=guard.public(rec), result=rec.get("result"))
    if rec["status"] != "applied":
        module.fail_json(msg="the guarded change %s is %s, not applied yet: nothing to confirm "
                         "(run with state=status and wait)" % (token, rec["status"]),
                         guard=guard.public(rec))
    if module.check_mode:
        module.exit_json(changed=True, guard=guard.public(rec), result=rec.get("result"))
    if guard.decide(token, "confirm") != "confirm":
        _confirm(module, _settled(token, guard.read(token) or rec))
    # The guard process writes "confirmed" within 0.1 s; report it as such either way.
    rec = _settled(token, rec, until=("confirmed",), limit=2.0)
    rec["status"] = "confirmed"
    module.exit_json(changed=True, guard=guard.public(rec), result=rec.get("result"))


def _settled(token, rec, until=guard.FINAL_FAILED + ("confirmed",), limit=30.0):
    """The record once the guard process has finished with it (bounded wait)."""
    end = time.monotonic() + limit
    while rec["status"] not in until and time.monotonic() < end:
        time.sleep(0.1)
        rec = guard.read(token) or rec
    return rec


if __name__ == "__main__":
    main()
