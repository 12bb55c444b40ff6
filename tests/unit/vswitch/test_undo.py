"""Guarded apply, the pure half: which changes touch the management connection, and the undo
of a committed plan (OVSDB ops, then kernel commands). The undo is checked the strong way:
applying a plan and then its undo to a world gives back the world before, row for row."""

import copy

from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import guard, undo, validate
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import plan as planner
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import world as vsworld

MGMT = "198.51.100.13"


def host():
    """A freshly installed host: the management address on eth0 with a default route, eth1
    free, vswitch1 ours with a libvirt VM on it."""
    w = vsworld.empty_world()
    for i, (name, addrs) in enumerate((("eth0", [MGMT + "/24"]), ("eth1", []), ("vnet3", []),
                                       ("vswitch1", ["203.0.113.31/24"]))):
        w["links"][name] = {"mac": "52:54:00:00:00:%02x" % i, "addresses": addrs,
                            "master": None, "up": True}
    w["routes"] = [{"dst": "default", "dev": "eth0", "gateway": "198.51.100.1", "metric": None,
                    "protocol": "boot", "family": 4, "migrate": True},
                   {"dst": "198.51.100.0/24", "dev": "eth0", "gateway": None, "metric": None,
                    "protocol": "kernel", "family": 4, "migrate": False}]
    cfg = validate.normalize_config([{"name": "vswitch1", "uplink": {"interfaces": ["eth1"]},
                                      "vnets": [{"name": "vnet3", "tag": 20}]}], "merged")
    p = planner.plan_task(w, cfg, "merged")
    return p.world


def plan(w, config, **opts):
    return planner.plan_task(w, validate.normalize_config(config, "merged"), "merged", **opts)


def ovsdb_part(w):
    return {k: w[k] for k in ("bridges", "ports", "interfaces")}


def test_migrating_the_management_nic_is_guarded_a_vnet_is_not():
    w = host()
    links = guard.management_links(w, [MGMT])
    assert links == {"eth0": MGMT + "/24"}
    p = plan(w, [{"name": "vswitch0", "uplink": {"interfaces": ["eth0"]}}],
             migrate_addresses=True)
    reasons = guard.management_reasons(p, links)
    assert reasons and all("eth0" in r for r in reasons)
    assert any("becomes a port of vswitch0" in r for r in reasons)
    p = plan(w, [{"name": "vswitch1", "vnets": [{"name": "vnet3", "tag": 30}]}])
    assert p.changed and guard.management_reasons(p, links) == []
    # Unknown or malformed management addresses guard nothing.
    assert guard.management_links(w, ["203.0.113.99", "not-an-ip", "[2001:db8::1]"]) == {}


def test_on_an_internal_port_only_vnet_changes_are_unguarded():
    w = host()
    links = guard.management_links(w, ["203.0.113.31"])
    assert links == {"vswitch1": "203.0.113.31/24"}
    vnet = plan(w, [{"name": "vswitch1", "vnets": [{"name": "vnet3", "tag": 30}]}])
    assert vnet.changed and guard.management_reasons(vnet, links) == []
    mac = plan(w, [{"name": "vswitch1", "internal": {"mac": "02:00:00:00:00:99"}}])
    assert guard.management_reasons(mac, links)
    fast = {"interfaces": ["eth1"], "other_config": {"lacp-time": "fast"}}
    uplink = plan(w, [{"name": "vswitch1", "uplink": fast}])
    assert guard.management_reasons(uplink, links)


def test_undo_of_a_migration_gives_the_world_back():
    w = host()
    before = copy.deepcopy(w)
    p = plan(w, [{"name": "vswitch0", "uplink": {"interfaces": ["eth0"]},
                  "vnets": [{"name": "vnet9", "precreate": True}]}], migrate_addresses=True)
    after = p.world
    u = undo.undo(after, before, p.ops)
    assert ovsdb_part(u.world) == ovsdb_part(before)
    # The bridge the change created is deleted in one op, not emptied first.
    assert [op["kind"] for op in u.ops] == ["del_bridge"]
    # Kernel: addresses back on eth0 (and off vswitch0), the default route back on eth0.
    links = copy.deepcopy(after["links"])
    routes = [r for r in after["routes"] if r["dev"] != "eth0"]
    cmds = undo.undo_kernel(before, links, routes, undo.kernel_names(p) | {"eth0"})
    assert ["ip", "address", "add", MGMT + "/24", "dev", "eth0"] in cmds
    assert not any("vswitch0" in c for c in cmds)  # created by the change: goes with its bridge
    assert ["ip", "route", "replace", "default", "via", "198.51.100.1", "dev", "eth0"] in cmds
    assert not any("198.51.100.0/24" in c for c in cmds)  # proto kernel: comes with the address


def test_undo_restores_columns_keys_and_removed_ports():
    w = host()
    before = copy.deepcopy(w)
    cfg = [{"name": "vswitch1", "mac_aging_time": 60,
            "internal": {"addresses": ["203.0.113.31/24"]},
            "uplink": {"interfaces": ["eth1"], "other_config": {"x": "1"}},
            "vnets": [{"name": "vnet3", "tag": 30, "external_ids": {"k": "v"}}]}]
    p = planner.plan_task(w, validate.normalize_config(cfg, "replaced"), "replaced")
    u = undo.undo(p.world, before, p.ops)
    assert ovsdb_part(u.world) == ovsdb_part(before)
    p = planner.plan_task(w, [], "deleted", allow_disruptive=True)
    assert [op["kind"] for op in p.ops] == ["del_bridge"]
    u = undo.undo(p.world, before, p.ops)
    assert ovsdb_part(u.world) == ovsdb_part(before)


def test_undo_spares_what_appeared_meanwhile():
    w = host()
    before = copy.deepcopy(w)
    p = plan(w, [{"name": "vswitch0", "uplink": {"interfaces": ["eth0"]}}],
             migrate_addresses=True)
    now = copy.deepcopy(p.world)
    # libvirt plugged a VM into the new vSwitch after the change.
    now["ports"]["vnet5"] = {"bridge": "vswitch0", "interfaces": ["vnet5"], "tag": None,
                             "trunks": [], "vlan_mode": None, "bond_mode": None, "lacp": None,
                             "other_config": {}, "external_ids": {}}
    now["interfaces"]["vnet5"] = {"port": "vnet5", "type": "", "options": {},
                                  "external_ids": {"attached-mac": "52:54:00:00:00:55"},
                                  "mtu_request": None}
    now["bridges"]["vswitch0"]["ports"].append("vnet5")
    u = undo.undo(now, before, p.ops)
    assert "vswitch0" in u.world["bridges"] and "vnet5" in u.world["ports"]
    assert "eth0" not in u.world["ports"]
    assert any("kept vswitch0" in w for w in u.warnings)


def test_undo_kernel_on_a_bridge_that_existed_before():
    w = host()
    cfg = validate.normalize_config([{"name": "vswitch0"}], "merged")
    w = planner.plan_task(w, cfg, "merged").world   # bare, as an installer leaves it
    w["links"]["vswitch0"] = {"mac": "52:54:00:00:00:10", "addresses": [], "master": None,
                              "up": False}
    before = copy.deepcopy(w)
    p = plan(w, [{"name": "vswitch0", "uplink": {"interfaces": ["eth0"]}}],
             migrate_addresses=True)
    u = undo.undo(p.world, before, p.ops)
    assert ovsdb_part(u.world) == ovsdb_part(before)
    cmds = undo.undo_kernel(before, p.world["links"], p.world["routes"],
                            undo.kernel_names(p))
    assert cmds[0] == ["ip", "address", "add", MGMT + "/24", "dev", "eth0"]
    assert ["ip", "address", "del", MGMT + "/24", "dev", "vswitch0"] in cmds
    assert ["ip", "route", "replace", "default", "via", "198.51.100.1", "dev", "eth0"] in cmds


def test_nothing_to_undo_when_nothing_was_committed():
    w = host()
    p = plan(w, [{"name": "vswitch0", "uplink": {"interfaces": ["eth0"]}}],
             migrate_addresses=True)
    assert undo.undo(copy.deepcopy(w), w, p.ops).ops == []
    assert undo.undo_kernel(w, w["links"], w["routes"], {"eth0", "vswitch0"}) == []
