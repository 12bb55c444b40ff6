# -*- coding: utf-8 -*-
# Copyright: cloudnet.vswitch contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provisioning modules' edge: the only code of the engine that sees AnsibleModule. It
turns a module's parameters into a Task (apply.py), runs it, and turns every typed error into
fail_json with the path of the bad field; modules only build `config` and call run(). The
read-only modules have their own, lighter edge: runner_info.py."""

from __future__ import annotations

import json
import os

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    Missing,
    ParamError,
    VswitchError,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb import client
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import apply, validate
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.plan import plan_task
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.world import empty_world


def guard_settings(params):
    """The guarded apply's settings from GUARD_ARGS (see doc_fragments/common.py GUARD): the
    rollback timeout and the addresses the controller reaches the host by."""
    if params["rollback_timeout"] is not None and params["rollback_timeout"] < 0:
        raise ParamError("rollback_timeout", "%r is negative; give seconds, or 0 to turn the "
                         "guard off" % params["rollback_timeout"])
    addresses = params["management_addresses"]
    if addresses is None:
        addresses = os.environ.get("SSH_CONNECTION", "").split()[2:3]
    return {"timeout": params["rollback_timeout"], "addresses": addresses}


def _renamed(exc, paths):
    """A ParamError whose path is in the module's own option names (the single-object
    modules: `config[0].name` is their `bridge`)."""
    for prefix, name in (paths or {}).items():
        if exc.path == prefix or (exc.path or "").startswith(prefix + "."):
            path = name + exc.path[len(prefix):]
            return type(exc)(path.lstrip("."), exc.msg)
    return exc


def require_host(backend):
    """Every part the host lacks, in one error: netaddr, and (unless `backend` is false, as
    for `rendered`, which never reads the host) the OVSDB client the backend allows."""
    checks = [validate.require_netaddr]
    if backend:
        checks.append(lambda: client.require(backend))
    missing = []
    for check in checks:
        try:
            check()
        except Missing as exc:
            missing.append(exc)
    if len(missing) == 1:
        raise missing[0]
    if missing:
        raise Missing("; and ".join(str(m) for m in missing), sum((m.missing for m in missing), []))


def task_of(module, config, state, options=None, guarded=False):
    """The Task of a module's parameters and a valid config."""
    p = module.params
    validate.check_timeout(p["timeout"])
    return apply.Task(config, state, module.run_command, options,
                      guard=guard_settings(p) if guarded else None, db=p.get("db"),
                      timeout=p["timeout"], backend=p.get("backend") or "auto",
                      check_mode=module.check_mode)


def run(module, config, state, options=None, guarded=False, paths=None):
    """Run one provisioning task; exits the module. `options` are planner options; `guarded`
    turns on the guarded apply (vswitch, bridge, uplink: the modules under GuardedAction, which
    also puts back an `after` left out as equal to `before`); `paths` maps a prefix of the
    config's error paths to the module's own option names."""
    result = {"changed": False}
    try:
        require_host(state != "rendered" and (module.params.get("backend") or "auto"))
        config = validate.normalize_config(config, state)
        if state == "rendered":
            plan = plan_task(empty_world(), config, state, offline=True, **(options or {}))
            module.exit_json(changed=False, rendered=plan.commands(), commands=plan.commands(),
                             pending=plan.pending)
        result.update(apply.execute(task_of(module, config, state, options, guarded)))
    except ParamError as exc:
        module.fail_json(**dict(result, **_renamed(exc, paths).to_fail()))
    except VswitchError as exc:
        module.fail_json(**dict(result, **exc.to_fail()))
    if module._diff and result.get("changed"):
        result["diff"] = {"before": {"vswitches": result["before"]},
                          "after": {"vswitches": result["after"]}}
    if guarded:
        # The guarded modules run under GuardedAction (plugins/action/vswitch.py, `received`),
        # which puts back what is left out here. `after` equal to `before` is sent once; both
        # go as JSON text, which exit_json and the controller pass through whole, where a
        # structure is walked object by object (at 1,000 vnets ~15,000 objects, walked for
        # no_log values and encoded here, decoded there). A module with no_log values keeps
        # the structure, which exit_json scrubs.
        if "after" in result and result["after"] == result["before"]:
            del result["after"]
        if not module.no_log_values:
            for key in ("before", "after"):
                if key in result:
                    result[key + "_json"] = json.dumps(result.pop(key))
    for w in result.pop("warnings", []):
        module.warn(w)
    module.exit_json(**result)
