"""Idempotence: every module reports no change on its second run (real and check mode), and
provision.yml (the provision role) reports changed=0 on its second run, while a VM pings
every 10 ms through the vSwitch it provisions. Counted, in the sandbox."""

import json

import pytest

from capture_lab import BASE, VM_A, VM_B, Lab
from provision_play import inventory, playbook
from relkit import Pinger, ofports

pytestmark = pytest.mark.fast
BACKENDS = ["idl", "vsctl"]

BOND = {"interfaces": ["eth2", "eth3"], "bond_name": "bond0", "bond_mode": "balance-slb",
        "lacp": "active", "other_config": {"lacp-time": "fast"}}

# (module, args): each is run, then run again (real and check mode): no change allowed.
STEPS = [
    ("vswitch", {"config": [dict(BASE, mac_aging_time=120, external_ids={"rack": "r1"},
                                 other_config={"a": "1"})]}),
    ("vswitch", {"config": [{"name": "vswitch2", "datapath_type": "netdev", "uplink": BOND}]}),
    ("vswitch", {"config": [dict(BASE, vnets=[{"name": "vnet5", "tag": 10},
                                              {"name": "vnet6", "trunks": [10, "20-22"],
                                               "mtu_request": 1400}])]}),
    ("vswitch", {"state": "replaced", "config": [dict(BASE, mac_aging_time=60)]}),
    ("vswitch", {"state": "overridden", "config": [BASE, {
        "name": "vswitch2", "datapath_type": "netdev", "uplink": BOND}]}),
    ("bridge", {"name": "vswitch3", "datapath_type": "netdev", "mac_aging_time": 30,
                "internal": {"addresses": ["198.51.100.3/24"]}}),
    ("uplink", {"bridge": "vswitch3", "interfaces": ["eth4"]}),
    ("vnet", {"bridge": "vswitch3", "name": "vnet4", "attached_mac": "52:54:00:00:00:04",
              "tag": 40}),
    ("vnet", {"bridge": "vswitch3", "attached_mac": "52:54:00:00:00:04", "tag": "none"}),
    ("vnet", {"bridge": "vswitch3", "attached_mac": "52:54:00:00:00:04", "state": "absent"}),
    ("uplink", {"bridge": "vswitch3", "state": "absent", "allow_disruptive": True}),
    ("bridge", {"name": "vswitch3", "state": "absent", "allow_disruptive": True}),
    ("vswitch", {"state": "deleted", "config": [{"name": "vswitch2"}],
                 "allow_disruptive": True}),
    ("vswitch", {"state": "gathered"}),
    ("vswitch_info", {}),
    ("fdb_info", {"ip": VM_B}),
    ("path_check", {"peers": [VM_A]}),
    ("locate", {"ip": VM_B}),
]


READ_ONLY = ("vswitch_info", "fdb_info", "path_check", "locate")


@pytest.fixture
def lab(ovs):
    box = Lab(ovs)
    try:
        box.build()
        for n in ("eth2", "eth3", "eth4", "vnet4", "vnet5", "vnet6"):
            ovs.nic(n)
        yield box
    finally:
        box.clean()


def test_every_module_changes_nothing_on_its_second_run(lab, figure):
    ovs = lab.ovs
    second, seconds = [], 0
    before = ofports(ovs)
    ping = Pinger(lab.vms["vnet0"], VM_B).start()
    try:
        for module, args in STEPS:
            first = ovs.module(module, **args)
            assert first["rc"] == 0, (module, args, first.get("msg"))
            # read-only modules never take the check-mode path differently: one rerun
            for check in ((False,) if module in READ_ONLY else (True, False)):
                again = ovs.module(module, check=check, **args)
                seconds += 1
                assert again["rc"] == 0, (module, args, again.get("msg"))
                if again["changed"]:
                    second.append("%s %s%s: %s" % (module, json.dumps(args)[:60],
                                                   " (check)" if check else "",
                                                   again.get("commands")))
    finally:
        sent, lost, _dups = ping.stop()
    moved = [n for n in ("vnet0", "vnet1", "eth0") if ofports(ovs).get(n) != before[n]]
    figure("idempotence.modules.%s.second_runs_changed" % ovs.backend, len(second), 0,
           "%d second runs of %d module tasks (9 modules)" % (seconds, len(STEPS)))
    figure("disruption.module_sequence.%s.lost_packets" % ovs.backend, lost, 0,
           "an unrelated VM on vnet0 during all %d module runs, %d pings" % (3 * len(STEPS), sent))
    assert second == [], second
    assert lost == 0 and moved == [], (lost, moved)


@pytest.mark.parametrize("ovs", ["auto"], indirect=True)   # the role picks its backend
def test_provision_playbook_second_run_changes_nothing_and_loses_no_packet(
        lab, figure, tmp_path):
    ovs = lab.ovs
    cfg = [dict(BASE, mac_aging_time=120, vnets=[{"name": "vnet0", "tag": None},
                                                 {"name": "vnet1"}]),
           {"name": "vswitch2", "datapath_type": "netdev", "uplink": BOND,
            "vnets": [{"name": "vnet4", "tag": 4, "precreate": True}]}]
    inv = inventory(tmp_path, ovs, {"hv-a": {"vswitches": cfg}})
    res = playbook(ovs, inv)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    before = ofports(ovs)
    ping = Pinger(lab.vms["vnet0"], VM_B).start()
    try:
        res = playbook(ovs, inv)
    finally:
        sent, lost, _dups = ping.stop()
    assert res.returncode == 0, res.stdout[-3000:]
    recap = [ln for ln in res.stdout.splitlines() if ln.startswith("hv-a ")]
    changed = int(recap[-1].split("changed=")[1].split()[0])
    moved = [n for n, p in before.items() if ofports(ovs).get(n) != p]
    figure("idempotence.provision_yml.sandbox.second_run_changed", changed, 0,
           "provision role, 1 host, 2 vSwitches")
    figure("disruption.idempotent_provision_yml.sandbox.lost_packets", lost, 0,
           "of %d pings at 10 ms during the second run" % sent)
    figure("disruption.idempotent_provision_yml.sandbox.ofport_changes", len(moved), 0)
    assert changed == 0, recap
    assert lost == 0 and moved == [], (lost, moved)
