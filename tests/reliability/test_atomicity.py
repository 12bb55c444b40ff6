"""Atomicity: a failure injected at each step of an apply leaves every configuration column of
OVSDB as it was (a full dump of Open_vSwitch, Bridge, Port, Interface, Mirror, references by
name), or, for a crash of ovsdb-server at a random moment, as it was or fully applied, never
in between."""

import os
import shutil
import signal
import subprocess
import time

import pytest

from relkit import config_dump, restart_ovsdb, result
from relkit import module_proc as start_module
from sandbox import COLLECTIONS

pytestmark = pytest.mark.fast
BACKENDS = ["idl", "vsctl"]
TRIALS = 3
FROZEN_TRIALS = 2

BASE = {"name": "vswitch0", "datapath_type": "netdev", "uplink": {"interfaces": ["eth0"]},
        "internal": {"addresses": ["203.0.113.11/24"]}, "mac_aging_time": 300,
        "vnets": [{"name": "vnet0", "tag": 10}]}
# the change every failure interrupts: a new vSwitch, a changed one, many new ports
CHANGE = [dict(BASE, mac_aging_time=120, external_ids={"rack": "r2"},
               vnets=[{"name": "vnet0", "tag": 11}] +
               [{"name": "vnet%d" % i, "tag": i, "precreate": True} for i in range(100, 140)]),
          {"name": "vswitch1", "datapath_type": "netdev", "uplink": {"interfaces": ["eth1"]}}]


def _lib():
    import sys
    if COLLECTIONS not in sys.path:
        sys.path.insert(0, COLLECTIONS)
    from ansible_collections.cloudnet.vswitch.plugins.module_utils import errors
    from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb.client import open_client
    from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import plan, validate
    return plan, validate, open_client, errors.OvsdbError


def _run(argv):
    res = subprocess.run(argv, capture_output=True, text=True, check=False)
    return res.returncode, res.stdout, res.stderr


@pytest.fixture
def host(ovs):
    for n in ("eth0", "eth1", "vnet0"):
        ovs.nic(n)
    res = ovs.module("vswitch", config=[BASE])
    assert res["rc"] == 0, res.get("msg")
    return ovs


def apply_with(ovs, inject, timeout=3):
    """The engine's apply (read, plan, commit) through the library, with inject(plan) called
    between planning and the commit; returns the exception raised (or None)."""
    planner, validate, open_client, ovsdb_error = _lib()
    cfg = validate.normalize_config(CHANGE, "merged")

    def replan(world):
        world["links"], world["routes"] = {}, []
        plan = planner.plan_task(world, cfg, "merged", offline=True)
        inject(plan)
        return plan

    try:
        with open_client(db=ovs.db, timeout=timeout, backend=ovs.backend,
                         run=_run) as client:
            plan, next_cfg = client.apply(replan)
            client.wait_applied(next_cfg)
    except ovsdb_error as exc:
        return exc
    return None


def test_constraint_violation_at_commit(host, figure):
    planner = _lib()[0]
    before = config_dump(host)

    def clash(plan):
        # one more port whose interface is named like vswitch0's uplink: a unique-index clash
        plan.ops.append(planner.Op("add_port", bridge="vswitch1", name="clash", columns={},
                                   interfaces=[{"name": "eth0", "columns": {}}]))

    err = apply_with(host, clash)
    same = config_dump(host) == before
    figure("atomicity.constraint_violation.%s.config_unchanged" % host.backend, same, True,
           str(err)[:80])
    assert err is not None and "nothing was changed" in str(err), err
    assert same


def test_ovsdb_server_killed_before_the_commit(host, figure):
    before = config_dump(host)

    def kill(_plan):
        host.kill("ovsdb-server", signal.SIGKILL)

    t0 = time.monotonic()
    err = apply_with(host, kill)
    took = time.monotonic() - t0
    restart_ovsdb(host)
    same = config_dump(host) == before
    figure("atomicity.ovsdb_killed_before_commit.%s.config_unchanged" % host.backend, same,
           True, "error after %.1f s: %s" % (took, str(err)[:70]))
    # the error should say the connection to ovsdb-server was lost (finding F3 for the IDL:
    # it reports a timeout waiting for "a fresh snapshot after a conflicting change")
    clear = "conflicting change" not in str(err)
    figure("atomicity.ovsdb_killed_before_commit.%s.error_names_the_cause" % host.backend,
           clear, True, str(err)[:60], known="F3" if host.backend == "idl" else None)
    assert err is not None, "the apply claimed success with ovsdb-server dead"
    assert same
    if host.backend == "vsctl":
        assert clear


def test_ovsdb_server_frozen_past_the_timeout(host, figure):
    """ovsdb-server stops answering (SIGSTOP) after the snapshot: the commit times out within
    the timeout. Once the server runs again the configuration must be as before; where it is
    not (finding F1: the IDL client had already sent the transaction), the error must have
    said so and the result must be all of the change, never part of it."""
    before = config_dump(host)
    pid = host.pids["ovsdb-server"]
    late, worst, msgs = 0, 0.0, []

    def freeze(_plan):
        os.kill(pid, signal.SIGSTOP)

    saved = os.path.join(host.dir, "conf.db.before")
    host.kill("ovsdb-server")
    shutil.copy(os.path.join(host.dir, "conf.db"), saved)
    restart_ovsdb(host)
    for _trial in range(FROZEN_TRIALS):
        pid = host.pids["ovsdb-server"]
        t0 = time.monotonic()
        try:
            err = apply_with(host, freeze, timeout=2)
        finally:
            worst = max(worst, time.monotonic() - t0)
            os.kill(pid, signal.SIGCONT)
        time.sleep(1)
        assert err is not None, "the apply claimed success with ovsdb-server frozen"
        msgs.append(str(err))
        now = config_dump(host)
        if now != before:
            late += 1
            assert "may or may not have been applied" in str(err), err
            assert any(CHANGE[0]["external_ids"]["rack"] in row for row in now["Bridge"])
            assert len([r for r in now["Port"] if '"vnet1' in r]) == 40, "a partial commit"
            _restore(host, saved)
    figure("atomicity.ovsdb_frozen_commit_timeout.%s.error_within_timeout_s" % host.backend,
           round(worst, 1), "<= 7", msgs[-1][:90])
    figure("atomicity.ovsdb_frozen_commit_timeout.%s.applied_after_resume" % host.backend,
           late, 0, "of %d timed-out commits" % FROZEN_TRIALS,
           known="F1" if host.backend == "idl" else None)
    # nothing was committed, so the error must not say it was (finding F2 for ovs-vsctl)
    honest = not any("was committed" in m for m in msgs[-1:]) or late > 0
    figure("atomicity.ovsdb_frozen_commit_timeout.%s.error_names_the_cause" % host.backend,
           honest, True, msgs[-1][:60], known="F2" if host.backend == "vsctl" else None)
    assert worst <= 7
    if host.backend == "vsctl":
        assert late == 0
    else:
        assert honest


def _restore(ovs, saved):
    ovs.kill("ovsdb-server")
    shutil.copy(saved, os.path.join(ovs.dir, "conf.db"))
    restart_ovsdb(ovs)


def test_ovsdb_server_crash_at_any_moment_is_all_or_nothing(host, figure):
    """The real module, ovsdb-server SIGKILLed at moments spread over its run (connect,
    read, plan, commit, waiting for vswitchd), restarted: the configuration is exactly the
    one before or exactly the one after, and a re-run converges."""
    before = config_dump(host)
    saved = os.path.join(host.dir, "conf.db.before")
    host.kill("ovsdb-server")
    shutil.copy(os.path.join(host.dir, "conf.db"), saved)
    restart_ovsdb(host)
    t0 = time.monotonic()
    res = result(start_module(host, "vswitch", {"config": CHANGE, "timeout": 10}))
    full = time.monotonic() - t0
    assert res["rc"] == 0 and res["changed"], res.get("msg")
    after = config_dump(host)
    assert after != before
    outcomes = {"before": 0, "after": 0, "partial": 0}
    errors = 0
    for i in range(TRIALS):
        _restore(host, saved)
        assert config_dump(host) == before
        proc = start_module(host, "vswitch", {"config": CHANGE, "timeout": 2})
        time.sleep(full * (i + 0.5) / TRIALS)
        host.kill("ovsdb-server", signal.SIGKILL)
        res = result(proc)
        errors += res["rc"] != 0
        restart_ovsdb(host)
        now = config_dump(host)
        outcomes["before" if now == before else "after" if now == after else "partial"] += 1
        again = result(start_module(host, "vswitch", {"config": CHANGE, "timeout": 10}))
        assert again["rc"] == 0, again.get("msg")
        assert config_dump(host) == after
    note = "%d kills over a %.1f s run: %d before, %d after, %d module errors" % (
        TRIALS, full, outcomes["before"], outcomes["after"], errors)
    figure("atomicity.ovsdb_crash_anytime.%s.partial_states" % host.backend,
           outcomes["partial"], 0, note)
    assert outcomes["partial"] == 0, outcomes
