"""provision.yml end to end on a throwaway OVS: two inventory hosts that both are this
namespace (connection local), so the playbook's validation, canary and report run for real."""

import json
import os
import subprocess

import yaml

from sandbox import REPO


def inventory(tmp_path, ovs, hosts):
    inv = {"all": {"children": {"hypervisors": {"hosts": hosts}}, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3",
        "provision_install_packages": False, "provision_manage_service": False,
        "provision_persist": "runtime", "provision_db": ovs.db}}}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inv))
    return str(path)


def playbook(ovs, inv, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_NOCOLOR="1")
    return subprocess.run(["ip", "netns", "exec", ovs.netns,
                           os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", inv,
                           os.path.join(REPO, "playbooks", "provision.yml")] + list(extra),
                          capture_output=True, text=True, env=env, cwd=REPO, check=False)


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
