"""provision.yml end to end on a throwaway OVS: two inventory hosts that both are this
namespace (connection local), so the playbook's validation, canary and report run for real."""

import json
import os
import subprocess

import pytest

from provision_play import inventory, playbook
from sandbox import REPO


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


BLOCK_NETADDR = '''import sys


class _Absent:
    """netaddr is not installed: every import of it fails, as on a bare controller."""

    def find_spec(self, name, path=None, target=None):
        if name == "netaddr" or name.startswith("netaddr."):
            raise ImportError("No module named %r" % name)
        return None


sys.meta_path.insert(0, _Absent())
'''


@pytest.mark.parametrize("playbook_args", [
    ["provision.yml"],
    ["collect_captures.yml", "-e", "host_ip=203.0.113.102"],
])
def test_a_controller_without_netaddr_is_told_to_install_it(ovs, tmp_path, playbook_args):
    """The controller's Python cannot import netaddr: the run says so (not that the address is
    invalid, not an AttributeError) before any host is contacted."""
    ovs.nic("eth0")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCK_NETADDR)
    cfg = [{"name": "vswitch0", "datapath_type": "netdev", "uplink": {"interfaces": ["eth0"]}}]
    inv = inventory(tmp_path, ovs, {"hv-a": {"vswitches": cfg}})
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_NOCOLOR="1", PYTHONPATH=str(site))
    res = subprocess.run(["ip", "netns", "exec", ovs.netns,
                          os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", inv,
                          os.path.join(REPO, "playbooks", playbook_args[0])] + playbook_args[1:],
                         capture_output=True, text=True, env=env, cwd=REPO, check=False)
    out = " ".join((res.stdout + res.stderr).split())
    assert res.returncode != 0
    assert "the controller needs the Python package netaddr: pip install netaddr" in out, out
    assert "AttributeError" not in out and "not a valid IP" not in out
    assert ovs.vsctl("list-br").strip() == ""


def test_a_host_without_ovs_stops_the_run_naming_the_packages(ovs, tmp_path):
    """hv-b has no python3-openvswitch and no ovs-vsctl (its Python runs with the library
    blocked and a PATH without them) and the role may not install packages: the plan says
    what to install, by name, and hv-a, the canary, is not changed."""
    ovs.nic("eth0")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\nsys.modules['ovs'] = None\n")
    python = tmp_path / "python-without-ovs"
    python.write_text("#!/bin/sh\nPATH=/nonexistent PYTHONPATH=%s exec /usr/bin/python3 \"$@\"\n"
                      % site)
    python.chmod(0o755)
    good = [{"name": "vswitch0", "datapath_type": "netdev", "uplink": {"interfaces": ["eth0"]}}]
    inv = inventory(tmp_path, ovs, {"hv-a": {"vswitches": good}, "hv-b": {
        "vswitches": good, "ansible_python_interpreter": str(python)}})
    res = playbook(ovs, inv)
    out = " ".join(res.stdout.split())
    assert res.returncode != 0
    assert "fatal: [hv-b]" in out and "fatal: [hv-a]" not in out, out
    assert "this host has no python3-openvswitch" in out and "no ovs-vsctl on PATH" in out, out
    assert "missing: - python3-openvswitch - ovs-vsctl" in out, out
    assert "Apply the host" not in out, out
    assert ovs.vsctl("list-br").strip() == "", "nothing may change, on any host"
