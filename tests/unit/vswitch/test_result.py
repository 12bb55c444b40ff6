"""What a provisioning module sends and what the task gets (vswitch/runner.py, the edge, and
plugins/action/vswitch.py): `before` and `after` go as JSON text, `after` equal to `before` is
sent once, and GuardedAction puts them back, so the task's result has both, as RETURN
documents."""

import json

import pytest

from ansible_collections.cloudnet.vswitch.plugins.action.vswitch import received
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import apply, runner

VS = [{"name": "vs0", "vnets": [{"name": "vnet0", "tag": 10}]}]


class _Exit(Exception):
    pass


class FakeModule(object):
    check_mode = False
    no_log_values = frozenset()

    def __init__(self, diff=False):
        self._diff = diff
        self.params = {"timeout": 30, "rollback_timeout": None, "management_addresses": [],
                       "db": None, "backend": None}
        self.run_command = None
        self.sent = None

    def warn(self, msg):
        pass

    def exit_json(self, **kw):
        self.sent = kw
        raise _Exit()

    fail_json = exit_json


def _send(monkeypatch, before, after, changed, guarded=True, diff=False, no_log=()):
    monkeypatch.setattr(runner, "require_host", lambda backend: None)
    monkeypatch.setattr(runner.validate, "normalize_config", lambda config, state: config)
    monkeypatch.setattr(apply, "execute", lambda task: {
        "before": before, "after": after, "changed": changed, "commands": [], "pending": []})
    module = FakeModule(diff)
    module.no_log_values = set(no_log)
    with pytest.raises(_Exit):
        runner.run(module, [], "merged", guarded=guarded)
    return module.sent


def test_after_equal_to_before_is_sent_once_and_put_back(monkeypatch):
    sent = _send(monkeypatch, VS, [dict(VS[0])], False)
    assert "after" not in sent and "after_json" not in sent and "before" not in sent
    assert json.loads(sent["before_json"]) == VS
    task = received(dict(sent))
    assert task["after"] == task["before"] == VS and "before_json" not in task


def test_after_that_differs_is_sent(monkeypatch):
    after = [{"name": "vs0", "vnets": [{"name": "vnet0", "tag": 20}]}]
    sent = _send(monkeypatch, VS, after, True, diff=True)
    assert json.loads(sent["after_json"]) == after
    task = received(dict(sent))
    assert (task["before"], task["after"]) == (VS, after)
    assert sent["diff"]["after"] == {"vswitches": after}


def test_a_module_with_no_log_values_sends_the_structure_for_exit_json_to_scrub(monkeypatch):
    sent = _send(monkeypatch, VS, [dict(VS[0])], False, no_log=["secret"])
    assert sent["before"] == VS and "before_json" not in sent
    assert received(dict(sent))["after"] == VS


def test_a_module_without_the_action_plugin_sends_both(monkeypatch):
    sent = _send(monkeypatch, VS, [dict(VS[0])], False, guarded=False)   # vnet
    assert sent["after"] == VS and sent["before"] == VS


def test_received_leaves_other_results_alone():
    assert received({"gathered": []}) == {"gathered": []}
    assert received({"failed": True, "msg": "x"}) == {"failed": True, "msg": "x"}
