"""Figures of the guarded apply on the lab (the proof itself is tests/lab/test_guard_lab.py,
which CI runs; both take the lab and the changes from tests/support/guard_lab.py): how long a
host that cut itself off stays cut off, how fast a good change is confirmed, and that the
other hosts carry on.

    flock /run/cnlab-agents.lock pytest -q tests/reliability -m lab
"""

import pytest

import guard_lab
from guard_lab import CUT_OFF, HARMLESS, RIGHT, run_vswitch
from labkit import adhoc

pytestmark = pytest.mark.lab
TIMEOUT = 15


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    """The proof's 3-host lab (guard_lab.start), one for this module."""
    return guard_lab.start(request, tmp_path_factory)


def test_guard_rollback_and_confirmation(lab, tmp_path, figure):
    last = lab["last"]
    others = sorted(h for h in lab["hosts"] if h != last)
    configs = {h: HARMLESS for h in others}
    configs[last] = CUT_OFF
    (tmp_path / "cut").mkdir()
    (tmp_path / "right").mkdir()
    run, res = run_vswitch(lab, tmp_path / "cut", configs, rollback_timeout=TIMEOUT)
    g = res[last].get("guard") or {}
    figure("guard.cut_off.rolled_back", g.get("status") == "rolled_back", True,
           "reverted: %d command(s)" % len(g.get("reverted") or []))
    late = round(g["finished_at"] - g["deadline"], 1) if g.get("deadline") else None
    figure("guard.cut_off.restored_s_after_deadline", late, "<= 5",
           "rollback_timeout %d s; applied %.1f s after the task began"
           % (TIMEOUT, g.get("applied_at", 0) - g.get("created", 0)))
    figure("guard.cut_off.task_s", round(run.seconds, 1), "<= %d" % (TIMEOUT + 45),
           "the whole task: change, %d s without confirmation, rollback, report" % TIMEOUT)
    rc, pong = adhoc(lab["inventory"], "ansible.builtin.ping", pattern=last)
    figure("guard.cut_off.reachable_again", rc == 0 and pong[last].get("ping") == "pong", True)
    confirmed = sum(1 for h in others if (res[h].get("guard") or {}).get("status") ==
                    "confirmed")
    figure("guard.cut_off.other_hosts_confirmed", confirmed, len(others))

    run, res = run_vswitch(lab, tmp_path / "right", {h: (RIGHT if h == last else HARMLESS)
                                                     for h in lab["hosts"]})
    g = res[last].get("guard") or {}
    figure("guard.right_migration.confirmed_and_kept", g.get("status") == "confirmed", True,
           "guarded because: %s" % "; ".join(g.get("reasons") or [])[:70])
    if g.get("finished_at") and g.get("applied_at"):
        figure("guard.right_migration.confirmed_s_after_applied",
               round(g["finished_at"] - g["applied_at"], 1), "<= 10",
               "%d reconnect attempt(s) failed" % g.get("reconnects", 0))
    assert g.get("status") == "confirmed"
