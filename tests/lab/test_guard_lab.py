"""Guarded apply on the lab, over real SSH: a change that cuts the last host off its
management network comes back by itself, the controller says so, the other hosts carry on;
the right migration is confirmed and kept.

Run: pytest tests/lab/test_guard_lab.py   (as root, from the repository; ~1 min)
"""

import time

import guard_lab
import pytest
from guard_lab import CUT_OFF, HARMLESS, RIGHT, run_vswitch
from labkit import adhoc

TIMEOUT = 15


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    return guard_lab.start(request, tmp_path_factory)


def sh(lab, host, cmd):
    rc, res = adhoc(lab["inventory"], "ansible.builtin.command", cmd, pattern=host)
    assert rc == 0, res
    return res[host]["stdout"]


def test_a_change_that_cuts_the_host_off_comes_back_by_itself(lab, tmp_path):
    last, others = lab["last"], sorted(h for h in lab["hosts"] if h != lab["last"])
    mgmt = lab["hosts"][last]["ansible_host"]
    configs = {h: HARMLESS for h in others}
    configs[last] = CUT_OFF
    run, res = run_vswitch(lab, tmp_path, configs, rollback_timeout=TIMEOUT)
    bad = res[last]
    assert bad.get("failed") and "was rolled back" in bad["msg"], (run, bad)
    assert "ip address add %s/24 dev eth0" % mgmt in bad["msg"], bad["msg"]
    g = bad["guard"]
    assert g["status"] == "rolled_back" and any("eth0" in r and mgmt in r for r in g["reasons"])
    assert g["finished_at"] - g["applied_at"] < TIMEOUT + 5, g  # at the deadline, not later
    for h in others:  # the other hosts carry on: changed, confirmed, kept
        assert res[h]["changed"] and res[h]["guard"]["status"] == "confirmed", res[h]
        assert "r1" in sh(lab, h, "ovs-vsctl get Bridge vswitch1 external_ids:rack")
    # The host is back as it was: reachable, the address on eth0, no bond.
    assert mgmt + "/24" in sh(lab, last, "ip -br address show dev eth0")
    assert "bond0" not in sh(lab, last, "ovs-vsctl list-ports vswitch0")
    # The controller saw the rollback, so the next run does not report it again.
    listed = adhoc(lab["inventory"], "cloudnet.vswitch.guard", pattern=last)[1][last]
    assert [(x["status"]) for x in listed["guards"]] == ["rolled_back"]


def test_the_right_migration_is_confirmed_and_kept(lab, tmp_path):
    last = lab["last"]
    mgmt = lab["hosts"][last]["ansible_host"]
    # No rollback_timeout: guarded because it moves the management address.
    run, res = run_vswitch(lab, tmp_path, {h: (RIGHT if h == last else HARMLESS)
                                           for h in lab["hosts"]})
    good = res[last]
    assert good["changed"] and not good.get("failed"), (run, good)
    g = good["guard"]
    assert g["status"] == "confirmed" and g["timeout"] == 60, g
    assert any("eth0" in r and mgmt in r for r in g["reasons"]), g
    assert mgmt + "/24" in good["after"][0]["internal"]["addresses"]
    # Unguarded elsewhere: nothing there touches the management connection.
    assert all("guard" not in res[h] for h in lab["hosts"] if h != last)
    time.sleep(2)
    assert mgmt + "/24" in sh(lab, last, "ip -br address show dev vswitch0")
    assert "eth0" in sh(lab, last, "ovs-vsctl list-ports vswitch0")
