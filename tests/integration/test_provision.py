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


def test_unknown_key_beside_a_valid_canary_change_changes_nothing(ovs, tmp_path):
    """The canary's valid change is not made when another host's inventory has a typo, and
    every mistake of every host is named at once, one line each, before any host is
    contacted."""
    ovs.nic("eth0")
    good = [{"name": "vswitch0", "datapath_type": "netdev", "uplink": {"interfaces": ["eth0"]}}]
    typo = [{"name": "vswitch1", "vnet": [{"name": "vnet0"}]}]
    inv = inventory(tmp_path, ovs, {"hv-a": {"vswitches": good},
                                    "hv-b": {"vswitches": typo, "provision_stat": "replaced"},
                                    "hv-c": {"vswitchs": good}})
    res = playbook(ovs, inv)
    assert res.returncode != 0
    out = res.stdout
    for line in ("hv-b: provision_stat: unknown variable (did you mean provision_state?)",
                 "hv-b: vswitches[0].vnet: unknown key (did you mean vnets?)",
                 "hv-c: vswitchs: unknown variable (did you mean vswitches?): this host would "
                 "get no vSwitches"):
        assert "\n        %s\n" % line in out, out
    assert "Plan the host" not in out, "no host may be contacted"
    assert ovs.vsctl("list-br").strip() == "", "nothing may change, on any host"


def test_a_plan_refused_on_one_host_stops_the_canary_too(ovs, tmp_path):
    """hv-b's plan is refused on the host (STP on an existing bridge, without allow_disruptive):
    the run ends after the plans, and hv-a, the canary, keeps its old state."""
    ovs.nic("eth0")
    ovs.vsctl("add-br", "br-foreign", "--", "set", "Bridge", "br-foreign",
              "datapath_type=netdev")
    good = [{"name": "vswitch0", "datapath_type": "netdev", "uplink": {"interfaces": ["eth0"]}}]
    refused = [{"name": "br-foreign", "datapath_type": "netdev", "stp": True}]
    inv = inventory(tmp_path, ovs, {"hv-a": {"vswitches": good}, "hv-b": {"vswitches": refused}})
    res = playbook(ovs, inv)
    assert res.returncode != 0
    assert "fatal: [hv-b]" in res.stdout, res.stdout
    assert "config[0].stp: enabling STP" in res.stdout, res.stdout
    assert "Apply the host" not in res.stdout, res.stdout
    assert ovs.vsctl("list-br").split() == ["br-foreign"], "nothing may change, on any host"
    assert ovs.get("Bridge", "br-foreign", "stp_enable") == "false"


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
