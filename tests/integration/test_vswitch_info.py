"""vswitch_info against a real OVS: roles, ofports, kernel facts, bonds, effective settings."""

import os

from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import health
from converge import BASE, converge, libvirt_plug

BACKENDS = ["idl", "vsctl"]


def test_ports_roles_and_bond(ovs):
    for n in ("eth0", "eth2", "eth3"):
        ovs.nic(n)
    converge(ovs, "vswitch", config=[
        dict(BASE, mac_aging_time=45),
        {"name": "vswitch2", "datapath_type": "netdev", "uplink": {
            "interfaces": ["eth2", "eth3"], "bond_name": "bond0", "bond_mode": "balance-slb"}}])
    libvirt_plug(ovs, "vswitch0", "vnet4", "52:54:00:aa:bb:04")
    ovs.vsctl("set", "Port", "vnet4", "tag=20")
    ovs.vsctl("add-port", "vswitch0", "patch-a", "--", "set", "Interface", "patch-a",
              "type=patch", "options:peer=patch-b")
    ovs.ns("ip", "link", "set", "eth3", "down")
    res = ovs.module("vswitch_info")
    assert res["rc"] == 0 and res["changed"] is False, res.get("msg")
    vs = {v["name"]: v for v in res["vswitches"]}
    ports = {p["name"]: p for p in vs["vswitch0"]["ports"]}
    assert {n: p["role"] for n, p in ports.items()} == {
        "vswitch0": "internal", "eth0": "uplink", "vnet4": "vnet", "patch-a": "other"}
    assert ports["vswitch0"]["ofport"] == 65534
    assert ports["vswitch0"]["addresses"] == ["2001:db8::11/64", "203.0.113.11/24"]
    assert ports["vswitch0"]["mac"] == ovs.link("eth0")["address"]
    assert ports["eth0"]["ofport"] == int(ovs.get("Interface", "eth0", "ofport"))
    assert ports["vnet4"]["tag"] == 20
    assert ports["vnet4"]["external_ids"]["attached-mac"] == "52:54:00:aa:bb:04"
    assert ports["patch-a"]["error"]           # its peer does not exist: OVS says so
    assert vs["vswitch0"]["mac_aging_time"] == {"configured": 45, "effective": 45}
    assert vs["vswitch2"]["mac_aging_time"] == {"configured": None, "effective": 300}
    assert vs["vswitch0"]["ours"] is True
    bond = {p["name"]: p for p in vs["vswitch2"]["ports"]}["bond0"]
    assert bond["role"] == "uplink" and bond["bond"]["mode"] == "balance-slb"
    members = {m["name"]: m for m in bond["bond"]["members"]}
    assert members["eth2"]["link_state"] == "up" and members["eth2"]["enabled"] is True
    assert members["eth3"]["link_state"] == "down" and members["eth3"]["enabled"] is False
    check = ovs.module("vswitch_info", check=True, bridge="vswitch2")
    assert [v["name"] for v in check["vswitches"]] == ["vswitch2"]


def test_unknown_bridge_is_named(ovs):
    res = ovs.module("vswitch_info", bridge="nope")
    assert res["rc"] == 1 and "bridge: 'nope' is not a vSwitch on this host" in res["msg"]


def test_open_vswitch_itself_and_a_bridge_the_datapath_refused(ovs):
    """The `ovs` block: ovs-vswitchd's version, cur_cfg = next_cfg once applied, the kernel,
    and the datapath each bridge really got. A bridge asking for the kernel datapath on a
    machine without the openvswitch module (this one) gets none: dpif/show does not list it,
    and the diagnostics say so."""
    ovs.vsctl("add-br", "vsnet", "--", "set", "Bridge", "vsnet", "datapath_type=netdev")
    ovs.vsctl("--no-wait", "add-br", "vskern")           # datapath_type system (the default)
    res = ovs.module("vswitch_info")
    assert res["rc"] == 0, res.get("msg")
    got = res["ovs"]
    assert got["vswitchd"] == "running" and got["version"] == ovs.appctl("version").split()[-1]
    assert got["cur_cfg"] == got["next_cfg"] > 0
    assert got["kernel"] == os.uname().release
    assert got["datapaths"] == {"vsnet": "netdev"}
    found = health.findings("hv1", {"vswitches": res["vswitches"], "ovs": got})
    assert found == ["hv1: vskern has no datapath in ovs-vswitchd (dpif/show; datapath_type "
                     "system: is the openvswitch kernel module loaded?): it forwards nothing"]


def test_a_silent_ovs_vswitchd_is_said_and_ovsdbs_side_still_read(ovs):
    """ovs-vswitchd gone (OVSDB still up): vswitch_info answers with what OVSDB holds, a bond
    and a counter watch included, and says why the rest is missing; that is the finding."""
    for n in ("eth2", "eth3"):
        ovs.nic(n)
    ovs.vsctl("add-br", "vsnet", "--", "set", "Bridge", "vsnet", "datapath_type=netdev",
              "--", "add-bond", "vsnet", "bond0", "eth2", "eth3")
    ovs.kill("ovs-vswitchd")
    res = ovs.module("vswitch_info", watch=1)
    assert res["rc"] == 0, res.get("msg")
    assert res["ovs"]["vswitchd"].startswith("does not answer (")
    assert res["ovs"]["version"] is None and res["ovs"]["datapaths"] is None
    assert "rising" not in res
    assert [v["name"] for v in res["vswitches"]] == ["vsnet"]
    found = health.findings("hv1", {"vswitches": res["vswitches"], "ovs": res["ovs"]})
    assert found[0].startswith("hv1: ovs-vswitchd does not answer (") and \
        found[0].endswith("the vSwitches do not follow OVSDB (is it running?)")
