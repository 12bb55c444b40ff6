"""The lab, end to end: a real 3-host lab brought up with lab_up.yml, probed over SSH, torn down.

Run: pytest tests/lab/test_lab.py   (as root, from the repository; takes ~20 s)
"""

import json
import subprocess
import sys
import time

import pytest
import yaml
from labkit import (REPO, adhoc, as_list, in_node, lab_leftovers, ovs_json, playbook,
                    start_lab, state)

HOSTS = 3


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    started = time.monotonic()
    info = start_lab(request, tmp_path_factory, HOSTS)
    info["up_seconds"] = time.monotonic() - started
    info["inv"] = yaml.safe_load(info["inventory"].read_text())
    info["hosts"] = info["inv"]["all"]["children"]["hypervisors"]["hosts"]
    return info


def test_inventory_contract(lab):
    hosts = lab["hosts"]
    assert sorted(hosts) == [f"hv{i}" for i in range(1, HOSTS + 1)]
    last = f"hv{HOSTS}"
    for name, hv in hosts.items():
        assert hv["ansible_user"] == "cnlab"
        assert hv["ansible_become"] is True
        assert hv["ansible_python_interpreter"] == "/usr/bin/python3"
        names = [vs["name"] for vs in hv["vswitches"]]
        assert names == (["vswitch0", "vswitch1", "vswitch2"] if name == "hv1"
                         else ["vswitch0", "vswitch1"])
        assert hv.get("provision_migrate_addresses", False) is (name == last)
        # at least one untagged VM on vswitch0, one VM the provisioning plugs itself
        assert any(vm["vswitch"] == "vswitch0" and vm["tag"] is None for vm in hv["lab_vms"])
        assert any(vm["plugged_by"] == "provision" for vm in hv["lab_vms"])
    assert {vm["tag"] for hv in hosts.values() for vm in hv["lab_vms"]} >= {None, 10, 20}
    bond = hosts["hv1"]["vswitches"][2]["uplink"]
    assert bond["interfaces"] == ["eth2", "eth3"] and bond["lacp"] == "active"
    assert lab["inv"]["all"]["vars"]["provision_install_packages"] is False
    assert lab["inv"]["all"]["vars"]["lab_dir"] == str(lab["dir"])


def test_ping_over_ssh_with_become(lab):
    rc, res = adhoc(lab["inventory"], "ping")
    assert rc == 0, res
    assert sorted(res) == sorted(lab["hosts"])
    assert all(r.get("ping") == "pong" for r in res.values()), res


def test_each_host_is_its_own(lab):
    rc, res = adhoc(lab["inventory"], "command", "hostname")
    assert rc == 0, res
    seen = {host: r["stdout"].strip() for host, r in res.items()}
    assert seen == {h: h for h in lab["hosts"]}
    rc, res = adhoc(lab["inventory"], "command", "whoami")
    assert {r["stdout"].strip() for r in res.values()} == {"root"}  # become works


def test_ovs_per_host(lab):
    rc, res = adhoc(lab["inventory"], "command",
                    "ovs-vsctl --format=json -- --columns=name,ports list Bridge "
                    "-- --columns=_uuid,name,interfaces,tag list Port "
                    "-- --columns=_uuid,name,external_ids list Interface "
                    "-- get Open_vSwitch . external_ids:hostname")
    assert rc == 0, res
    for host, r in res.items():
        lines = r["stdout"].splitlines()
        bridges, ports, ifaces = ovs_json("\n".join(lines[:3]))
        assert lines[3].strip().strip("\"") == host  # ovs-vsctl get prints a bare word
        # only this host's bare bridges: no ToR, no other host's
        assert sorted(b["name"] for b in bridges) == ["vswitch0", "vswitch1"]
        port_by_uuid = {p["_uuid"]: p for p in ports}
        iface_by_uuid = {i["_uuid"]: i for i in ifaces}
        on_bridge = {}
        for b in bridges:
            for pu in as_list(b["ports"]):
                for iu in as_list(port_by_uuid[pu]["interfaces"]):
                    on_bridge[iface_by_uuid[iu]["name"]] = (b["name"], port_by_uuid[pu])
        want = {vm["vnet"]: vm for vm in lab["hosts"][host]["lab_vms"]
                if vm["plugged_by"] == "libvirt"}
        assert sorted(on_bridge) == sorted(["vswitch0", "vswitch1", *want])
        for iface in ifaces:
            vm = want.get(iface["name"])
            if vm is None:
                continue
            assert on_bridge[iface["name"]][0] == vm["vswitch"]
            assert on_bridge[iface["name"]][1]["tag"] == []  # the inventory declares the tag
            assert iface["external_ids"] == {"attached-mac": vm["mac"],
                                             "iface-id": vm["iface_id"],
                                             "iface-status": "active", "vm-id": vm["vm_id"]}


def test_unplugged_vnet_is_in_kernel_not_ovs(lab):
    rc, res = adhoc(lab["inventory"], "command", "ip -j link show")
    assert rc == 0, res
    rc_ovs, ovs = adhoc(lab["inventory"], "command",
                        "ovs-vsctl list-ifaces vswitch0 -- list-ifaces vswitch1")
    assert rc_ovs == 0, ovs
    for host, r in res.items():
        kernel = {ln["ifname"] for ln in json.loads(r["stdout"])}
        in_ovs = set(ovs[host]["stdout"].split())
        for vm in lab["hosts"][host]["lab_vms"]:
            assert vm["vnet"] in kernel
            assert (vm["vnet"] in in_ovs) is (vm["plugged_by"] == "libvirt")
        assert {"eth0", "eth1"} <= kernel
        assert ({"eth2", "eth3"} <= kernel) is (host == "hv1")
        assert ("mgmt0" in kernel) is (host != f"hv{HOSTS}")


def test_host_stack_protection(lab):
    """docs/lab.md, trap 1: ingress drop on OVS-owned ports, not on the last host's eth0 (yet)."""
    last = f"hv{HOSTS}"
    for host, hv in lab["hosts"].items():
        out = in_node(lab, host, "nft", "-j", "list", "table", "netdev", "cnlab").stdout
        chains = {c["chain"]["name"] for c in json.loads(out)["nftables"] if "chain" in c}
        nics = ["eth0", "eth1"] + (["eth2", "eth3"] if host == "hv1" else [])
        want = {f"in_{n}" for n in nics + [vm["vnet"] for vm in hv["lab_vms"]]}
        if host == last:
            want.discard("in_eth0")
        assert chains == want
        rp = in_node(lab, host, "sysctl", "-n", "net.ipv4.conf.all.rp_filter").stdout.strip()
        assert rp == "0"


def test_vms_reach_each_other_through_the_host(lab):
    """Two VMs on hv1's vswitch0 (no tags before provisioning): one reply each, TCP-ready NICs."""
    vm1, vm2 = lab["hosts"]["hv1"]["lab_vms"][:2]
    out = subprocess.run(["ip", "netns", "exec", vm1["netns"], "ping", "-c", "3", "-i", "0.2",
                          "-W", "2", vm2["address"].split("/")[0]],
                         capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 0, out.stdout
    assert "DUP!" not in out.stdout  # trap 1: the host kernel does not answer too
    feat = subprocess.run(["ip", "netns", "exec", vm1["netns"], "ethtool", "-k", "eth0"],
                          capture_output=True, text=True, check=True).stdout
    assert "tx-checksumming: off" in feat  # trap 2


def test_tor_bond_and_trunks(lab):
    tables = ovs_json(in_node(lab, "tor", "ovs-vsctl", "--format=json", "--",
                              "--columns=name,bond_mode,lacp,other_config,interfaces,trunks",
                              "list", "Port").stdout)[0]
    ports = {p["name"]: p for p in tables}
    bond = ports["hv1-bond"]
    assert bond["lacp"] == "active"
    assert bond["bond_mode"] == "balance-tcp"
    assert bond["other_config"]["lacp-time"] == "fast"
    assert len(as_list(bond["interfaces"])) == 2
    for h in lab["hosts"]:
        assert ports[f"{h}-eth0"]["trunks"] == [0, 10, 20]
    assert "mgmt" in ports
    show = in_node(lab, "tor", "ovs-appctl", "bond/show", "hv1-bond").stdout
    assert "hv1-eth2" in show and "hv1-eth3" in show


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_last_host_eth0_protected_after_migration(lab):
    """The last host's eth0 gets the ingress drop once its address has moved (and loses it
    when the address comes back, as after a rollback), without anyone asking."""
    last = f"hv{HOSTS}"
    addr = f"{lab['hosts'][last]['ansible_host']}/24"

    def has_drop():
        return subprocess.run(
            ["nsenter", f"--target={state(lab)['nodes'][last]['init_pid']}", "--net", "--",
             "nft", "list", "chain", "netdev", "cnlab", "in_eth0"],
            capture_output=True, check=False).returncode == 0

    assert not has_drop()
    in_node(lab, last, "ip", "addr", "del", addr, "dev", "eth0")
    try:
        assert wait_for(has_drop), "no ingress drop on eth0 after its address left"
    finally:
        in_node(lab, last, "ip", "addr", "add", addr, "dev", "eth0")
    assert wait_for(lambda: not has_drop()), "ingress drop stayed after the address came back"
    rc, res = adhoc(lab["inventory"], "ping", pattern=last)
    assert rc == 0, res


def test_protect_command(lab):
    prog = [sys.executable, str(REPO / "roles/lab/files/cnlab.py"), "protect",
            "--dir", str(lab["dir"]), "--host", "hv2"]

    def protect(*args):
        out = subprocess.run(prog + list(args), capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    assert protect("--ifname", "eth1") == {
        "changed": False, "host": "hv2", "ifname": "eth1", "drop": True}
    assert protect("--ifname", "eth1", "--undo")["changed"] is True
    assert protect("--ifname", "eth1", "--undo")["changed"] is False
    assert protect("--ifname", "eth1")["changed"] is True


def test_second_up_changes_nothing(lab):
    before = lab["inventory"].read_text()
    run = playbook("lab_up.yml", lab["dir"], "-e", f"lab_hosts={HOSTS}")
    assert run.rc == 0, run
    assert run.changed() == 0, run
    assert lab["inventory"].read_text() == before


def test_zz_down_removes_everything_and_is_idempotent(lab):
    started = time.monotonic()
    run = playbook("lab_down.yml", lab["dir"])
    down_seconds = time.monotonic() - started
    assert run.rc == 0, run
    assert run.changed() > 0, run
    assert lab_leftovers(lab["dir"]) == []
    run = playbook("lab_down.yml", lab["dir"])
    assert run.rc == 0, run
    assert run.changed() == 0, run
    print(f"\nlab of {HOSTS}: up {lab['up_seconds']:.1f} s, down {down_seconds:.1f} s")
