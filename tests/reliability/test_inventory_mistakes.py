"""Inventory mistakes (tests/support/mistakes.py) through the real provision.yml, on a sandbox
fleet of three inventory hosts (connection local, one OVS, each host its own two vSwitches):
for every mistake the run fails with the lines the user must see, no module runs where the
controller refuses it, OVSDB's configuration is unchanged, and no process anywhere has the
mistaken value in its arguments (strace -f). The lab's run of the same cases writes the table
in docs/reliability.md (test_lab_figures.py)."""

import os
import subprocess

import pytest
import yaml

from mistakes import argvs, bad_values, cases, messages, modules_run, mutated, traced
from provision_play import inventory
from sandbox import REPO, Sandbox

pytestmark = pytest.mark.fast


def base_hosts():
    hosts = {}
    for h in range(3):
        vss = []
        for k in range(2):
            n = 2 * h + k
            vss.append({"name": "vswitch%d" % n, "datapath_type": "netdev",
                        "uplink": {"interfaces": ["eth%d" % n]},
                        "internal": {"addresses": ["203.0.113.%d/24" % (11 + n)]},
                        "vnets": [{"name": "vnet%d" % n, "tag": 10 + n}]})
        hosts["hv%d" % (h + 1)] = {"vswitches": vss}
    return hosts


def run(box, inv, log):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_NOCOLOR="1")
    argv = traced([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", inv,
                   os.path.join(REPO, "playbooks", "provision.yml")], log)
    return subprocess.run(["ip", "netns", "exec", box.netns] + argv, capture_output=True,
                          text=True, env=env, cwd=REPO, check=False, timeout=300)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    box = Sandbox("rmist")
    box.start()
    try:
        for n in range(6):
            box.nic("eth%d" % n)
            box.nic("vnet%d" % n)
        tmp = tmp_path_factory.mktemp("mistakes")
        hosts = base_hosts()
        res = run(box, inventory(tmp, box, hosts), str(tmp / "base.log"))
        assert res.returncode == 0, res.stdout + res.stderr
        yield box, hosts
    finally:
        box.stop()


@pytest.mark.parametrize("case", cases(), ids=lambda c: c[0])
def test_a_mistake_is_named_and_changes_nothing(fleet, case, tmp_path):
    box, hosts = fleet
    cid, _what, _mutate, lines, where = case
    before = box.config_columns()
    res = run(box, inventory(tmp_path, box, mutated(hosts, case)), str(tmp_path / "exec.log"))
    procs = argvs(str(tmp_path / "exec.log"))
    assert res.returncode != 0, res.stdout
    msgs = messages(res.stdout)
    for line in lines:
        assert any(line in m for m in msgs), (line, msgs, res.stdout)
    runs = modules_run(procs)
    if where == "controller":
        assert runs == 0, "refused on the controller: no module may run"
        assert msgs[0].startswith("provision.yml stopped before contacting any host; nothing "
                                  "changed:")
        assert len(msgs[0].splitlines()) == 1 + len(lines), msgs[0]
    else:
        assert 0 < runs <= 3, "at most one check-mode plan per host"
    assert box.config_columns() == before, "%s: OVSDB changed" % cid
    typed = bad_values(case, hosts)
    leaked = [a for a in procs if any(v in x for v in typed for x in a)]
    assert leaked == [], "a process was started with the mistaken value in its argv"


def test_every_case_is_distinct_and_there_are_enough():
    ids = [c[0] for c in cases()]
    assert len(ids) == len(set(ids)) and len(ids) >= 50
    assert yaml.safe_dump(base_hosts())
