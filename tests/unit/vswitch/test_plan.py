"""The pure planner (vswitch/plan.py): (world, config, state) -> OVSDB ops, `ip` argv lists and
the predicted world, its decisions (unset means leave as is, disruption and ownership refused,
addresses migrated on request, vnets found by MAC), and the links re-asserted after a commit.
No host needed: worlds are plain dicts, kernel JSON was captured from `ip -j` on Debian 12
(iproute2 6.1) in a scratch namespace (tests/unit/fixtures/ip-*.json)."""

import copy

import pytest

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    DisruptiveChange,
    OwnershipError,
    ParamError,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.host import kernel
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import plan as planner
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import validate
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import world as vsworld
from paths import fixture_json


def world(**links):
    w = vsworld.empty_world()
    for name, link in links.items():
        w["links"][name] = dict({"mac": "52:54:00:00:00:%02x" % len(w["links"]),
                                 "addresses": [], "master": None, "up": True}, **link)
    return w


def applied(w, config, state="merged", **opts):
    """Plan and return (plan, predicted world)."""
    cfg = validate.normalize_config(config, state)
    p = planner.plan_task(w, cfg, state, **opts)
    return p, p.world


def test_new_vswitch_is_one_add_bridge_and_marked():
    p, w = applied(world(eth0={}), [{"name": "vs0", "uplink": {"interfaces": ["eth0"]},
                                     "internal": {"addresses": ["203.0.113.1/24"]}}])
    kinds = [op["kind"] for op in p.ops]
    assert kinds[:2] == ["add_bridge", "add_port"]
    assert w["bridges"]["vs0"]["datapath_type"] == "system"   # the product's default
    assert w["bridges"]["vs0"]["external_ids"][vsworld.MARK] == vsworld.ROLE_VSWITCH
    assert w["ports"]["eth0"]["external_ids"][vsworld.MARK] == vsworld.ROLE_UPLINK
    assert w["bridges"]["vs0"]["other_config"]["hwaddr"] == w["links"]["eth0"]["mac"]
    assert p.kernel == [["ip", "link", "set", "dev", "vs0", "up"],
                        ["ip", "address", "add", "203.0.113.1/24", "dev", "vs0"]]


def test_second_plan_on_predicted_world_is_empty():
    """Idempotence of the planner itself, for every state that changes things."""
    config = [{"name": "vs0", "mac_aging_time": 30, "uplink": {
        "interfaces": ["eth0", "eth1"], "bond_name": "bond0", "bond_mode": "balance-tcp",
        "lacp": "active"}, "internal": {"addresses": ["203.0.113.1/24"]},
        "vnets": [{"name": "vnet0", "tag": 3, "trunks": [4]}]}]
    for state in ("merged", "replaced", "overridden"):
        p, w = applied(world(eth0={}, eth1={}, vnet0={}), config, state)
        again = planner.plan_task(w, validate.normalize_config(config, state), state)
        assert again.ops == [] and again.kernel == [], (state, again.ops, again.kernel)


def test_unset_means_leave_as_is():
    w = world(eth0={}, vnet0={})
    _plan, w = applied(w, [{"name": "vs0", "fail_mode": "secure", "mac_aging_time": 9,
                            "vnets": [{"name": "vnet0", "tag": 7}]}])
    p, w2 = applied(w, [{"name": "vs0", "vnets": [{"name": "vnet0"}]}])
    assert p.ops == []
    assert w2["ports"]["vnet0"]["tag"] == 7


def test_clear_with_none_and_replaced_resets():
    _plan, w = applied(world(vnet0={}), [{"name": "vs0", "vnets": [{"name": "vnet0", "tag": 7,
                                                                    "mtu_request": 1400}]}])
    p, w2 = applied(w, [{"name": "vs0", "vnets": [{"name": "vnet0", "tag": "none"}]}])
    assert [(op["kind"], op["column"], op["value"]) for op in p.ops] == [("set", "tag", None)]
    assert w2["interfaces"]["vnet0"]["mtu_request"] == 1400
    p, w3 = applied(w, [{"name": "vs0", "vnets": [{"name": "vnet0"}]}], "replaced")
    assert w3["ports"]["vnet0"]["tag"] is None and w3["interfaces"]["vnet0"]["mtu_request"] is None


def test_disruptive_changes_are_refused_without_allow_disruptive():
    _plan, w = applied(world(eth0={}, eth1={}), [{"name": "vs0", "uplink": {"interfaces": ["eth0"]},
                                                  "internal": {"addresses": ["203.0.113.1/24"]}}])
    w["links"]["vs0"] = {"mac": None, "addresses": ["203.0.113.1/24"], "up": True}
    for change in ({"datapath_type": "netdev"}, {"fail_mode": "secure"}, {"stp": True},
                   {"uplink": {"interfaces": ["eth1"]}}):
        with pytest.raises(DisruptiveChange):
            applied(w, [dict({"name": "vs0"}, **change)])
        p, _world = applied(w, [dict({"name": "vs0"}, **change)], allow_disruptive=True)
        assert p.ops and p.warnings
    with pytest.raises(DisruptiveChange) as err:
        applied(w, [{"name": "vs0", "uplink": {"interfaces": ["eth0"]}, "internal": {
            "addresses": []}}], "replaced")
    assert err.value.path == "config[0].internal.addresses"


def test_replaced_leaves_addresses_with_a_lifetime_and_does_not_report_them():
    """SLAAC / DHCP addresses on the internal port are the kernel's or a DHCP client's: replaced
    removes a static address it was not given, never one of those, and before/after list only
    the configured ones (so a re-run is idempotent on an IPv6 network with router adverts)."""
    w, _world = applied(world(eth0={}), [{"name": "vs0", "uplink": {"interfaces": ["eth0"]}}])
    w = _world
    w["links"]["vs0"] = dict(w["links"].get("vs0", {}), up=True, addresses=[
        "2001:db8:5::5/64", "203.0.113.1/24", "203.0.113.9/24"], dynamic=["2001:db8:5::5/64"])
    config = [{"name": "vs0", "uplink": {"interfaces": ["eth0"]},
               "internal": {"addresses": ["203.0.113.1/24"]}}]
    with pytest.raises(DisruptiveChange) as err:     # the hand-added static one is disruptive
        applied(w, config, "replaced")
    assert "203.0.113.9/24" in str(err.value) and "2001:db8" not in str(err.value)
    p, after = applied(w, config, "replaced", allow_disruptive=True)
    assert p.kernel == [["ip", "address", "del", "203.0.113.9/24", "dev", "vs0"]]
    w["links"]["vs0"]["addresses"].remove("203.0.113.9/24")
    p, after = applied(w, config, "replaced")
    assert p.ops == [] and p.kernel == []
    assert vsworld.gather(after, ["vs0"])[0]["internal"]["addresses"] == ["203.0.113.1/24"]


def test_nic_with_addresses_and_routes_is_migrated_only_on_request():
    links = kernel.parse_links(fixture_json("ip-address.json"))
    routes = kernel.parse_routes(fixture_json("ip-route4.json"), 4) + \
        kernel.parse_routes(fixture_json("ip-route6.json"), 6)
    w = vsworld.empty_world()
    w["links"], w["routes"] = links, routes
    cfg = [{"name": "vs0", "uplink": {"interfaces": ["eth0"]}}]
    with pytest.raises(ParamError) as err:
        applied(w, cfg)
    assert "198.51.100.50/24" in err.value.msg and "default" in err.value.msg
    p, after = applied(w, cfg, migrate_addresses=True)
    assert ["ip", "address", "add", "198.51.100.50/24", "dev", "vs0"] in p.kernel
    assert ["ip", "address", "del", "198.51.100.50/24", "dev", "eth0"] in p.kernel
    assert ["ip", "route", "replace", "default", "via", "198.51.100.1", "dev", "vs0"] in p.kernel
    assert ["ip", "-6", "route", "replace", "default", "via", "2001:db8::1", "dev", "vs0",
            "metric", "1024"] in p.kernel
    # the addresses go on the internal port before they leave the NIC
    adds = p.kernel.index(["ip", "address", "add", "198.51.100.50/24", "dev", "vs0"])
    dels = p.kernel.index(["ip", "address", "del", "198.51.100.50/24", "dev", "eth0"])
    assert adds < dels
    assert after["links"]["vs0"]["addresses"] == ["198.51.100.50/24", "2001:db8::50/64"]
    assert after["bridges"]["vs0"]["other_config"]["hwaddr"] == links["eth0"]["mac"]


def test_ownership():
    w = world(eth0={})
    w["bridges"]["br-int"] = {"datapath_type": "system", "fail_mode": "secure",
                              "stp_enable": False, "other_config": {}, "external_ids": {},
                              "ports": []}
    w["ovs"]["external_ids"] = {"ovn-bridge": "br-int", "ovn-remote": "tcp:x"}
    with pytest.raises(OwnershipError) as err:
        applied(w, [{"name": "br-int", "mac_aging_time": 5}])
    assert "OVN" in err.value.msg
    p, after = applied(w, [{"name": "br-int", "mac_aging_time": 5}], adopt=True)
    assert after["bridges"]["br-int"]["external_ids"][vsworld.MARK] == vsworld.ROLE_VSWITCH
    # overridden never deletes what is not ours
    p, after = applied(w, [], "overridden")
    assert "br-int" in after["bridges"] and p.ops == []


def libvirt_vnet(w, mac, tag=None, link_state="up"):
    """vs0 with vnet4, a port libvirt plugged (its attached-mac, not our mark)."""
    w["bridges"]["vs0"] = {"datapath_type": "", "fail_mode": None, "stp_enable": False,
                           "other_config": {}, "external_ids": {}, "ports": ["vnet4"]}
    w["ports"]["vnet4"] = {"bridge": "vs0", "interfaces": ["vnet4"], "tag": tag, "trunks": [],
                           "vlan_mode": None, "bond_mode": None, "lacp": None,
                           "other_config": {}, "external_ids": {}}
    w["interfaces"]["vnet4"] = {"port": "vnet4", "type": "", "mtu_request": None,
                                "external_ids": {"attached-mac": mac},
                                "ofport": 2, "error": None, "mac_in_use": None,
                                "options": {}, "link_state": link_state}
    return w


def test_vnet_lookup_prefers_mac_over_name():
    w = libvirt_vnet(world(vnet4={}), "52:54:00:AA:00:01")
    assert vsworld.find_vnet(w, {"attached_mac": "52:54:00:aa:00:01", "name": "vnet0"}) == "vnet4"
    assert vsworld.port_role(w, "vnet4") == vsworld.ROLE_VNET
    p, after = applied(w, [{"name": "vs0", "vnets": [{"attached_mac": "52:54:00:aa:00:01",
                                                      "name": "vnet0", "tag": 5}]}])
    assert after["ports"]["vnet4"]["tag"] == 5 and "vnet0" not in after["ports"]
    assert any("libvirt renames" in w_ for w_ in p.warnings)


def test_pending_vnets():
    p, _world = applied(world(), [{"name": "vs0", "vnets": [
        {"attached_mac": "52:54:00:00:00:01"}, {"name": "vnet3", "tag": 2}]}])
    assert [v["reason"] for v in p.pending] == ["not plugged (VM not running?)",
                                                "no such interface on this host"]
    assert [op["kind"] for op in p.ops] == ["add_bridge"]


def test_a_libvirt_port_whose_tap_is_gone_is_pending_not_configured():
    """A VM that died without unplugging (qemu killed while libvirtd was down): the port stays
    in OVSDB, its tap is gone. Nothing is set on it; purge_stale still removes it."""
    w = libvirt_vnet(world(eth0={}), "52:54:00:aa:00:01", tag=10, link_state="down")
    config = [{"name": "vs0", "vnets": [{"attached_mac": "52:54:00:aa:00:01", "tag": 30}]}]
    p, after = applied(w, config)
    assert [(v["label"], v["reason"]) for v in p.pending] == [
        ("vs0/52:54:00:aa:00:01", "stale port vnet4: its interface is gone (VM not running?); "
                                  "purge_stale removes it")]
    assert after["ports"]["vnet4"]["tag"] == 10 and not p.ops
    p, after = applied(w, config, state="overridden", purge_stale=True)
    assert "vnet4" not in after["ports"]
    assert "removing stale vnet vnet4 from vs0" in p.warnings
    w["links"]["vnet4"] = {"mac": None, "addresses": [], "master": None, "up": True}
    p, after = applied(w, config)
    assert after["ports"]["vnet4"]["tag"] == 30 and not p.pending


def test_reassert_links_restores_what_a_link_bounce_dropped():
    predicted = {"vs0": {"up": True, "addresses": ["2001:db8::1/64", "203.0.113.1/24"]}}
    actual = {"vs0": {"up": True, "addresses": ["203.0.113.1/24"]}}
    assert planner.reassert_links(predicted, actual, ["vs0"]) == [
        ["ip", "address", "add", "2001:db8::1/64", "dev", "vs0"]]
    assert planner.reassert_links(predicted, copy.deepcopy(predicted), ["vs0"]) == []


def test_kernel_links_are_internal_ports_uplinks_and_new_nics_not_vnets():
    w = vsworld.empty_world()
    w["bridges"]["vs0"] = {"datapath_type": "", "fail_mode": None, "stp_enable": False,
                           "other_config": {}, "external_ids": {vsworld.MARK: "vswitch"},
                           "ports": ["eth0", "vnet0", "vs0"]}
    for pname, role, itype in (("vs0", "internal", "internal"), ("eth0", "uplink", ""),
                               ("vnet0", "vnet", "")):
        w["ports"][pname] = {"bridge": "vs0", "interfaces": [pname], "tag": None, "trunks": [],
                             "vlan_mode": None, "bond_mode": None, "lacp": None,
                             "other_config": {}, "external_ids": {vsworld.MARK: role}}
        w["interfaces"][pname] = vsworld.new_iface(pname, type=itype)
    # the config's uplink NIC already a port: its routes are never read (_check_nic stops)
    cfg = validate.normalize_config([{"name": "vs0", "uplink": {"interfaces": ["eth0"]},
                                      "vnets": [{"name": "vnet0"}, {"name": "vnet1"}]}],
                                    "merged")
    assert planner.kernel_links(w, cfg) == ({"vs0", "eth0"}, set())
    # a new vSwitch on a new NIC: its addresses and its routes
    cfg = validate.normalize_config([{"name": "vs1", "uplink": {"interfaces": ["eth1"]}}],
                                    "merged")
    assert planner.kernel_links(w, cfg) == ({"vs0", "eth0", "vs1", "eth1"}, {"eth1"})
