"""Guarded apply against a real ovsdb-server + ovs-vswitchd: the detached guard process makes
the change, and undoes it (OVSDB, then kernel addresses and routes) unless it is confirmed."""

import json
import os
import subprocess
import time

import pytest

from sandbox import REPO

BACKENDS = ["idl", "vsctl"]

MIGRATE = [{"name": "vswitch0", "datapath_type": "netdev", "uplink": {"interfaces": ["eth0"]},
            "vnets": [{"name": "vnet0", "tag": 10}]}]


@pytest.fixture
def host(ovs, monkeypatch):
    """The sandbox as a freshly installed host: eth0 holds the addresses and a route, vswitch0
    exists bare (as an installer leaves it), a VM's tap vnet0 exists unplugged."""
    monkeypatch.setenv("CLOUDNET_VSWITCH_GUARD_DIR", os.path.join(ovs.dir, "guard"))
    ovs.nic("eth0", ["203.0.113.50/24", "2001:db8::50/64"])
    ovs.ns("ip", "route", "add", "198.51.100.0/24", "via", "203.0.113.1", "dev", "eth0")
    ovs.nic("vnet0")
    ovs.nic("vnet7")
    ovs.vsctl("add-br", "vswitch0", "--", "set", "Bridge", "vswitch0", "datapath_type=netdev")
    yield ovs
    # No guard process may outlive its test.
    for rec in _records(ovs):
        if rec.get("pid"):
            _wait(lambda rec=rec: not os.path.exists("/proc/%d" % rec["pid"]), 30)


def _records(ovs):
    d = os.path.join(ovs.dir, "guard")
    return [json.load(open(os.path.join(d, f))) for f in sorted(os.listdir(d))
            if f.endswith(".json")] if os.path.isdir(d) else []


def _wait(predicate, limit):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _status(ovs, token, wait=0):
    res = ovs.module("guard", token=token, wait=wait)
    assert res["rc"] == 0, res
    return res


def _final(ovs, token, limit=30):
    """The record once the guard process is done with it (confirmed, rolled back, failed)."""
    end = time.monotonic() + limit
    while True:
        rec = _status(ovs, token, wait=5)["guard"]
        if rec["status"] in ("confirmed", "rolled_back", "failed") or time.monotonic() > end:
            return rec
        time.sleep(0.2)


def _kernel(ovs):
    return {n: ovs.addresses(n) for n in ("eth0", "vswitch0")}, ovs.ns("ip", "route")


def test_unconfirmed_change_is_undone_and_reported_once(host):
    ovs = host
    columns, kernel = ovs.config_columns(), _kernel(ovs)
    armed = ovs.module("vswitch", config=MIGRATE, migrate_addresses=True, rollback_timeout=3)
    assert armed["rc"] == 0 and armed["changed"] is True, armed
    g = armed["guard"]
    assert g["status"] == "armed" and g["timeout"] == 3
    # The module returned before changing anything: its answer must reach the controller.
    assert ovs.config_columns() == columns
    applied = _status(ovs, g["token"], wait=15)["guard"]
    assert applied["status"] == "applied", applied
    assert ovs.addresses("vswitch0") == ["2001:db8::50/64", "203.0.113.50/24"]
    assert ovs.get("Port", "vnet0", "tag") == "10"
    # libvirt starts a VM on vswitch0 while the change waits for its confirmation.
    ovs.vsctl("add-port", "vswitch0", "vnet7", "--", "set", "Interface", "vnet7",
              "external_ids:attached-mac=52:54:00:aa:bb:07", "external_ids:iface-status=active")
    with_vm = ovs.config_columns()
    assert with_vm != columns
    done = _final(ovs, g["token"])
    assert done["status"] == "rolled_back", done
    assert done["finished_at"] - done["applied_at"] < 3 + 5  # at the deadline, not later
    assert any("eth0" in r for r in done["reverted"]), done["reverted"]
    # Everything as before, but for the port libvirt plugged meanwhile, which stays.
    assert ovs.vsctl("port-to-br", "vnet7").strip() == "vswitch0"
    ovs.vsctl("del-port", "vswitch0", "vnet7")
    assert ovs.config_columns() == columns
    assert _kernel(ovs) == kernel
    # The next change on this host fails once, naming what was reverted; then runs.
    again = ovs.module("vswitch", config=MIGRATE, migrate_addresses=True, rollback_timeout=0)
    assert again["rc"] == 1 and "was rolled back" in again["msg"], again
    assert "ip address add 203.0.113.50/24 dev eth0" in again["msg"]
    assert ovs.config_columns() == columns
    again = ovs.module("vswitch", config=MIGRATE, migrate_addresses=True, rollback_timeout=0)
    assert again["rc"] == 0 and again["changed"] is True and "guard" not in again, again
    assert ovs.addresses("vswitch0") == ["2001:db8::50/64", "203.0.113.50/24"]


def test_confirmed_change_is_kept(host):
    ovs = host
    armed = ovs.module("vswitch", config=MIGRATE, migrate_addresses=True, rollback_timeout=3)
    token = armed["guard"]["token"]
    assert _status(ovs, token, wait=15)["guard"]["status"] == "applied"
    conf = ovs.module("guard", token=token, state="confirmed")
    assert conf["rc"] == 0 and conf["changed"] is True, conf
    assert conf["guard"]["status"] == "confirmed"
    assert conf["result"]["after"][0]["uplink"]["interfaces"] == ["eth0"]
    time.sleep(4)
    assert _status(ovs, token)["guard"]["status"] == "confirmed"
    assert ovs.addresses("vswitch0") == ["2001:db8::50/64", "203.0.113.50/24"]
    assert ovs.addresses("eth0") == []
    again = ovs.module("guard", token=token, state="confirmed")
    assert again["rc"] == 0 and again["changed"] is False
    idem = ovs.module("vswitch", config=MIGRATE, migrate_addresses=True, rollback_timeout=3)
    assert idem["rc"] == 0 and idem["changed"] is False and "guard" not in idem, idem


def test_a_waiting_change_blocks_others_and_too_late_is_refused(host):
    ovs = host
    armed = ovs.module("vswitch", config=MIGRATE, migrate_addresses=True, rollback_timeout=2)
    token = armed["guard"]["token"]
    assert _status(ovs, token, wait=15)["guard"]["status"] == "applied"
    columns = ovs.config_columns()
    other = ovs.module("vswitch", config=[{"name": "vswitch1", "datapath_type": "netdev"}])
    assert other["rc"] == 1 and "waiting for its confirmation" in other["msg"], other
    assert ovs.config_columns() == columns
    # Read-only and check-mode runs still work meanwhile.
    assert ovs.module("vswitch", check=True, config=[{"name": "vswitch1"}])["rc"] == 0
    assert _final(ovs, token)["status"] == "rolled_back"
    late = ovs.module("guard", token=token, state="confirmed")
    assert late["rc"] == 1 and "was rolled back" in late["msg"], late
    # Reported by the confirmation attempt: the next change runs.
    assert ovs.module("vswitch", config=[{"name": "vswitch1", "datapath_type": "netdev"}])[
        "rc"] == 0


def test_management_address_guards_only_what_carries_it(host):
    ovs = host
    # A vnet on another vSwitch: not guarded even though the management address is known.
    ovs.vsctl("add-br", "vswitch1", "--", "set", "Bridge", "vswitch1", "datapath_type=netdev")
    plain = ovs.module("vswitch", management_addresses=["203.0.113.50"],
                       config=[{"name": "vswitch1", "vnets": [{"name": "vnet7"}]}])
    assert plain["rc"] == 0 and plain["changed"] is True and "guard" not in plain, plain
    # Moving the NIC that holds it is, with the default timeout, and says why.
    check = ovs.module("vswitch", check=True, management_addresses=["203.0.113.50"],
                       config=MIGRATE, migrate_addresses=True)
    assert check["rc"] == 0 and check["guard"]["status"] == "would_guard", check
    assert check["guard"]["timeout"] == 60 and check["guard"]["reasons"]
    armed = ovs.module("vswitch", management_addresses=["203.0.113.50"], config=MIGRATE,
                       migrate_addresses=True)
    g = armed["guard"]
    assert g["timeout"] == 60 and any("eth0" in r and "203.0.113.50" in r
                                      for r in g["reasons"]), g
    assert _status(ovs, g["token"], wait=15)["guard"]["status"] == "applied"
    assert ovs.module("guard", token=g["token"], state="confirmed")["rc"] == 0
    # Now on vswitch0: a vnet change there is not guarded.
    vnet = ovs.module("vswitch", management_addresses=["203.0.113.50"],
                      config=[{"name": "vswitch0", "vnets": [{"name": "vnet0", "tag": 20}]}])
    assert vnet["rc"] == 0 and vnet["changed"] and "guard" not in vnet, vnet


def test_guard_module_lists_and_names_bad_input(host):
    ovs = host
    listed = ovs.module("guard")
    assert listed["rc"] == 0 and listed["guards"] == []
    bad = ovs.module("guard", token="0f6c1d2e-7a41-4a8e-9a53-2b1f0c3d4e5f")
    assert bad["rc"] == 1 and bad["msg"].startswith("token:"), bad
    bad = ovs.module("guard", token="../../etc/passwd")
    assert bad["rc"] == 1 and "token" in bad["msg"], bad
    neg = ovs.module("vswitch", config=MIGRATE, rollback_timeout=-1)
    assert neg["rc"] == 1 and neg["msg"].startswith("rollback_timeout:"), neg


def test_through_ansible_playbook_the_action_plugin_confirms(host, tmp_path):
    """The real path: the action plugin runs the module, reconnects, waits for the change to
    be applied, reconnects again and confirms; the task result is what the host applied."""
    ovs = host
    play = tmp_path / "play.yml"
    play.write_text(json.dumps([{
        "hosts": "localhost", "gather_facts": False,
        "vars": {"ansible_python_interpreter": "/usr/bin/python3"},
        "tasks": [{"name": "vswitch", "cloudnet.vswitch.vswitch": {
            "db": ovs.db, "config": MIGRATE, "migrate_addresses": True,
            "rollback_timeout": 4}, "register": "out"},
            {"ansible.builtin.copy": {"content": "{{ out | to_json }}",
                                      "dest": str(tmp_path / "out.json")}}]}]))
    env = dict(os.environ, ANSIBLE_CONFIG=REPO + "/ansible.cfg",
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    res = subprocess.run(["ip", "netns", "exec", ovs.netns, REPO + "/.venv/bin/ansible-playbook",
                          str(play)], capture_output=True, text=True, env=env, cwd=REPO,
                         check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["changed"] is True and out["guard"]["status"] == "confirmed", out
    assert out["after"][0]["internal"]["addresses"] == ["2001:db8::50/64", "203.0.113.50/24"]
    time.sleep(5)
    assert ovs.addresses("vswitch0") == ["2001:db8::50/64", "203.0.113.50/24"]
    assert [r["status"] for r in _records(ovs)] == ["confirmed"]


def test_the_uplink_module_is_guarded_too(host):
    ovs = host
    columns, kernel = ovs.config_columns(), _kernel(ovs)
    armed = ovs.module("uplink", bridge="vswitch0", interfaces=["eth0"], migrate_addresses=True,
                       management_addresses=["2001:db8::50"], rollback_timeout=2)
    assert armed["rc"] == 0, armed
    assert any("2001:db8::50/64" in r for r in armed["guard"]["reasons"]), armed["guard"]
    assert _final(ovs, armed["guard"]["token"])["status"] == "rolled_back"
    assert ovs.config_columns() == columns and _kernel(ovs) == kernel


def test_a_guard_process_that_dies_is_reported_not_waited_for(host):
    ovs = host
    armed = ovs.module("vswitch", config=MIGRATE, migrate_addresses=True, rollback_timeout=30)
    token = armed["guard"]["token"]
    assert _status(ovs, token, wait=15)["guard"]["status"] == "applied"
    os.kill(armed["guard"]["pid"], 9)
    _wait(lambda: not os.path.exists("/proc/%d" % armed["guard"]["pid"]), 10)
    rec = _status(ovs, token)["guard"]
    assert rec["status"] == "failed" and "NOT rolled back" in rec["error"], rec
    # It does not block the host, and the next change reports it once.
    nxt = ovs.module("vswitch", config=[{"name": "vswitch1", "datapath_type": "netdev"}])
    assert nxt["rc"] == 1 and "NOT rolled back" in nxt["msg"], nxt
    nxt = ovs.module("vswitch", config=[{"name": "vswitch1", "datapath_type": "netdev"}])
    assert nxt["rc"] == 0, nxt
