"""Pure logic: validation, the planner's decisions, rendering and the kernel parsers.
No host needed: worlds are plain dicts, kernel JSON was captured from `ip -j` on Debian 12
(iproute2 6.1) in a scratch namespace (tests/unit/fixtures/ip-*.json)."""

import copy
import json
import os

import pytest

from ansible_collections.cloudnet.vswitch.plugins.module_utils import kernel, model
from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    DisruptiveChange,
    OwnershipError,
    ParamError,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)


def world(**links):
    w = model.empty_world()
    for name, link in links.items():
        w["links"][name] = dict({"mac": "52:54:00:00:00:%02x" % len(w["links"]),
                                 "addresses": [], "master": None, "up": True}, **link)
    return w


def applied(w, config, state="merged", **opts):
    """Plan and return (plan, predicted world)."""
    cfg = model.normalize_config(config, state)
    p = model.plan(w, cfg, state, **opts)
    return p, p.world


# ----------------------------------------------------------------------------- validation

@pytest.mark.parametrize("config,path", [
    ([{"name": "x" * 16}], "config[0].name"),
    ([{"name": "a/b"}], "config[0].name"),
    ([{"name": "vs0"}, {"name": "vs0"}], "config[1].name"),
    ([{"name": "vs0", "uplink": {"interfaces": []}}], "config[0].uplink.interfaces"),
    ([{"name": "vs0", "uplink": {"interfaces": ["e0", "e0"], "bond_name": "b"}}],
     "config[0].uplink.interfaces[1]"),
    ([{"name": "vs0", "uplink": {"interfaces": ["e0", "e1"], "bond_name": "e0"}}],
     "config[0].uplink.bond_name"),
    ([{"name": "vs0", "uplink": {"interfaces": ["e0"]}},
      {"name": "vs1", "uplink": {"interfaces": ["e0"]}}], "config[1].uplink.interfaces[0]"),
    ([{"name": "vs0", "vnets": [{"name": "v0"}, {"name": "v0"}]}], "config[0].vnets[1].name"),
    ([{"name": "vs0", "vnets": [{"attached_mac": "52:54:00:00:00:01"}]},
      {"name": "vs1", "vnets": [{"attached_mac": "52:54:00:00:00:01"}]}],
     "config[1].vnets[0].attached_mac"),
    ([{"name": "vs0", "vnets": [{"name": "v0", "vlan_mode": "weird"}]}],
     "config[0].vnets[0].vlan_mode"),
    ([{"name": "vs0", "vnets": [{"name": "v0", "tag": True}]}], "config[0].vnets[0].tag"),
    ([{"name": "vs0", "external_ids": {"a=b": "1"}}], "config[0].external_ids.a=b"),
    ([{"name": "vs0", "stp": "yes"}], "config[0].stp"),
    ({"name": "vs0"}, "config"),
])
def test_validation_names_the_path(config, path):
    with pytest.raises(ParamError) as err:
        model.normalize_config(config, "merged")
    assert err.value.path == path


def test_normalisation():
    cfg = model.normalize_config([{
        "name": "vs0", "mac_aging_time": "60", "fail_mode": "NONE",
        "internal": {"addresses": ["2001:DB8::0A/64"], "mac": "52-54-00-AB-CD-EF"},
        "vnets": [{"attached_mac": "52:54:00:AB:00:01", "trunks": [5, "1-3", 2],
                   "external_ids": {"k": True, "n": 3, "gone": None}}]}], "merged")[0]
    assert cfg["mac_aging_time"] == 60
    assert cfg["fail_mode"] == model.CLEAR
    assert cfg["internal"] == {"addresses": ["2001:db8::a/64"], "mac": "52:54:00:ab:cd:ef"}
    vnet = cfg["vnets"][0]
    assert vnet["attached_mac"] == "52:54:00:ab:00:01"
    assert vnet["trunks"] == [1, 2, 3, 5]
    assert vnet["external_ids"] == {"k": "true", "n": "3", "gone": None}
    assert "tag" not in vnet   # unset means leave as is


# ----------------------------------------------------------------------------- planner

def test_new_vswitch_is_one_add_bridge_and_marked():
    p, w = applied(world(eth0={}), [{"name": "vs0", "uplink": {"interfaces": ["eth0"]},
                                     "internal": {"addresses": ["203.0.113.1/24"]}}])
    kinds = [op["kind"] for op in p.ops]
    assert kinds[:2] == ["add_bridge", "add_port"]
    assert w["bridges"]["vs0"]["datapath_type"] == "system"   # the product's default
    assert w["bridges"]["vs0"]["external_ids"][model.MARK] == model.ROLE_VSWITCH
    assert w["ports"]["eth0"]["external_ids"][model.MARK] == model.ROLE_UPLINK
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
        again = model.plan(w, model.normalize_config(config, state), state)
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


def test_nic_with_addresses_and_routes_is_migrated_only_on_request():
    links = kernel.parse_links(fixture("ip-address.json"))
    routes = kernel.parse_routes(fixture("ip-route4.json"), 4) + \
        kernel.parse_routes(fixture("ip-route6.json"), 6)
    w = model.empty_world()
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
    assert after["bridges"]["br-int"]["external_ids"][model.MARK] == model.ROLE_VSWITCH
    # overridden never deletes what is not ours
    p, after = applied(w, [], "overridden")
    assert "br-int" in after["bridges"] and p.ops == []


def test_vnet_lookup_prefers_mac_over_name():
    w = world()
    w["bridges"]["vs0"] = {"datapath_type": "", "fail_mode": None, "stp_enable": False,
                           "other_config": {}, "external_ids": {}, "ports": ["vnet4"]}
    w["ports"]["vnet4"] = {"bridge": "vs0", "interfaces": ["vnet4"], "tag": None, "trunks": [],
                           "vlan_mode": None, "bond_mode": None, "lacp": None,
                           "other_config": {}, "external_ids": {}}
    w["interfaces"]["vnet4"] = {"port": "vnet4", "type": "", "mtu_request": None,
                                "external_ids": {"attached-mac": "52:54:00:AA:00:01"},
                                "ofport": 2, "error": None, "mac_in_use": None,
                                "options": {}, "link_state": "up"}
    assert model.find_vnet(w, {"attached_mac": "52:54:00:aa:00:01", "name": "vnet0"}) == "vnet4"
    assert model.port_role(w, "vnet4") == model.ROLE_VNET
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


def test_rendered_plans_offline_with_vsctl_syntax():
    cfg = model.normalize_config([{"name": "vs1", "uplink": {"interfaces": ["eth1"]},
                                   "other_config": {"flood-vlans": "10,20"},
                                   "vnets": [{"name": "vnet2", "tag": 20}]}], "rendered")
    p = model.plan(model.empty_world(), cfg, "rendered", offline=True)
    line = p.commands()[0]
    assert line.startswith("ovs-vsctl -- add-br vs1 -- set Bridge vs1 datapath_type=system")
    assert "add-port vs1 eth1" in line and "add-port vs1 vnet2" in line
    assert "'other_config:flood-vlans=\"10,20\"'" in line
    assert "set Port vnet2 tag=20" in line


def test_vsctl_clauses_for_every_op():
    ops = [model.Op("del_bridge", name="b"),
           model.Op("set", table="Port", name="p", column="tag", value=None),
           model.Op("set", table="Port", name="p", column="trunks", value=[1, 2]),
           model.Op("delkey", table="Bridge", name="b", column="other_config", key="k"),
           model.Op("move_port", name="p", from_bridge="a", bridge="b"),
           model.Op("add_iface", port="bond0", name="eth4"),
           model.Op("del_iface", port="bond0", name="eth3"),
           model.Op("del_port", bridge="b", name="p")]
    assert [model.vsctl_clauses(op) for op in ops] == [
        [["del-br", "b"]], [["clear", "Port", "p", "tag"]], [["set", "Port", "p", "trunks=[1,2]"]],
        [["remove", "Bridge", "b", "other_config", "k"]],
        [["del-port", "a", "p"], ["add-port", "b", "p"]],
        [["add", "Port", "bond0", "interfaces", "@eth4"],
         ["--id=@eth4", "create", "Interface", "name=eth4"]],
        [["remove", "Port", "bond0", "interfaces", "[Interface]eth3"]],
        [["del-port", "b", "p"]]]


def test_reassert_links_restores_what_a_link_bounce_dropped():
    predicted = {"vs0": {"up": True, "addresses": ["2001:db8::1/64", "203.0.113.1/24"]}}
    actual = {"vs0": {"up": True, "addresses": ["203.0.113.1/24"]}}
    assert model.reassert_links(predicted, actual, ["vs0"]) == [
        ["ip", "address", "add", "2001:db8::1/64", "dev", "vs0"]]
    assert model.reassert_links(predicted, copy.deepcopy(predicted), ["vs0"]) == []


def test_kernel_parsers():
    links = kernel.parse_links(fixture("ip-address.json"))
    assert links["eth0"]["addresses"] == ["198.51.100.50/24", "2001:db8::50/64"]
    assert links["eth0"]["up"] is True
    assert links["lo"]["addresses"] == []          # host scope is not global
    r4 = kernel.parse_routes(fixture("ip-route4.json"), 4)
    assert [(r["dst"], r["migrate"]) for r in r4] == [("default", True),
                                                      ("198.51.100.0/24", False)]
    r6 = kernel.parse_routes(fixture("ip-route6.json"), 6)
    assert [r["dst"] for r in r6] == ["2001:db8::/64", "default"]   # no fe80::/64


@pytest.mark.parametrize("value,ok", [
    ("52:54:00:12:34:56", True), ("52-54-00-12-34-56", True), ("5254.0012.3456", True),
    ("52:54:00:12:34", False), ("zz:54:00:12:34:56", False),
    (4114350852296, False), ("4114350852296", False),   # YAML's reading of an unquoted MAC
])
def test_macs_need_separators_and_bare_numbers_get_a_hint(value, ok):
    if ok:
        assert model.normalize_mac(value, "mac") == "52:54:00:12:34:56"
        return
    with pytest.raises(ParamError) as exc:
        model.normalize_mac(value, "mac")
    assert str(exc.value).startswith("mac: ")
    assert ("quote it" in str(exc.value)) == str(value).isdigit()
