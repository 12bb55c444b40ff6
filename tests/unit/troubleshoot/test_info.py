"""vswitch_info's pure logic on recorded outputs (tests/unit/fixtures/README.md says where
each was recorded)."""

import os

import pytest

from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import info
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import world as vsworld
from paths import FIXTURES


def text(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


def test_bond_show_negotiated():
    bond = info.parse_bond_show(text("bond-show-balance-tcp.txt"))
    assert bond["mode"] == "balance-tcp"
    assert bond["lacp_status"] == "negotiated"
    assert bond["active_member"] == "eth2"
    assert bond["members"] == [
        {"name": "eth2", "enabled": True, "active": True, "may_enable": True},
        {"name": "eth3", "enabled": True, "active": False, "may_enable": True}]


def test_bond_show_member_down():
    bond = info.parse_bond_show(text("bond-show-member-down.txt"))
    assert [(m["name"], m["enabled"], m["may_enable"]) for m in bond["members"]] == [
        ("eth2", True, True), ("eth3", False, False)]


def test_lacp_show():
    lacp = info.parse_lacp_show(text("lacp-show-negotiated.txt"))
    assert lacp["status"] == "active negotiated"
    assert lacp["lacp_time"] == "fast"
    assert [m["state"] for m in lacp["members"]] == ["current attached"] * 2
    assert "synchronized" in lacp["members"][0]["partner_state"]
    down = info.parse_lacp_show(text("lacp-show-member-down.txt"))
    assert down["members"][1]["name"] == "eth3"
    assert down["members"][1]["state"] != "current attached"


def test_parsers_accept_empty_and_old_slave_wording():
    assert info.parse_bond_show("")["members"] == []
    old = "---- bond0 ----\nbond_mode: active-backup\n\nslave eth2: enabled\n  active slave\n"
    assert info.parse_bond_show(old)["members"][0]["active"] is True


def _world():
    w = vsworld.empty_world()
    w["bridges"]["vs0"] = {"datapath_type": "netdev", "fail_mode": None, "stp_enable": False,
                           "other_config": {"mac-aging-time": "60"},
                           "external_ids": {vsworld.MARK: "vswitch"},
                           "ports": ["vs0", "bond0", "vnet0"]}
    ports = {"vs0": ["vs0"], "bond0": ["eth2", "eth3"], "vnet0": ["vnet0"]}
    for p, ifaces in ports.items():
        w["ports"][p] = {"bridge": "vs0", "interfaces": ifaces, "tag": 10 if p == "vnet0"
                         else None, "trunks": [], "vlan_mode": None,
                         "bond_mode": "balance-tcp" if p == "bond0" else None,
                         "lacp": "active" if p == "bond0" else None, "other_config": {},
                         "external_ids": {}}
    ofports = {"vs0": 65534, "eth2": 1, "eth3": 2, "vnet0": 3}
    for i, ofport in ofports.items():
        w["interfaces"][i] = {
            "port": "bond0" if i.startswith("eth") else i,
            "type": "internal" if i == "vs0" else "", "ofport": ofport, "error": None,
            "mac_in_use": None, "link_state": "down" if i == "eth3" else "up",
            "admin_state": "up", "mtu": 9000 if i == "vnet0" else 1500, "mtu_request": None,
            "options": {}, "external_ids": {"attached-mac": "52:54:00:00:00:01"}
            if i == "vnet0" else {}}
        w["links"][i] = {"mac": "02:00:00:00:00:%02x" % ofport, "addresses":
                         ["203.0.113.1/24"] if i == "vs0" else [], "up": True, "mtu": 1500}
    return w


def test_vswitches_roles_effective_settings_and_bond():
    bond = info.parse_bond_show(text("bond-show-member-down.txt"))
    vs = info.vswitches(_world(), {"bond0": bond})[0]
    assert vs["mac_aging_time"] == {"configured": 60, "effective": 60}
    assert vs["mac_table_size"] == {"configured": None, "effective": 8192}
    assert vs["fail_mode"] == {"configured": None, "effective": "standalone"}
    assert vs["ours"] is True and vs["owner"] is None
    ports = {p["name"]: p for p in vs["ports"]}
    assert {n: p["role"] for n, p in ports.items()} == {
        "vs0": "internal", "bond0": "uplink", "vnet0": "vnet"}
    assert ports["vs0"]["addresses"] == ["203.0.113.1/24"]
    assert ports["vnet0"]["tag"] == 10 and ports["vnet0"]["ofport"] == 3
    members = ports["bond0"]["bond"]["members"]
    assert [(m["name"], m["link_state"], m["enabled"]) for m in members] == [
        ("eth2", "up", True), ("eth3", "down", False)]
    assert ports["bond0"]["link_state"] == "up"      # one member is enough
    assert info.mtu_mismatches(vs) == [{"port": "vnet0", "role": "vnet", "mtu": 9000,
                                        "uplink": "bond0", "uplink_mtu": 1500}]


def test_mtu_mismatch_cleared():
    w = _world()
    w["interfaces"]["vnet0"]["mtu"] = 1500
    assert info.mtu_mismatches(info.vswitches(w)[0]) == []


@pytest.mark.parametrize("release", ["3.1", "3.5"])
def test_dpif_show_says_the_datapath_each_bridge_really_got(release):
    with open(os.path.join(FIXTURES, "dpif-show-ovs-%s.txt" % release)) as f:
        assert info.parse_dpif_types(f.read()) == {"tor": "netdev", "vswitch0": "netdev"}
    both = ("netdev@ovs-netdev: hit:1 missed:2\n  vswitch1:\n    eth1 1/2: (system)\n"
            "system@ovs-system: hit:0 missed:0\n  vswitch0:\n    eth0 1/1: (system)\n")
    assert info.parse_dpif_types(both) == {"vswitch1": "netdev", "vswitch0": "system"}
    assert info.parse_dpif_types("") == {}


# lacp/show-stats as OVS 3.x prints it (lib/lacp.c lacp_print_stats); OVS < 2.15 said slave
LACP_STATS = """---- bond0 statistics ----

member: eth2:
  TX PDUs: 120
  RX PDUs: 118
  RX Bad PDUs: 3
  RX Marker Request PDUs: 0
  Link Expired: 1
  Link Defaulted: 1
  Carrier Status Changed: 0

member: eth3:
  TX PDUs: 120
  RX PDUs: 119
  RX Bad PDUs: 0
  RX Marker Request PDUs: 0
  Link Expired: 0
  Link Defaulted: 1
  Carrier Status Changed: 0
"""


def test_lacp_stats_and_what_a_bond_says_of_speeds_and_bad_pdus():
    stats = info.parse_lacp_stats(LACP_STATS)
    assert stats["eth2"]["RX Bad PDUs"] == 3 and stats["eth3"]["Link Expired"] == 0
    assert info.parse_lacp_stats("slave: eth2:\n\tRX Bad PDUs: 2\n") == {"eth2": {
        "RX Bad PDUs": 2}}
    port = {"bond_mode": "balance-tcp", "lacp": "active"}
    ifaces = [{"name": "eth2", "link_state": "up", "mtu": 1500, "link_speed": 10000000000},
              {"name": "eth3", "link_state": "up", "mtu": 1500, "link_speed": 1000000000}]
    bond = {"lacp_status": "negotiated", "members": [
        {"name": "eth2", "enabled": True}, {"name": "eth3", "enabled": True}]}
    lacp = {"members": [{"name": "eth2", "state": "current attached"},
                        {"name": "eth3", "state": "current attached"}], "stats": stats}
    faults, dead = info.bond_faults(info.bond_facts(port, ifaces, bond, lacp))
    # in sync: the bad PDUs counted since ovs-vswitchd started are history, no finding
    assert not dead and faults == [
        "members differ in speed (eth2 10 Gb/s, eth3 1 Gb/s; Interface link_speed): the bond "
        "spreads flows as if they were equal"]
    assert info.bond_faults(info.bond_facts(dict(port, bond_mode="active-backup", lacp=None),
                                            ifaces, dict(bond, lacp_status=None), None))[0] == []
    lacp["members"][0]["state"] = "current detached"       # eth2 out of sync now: a cause
    faults = info.bond_faults(info.bond_facts(port, ifaces, bond, lacp))[0]
    assert faults[-1] == ("member eth2 received 3 malformed LACP PDUs (lacp/show-stats RX Bad "
                          "PDUs, since ovs-vswitchd started): check the switch port's LACP "
                          "settings")
    # a member without carrier keeps its last speed: not compared
    ifaces[1].update(link_state="down")
    lacp["stats"] = {}
    lacp["members"][0]["state"] = "current attached"
    assert info.bond_faults(info.bond_facts(port, ifaces, bond, lacp))[0] == [
        "member eth3 has no carrier (link_state down)"]
