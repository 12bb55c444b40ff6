"""provision.yml end to end on a throwaway OVS: two inventory hosts that both are this
namespace (connection local), so the playbook's validation, canary and report run for real."""

import json

from provision_play import inventory, playbook


def test_bad_inventory_stops_everything_before_any_change(ovs, tmp_path):
    ovs.nic("eth0")
    good = [{"name": "vswitch0", "datapath_type": "netdev", "uplink": {"interfaces": ["eth0"]}}]
    bad = [{"name": "vswitch1", "vnets": [{"name": "vnet0", "tag": 4096}]}]
    inv = inventory(tmp_path, ovs, {"hv-a": {"vswitches": good}, "hv-b": {"vswitches": bad}})
    res = playbook(ovs, inv)
    assert res.returncode != 0
    assert "hv-b: vswitches[0].vnets[0].tag: 4096 is outside the VLAN range" in res.stdout
    assert ovs.vsctl("list-br").strip() == "", "nothing may change, on any host"


def test_provision_converges_and_reports_one_line_per_host(ovs, tmp_path):
    ovs.nic("eth0")
    ovs.nic("vnet0")
    cfg = [{"name": "vswitch0", "datapath_type": "netdev", "uplink": {"interfaces": ["eth0"]},
            "internal": {"addresses": ["203.0.113.11/24"]},
            "vnets": [{"name": "vnet0", "tag": 10}, {"attached_mac": "52:54:00:00:00:99"}]}]
    inv = inventory(tmp_path, ovs, {"hv-a": {"vswitches": cfg}})
    res = playbook(ovs, inv)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "hv-a: 1 vSwitch(es), ports +2 ~0 -0, pending 1 (vswitch0/52:54:00:00:00:99), " \
           "addresses runtime only" in " ".join(res.stdout.split())
    assert ovs.get("Port", "vnet0", "tag") == "10"
    res = playbook(ovs, inv)
    assert "changed=0" in res.stdout and "ports +0 ~0 -0" in " ".join(res.stdout.split())
    res = playbook(ovs, inv, "--check", "-e", json.dumps({"vswitches": [dict(
        cfg[0], vnets=[{"name": "vnet0", "tag": 11}])]}))
    assert res.returncode == 0 and "changed=1" in res.stdout
    assert ovs.get("Port", "vnet0", "tag") == "10", "check mode changed nothing"
