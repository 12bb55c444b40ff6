"""The provisioning modules against a real ovsdb-server + ovs-vswitchd (userspace datapath).

Every change follows check -> real -> idempotent check -> idempotent real, and asserts that
the check-mode prediction equals what the real run returned and what OVS and the kernel hold.
"""

import json
import shutil
import subprocess
import time

import pytest

from ansible_collections.cloudnet.vswitch.plugins.action.vswitch import received
from converge import BASE, converge, libvirt_plug
from sandbox import COLLECTIONS, REPO

# Every test here runs on both OVSDB backends: the Python IDL and ovs-vsctl (conftest.py).
BACKENDS = ["idl", "vsctl"]


def fails(ovs, module, path, text=None, **args):
    """The task fails naming `path`, and OVSDB is left exactly as it was."""
    before = ovs.config_columns()
    res = ovs.module(module, **args)
    assert res["rc"] == 1 and res.get("failed"), res
    assert path in res["msg"], res["msg"]
    if text:
        assert text in res["msg"], res["msg"]
    assert ovs.config_columns() == before
    return res


def test_create_vswitch_with_uplink_address_and_vnets(ovs):
    ovs.nic("eth0")
    ovs.nic("vnet0")
    ovs.nic("vnet1")
    cfg = dict(BASE, mac_aging_time=60, external_ids={"rack": "r1"},
               vnets=[{"name": "vnet0", "attached_mac": "52:54:00:00:00:01", "tag": 10},
                      {"name": "vnet1", "tag": 20, "trunks": None, "mtu_request": 1400}])
    res = converge(ovs, "vswitch", config=[cfg])
    vs = res["after"][0]
    assert vs["uplink"]["interfaces"] == ["eth0"]
    assert vs["mac_aging_time"] == 60
    assert vs["external_ids"]["rack"] == "r1"
    assert vs["internal"]["addresses"] == ["2001:db8::11/64", "203.0.113.11/24"]
    # what OVS and the kernel really hold
    assert ovs.get("Port", "vnet0", "tag") == "10"
    assert ovs.get("Interface", "vnet1", "mtu_request") == "1400"
    assert ovs.get("Bridge", "vswitch0", "datapath_type") == "netdev"
    assert ovs.get("Bridge", "vswitch0", "other_config:mac-aging-time") == '"60"'
    assert ovs.addresses("vswitch0") == ["2001:db8::11/64", "203.0.113.11/24"]
    # the internal port carries the uplink's MAC, through other_config:hwaddr
    eth0_mac = ovs.link("eth0")["address"]
    assert vs["internal"]["mac"] == eth0_mac
    assert ovs.link("vswitch0")["address"] == eth0_mac
    # everything we created is marked as ours; vswitchd applied every port
    assert ovs.get("Port", "eth0", "external_ids:cloudnet-vswitch") == "uplink"
    assert ovs.get("Port", "vnet0", "external_ids:cloudnet-vswitch") == "vnet"
    for iface in ("eth0", "vnet0", "vnet1"):
        assert int(ovs.get("Interface", iface, "ofport")) > 0
    # ovs-vsctl waits for ovs-vswitchd inside its own call, the IDL client separately
    assert res["timing"]["plan_commit_s"] + res["timing"]["wait_vswitchd_s"] > 0


def test_one_transaction_for_many_vswitches(ovs):
    for n in ("eth0", "eth1", "vnet0", "vnet1", "vnet2"):
        ovs.nic(n)
    res = converge(ovs, "vswitch", config=[
        dict(BASE, vnets=[{"name": "vnet0"}, {"name": "vnet1", "tag": 5}]),
        {"name": "vswitch1", "datapath_type": "netdev", "uplink": {"interfaces": ["eth1"]},
         "vnets": [{"name": "vnet2", "tag": 7}]}])
    ovs_lines = [c for c in res["commands"] if c.startswith("ovs-vsctl")]
    assert len(ovs_lines) == 1, "one OVSDB transaction, rendered as one ovs-vsctl command"
    assert [v["name"] for v in res["after"]] == ["vswitch0", "vswitch1"]


def test_libvirt_vnet_found_by_mac_tag_set_then_cleared(ovs):
    ovs.nic("eth0")
    converge(ovs, "vswitch", config=[BASE])
    libvirt_plug(ovs, "vswitch0", "vnet7", "52:54:00:aa:bb:07")
    cfg = {"name": "vswitch0", "vnets": [{"attached_mac": "52:54:00:AA:BB:07", "tag": 30,
                                          "external_ids": {"owner-team": "db"}}]}
    res = converge(ovs, "vswitch", config=[cfg])
    vnet = res["after"][0]["vnets"][0]
    assert vnet["name"] == "vnet7" and vnet["tag"] == 30
    assert vnet["external_ids"]["iface-status"] == "active"   # libvirt's keys kept
    assert vnet["external_ids"]["owner-team"] == "db"
    # not ours: never marked without adopt
    assert ovs.get("Port", "vnet7", "external_ids:cloudnet-vswitch") == ""
    # removing a VLAN tag really clears it
    cfg["vnets"][0]["tag"] = "none"
    res = converge(ovs, "vswitch", config=[cfg])
    assert res["after"][0]["vnets"][0]["tag"] is None
    assert ovs.get("Port", "vnet7", "tag") == "[]"


def test_vnet_listed_under_another_vswitch_moves_in_one_transaction(ovs):
    for n in ("eth0", "eth1"):
        ovs.nic(n)
    converge(ovs, "vswitch", config=[BASE, {"name": "vswitch1", "datapath_type": "netdev",
                                            "uplink": {"interfaces": ["eth1"]}}])
    libvirt_plug(ovs, "vswitch0", "vnet3", "52:54:00:aa:bb:03")
    res = converge(ovs, "vswitch", config=[{"name": "vswitch1", "vnets": [
        {"attached_mac": "52:54:00:aa:bb:03", "tag": 12}]}])
    assert [v["name"] for v in res["after"][0]["vnets"]] == ["vnet3"]
    assert "vnet3" not in ovs.vsctl("list-ports", "vswitch0").split()
    assert ovs.get("Port", "vnet3", "tag") == "12"
    assert ovs.get("Interface", "vnet3", "external_ids:vm-id")  # libvirt's keys moved along


def test_pending_vnet_and_precreate(ovs):
    ovs.nic("eth0")
    converge(ovs, "vswitch", config=[BASE])
    res = ovs.module("vswitch", config=[{"name": "vswitch0", "vnets": [
        {"attached_mac": "52:54:00:00:00:99", "tag": 4}, {"name": "vnet9", "tag": 4}]}])
    assert res["rc"] == 0 and res["changed"] is False
    assert {p.get("attached_mac") or p.get("name") for p in res["pending"]} == \
        {"52:54:00:00:00:99", "vnet9"}
    assert "vnet9" not in ovs.vsctl("list-ports", "vswitch0")
    res = converge(ovs, "vswitch", config=[{"name": "vswitch0", "vnets": [
        {"name": "vnet9", "tag": 4, "precreate": True}]}])
    assert res["pending"] == []
    assert "vnet9" in ovs.vsctl("list-ports", "vswitch0").split()


def test_maps_merge_key_by_key_and_exclusive_on_request(ovs):
    ovs.nic("eth0")
    converge(ovs, "vswitch", config=[dict(BASE, other_config={"a": "1"},
                                          external_ids={"x": "1"})])
    ovs.vsctl("set", "Bridge", "vswitch0", "external_ids:someone-else=keep")
    res = converge(ovs, "vswitch", config=[{"name": "vswitch0", "external_ids": {"y": "2"}}])
    ids = res["after"][0]["external_ids"]
    assert ids["x"] == "1" and ids["y"] == "2" and ids["someone-else"] == "keep"
    res = converge(ovs, "vswitch", config=[{"name": "vswitch0", "external_ids": {"x": None}}])
    assert "x" not in res["after"][0]["external_ids"]
    res = converge(ovs, "vswitch", state="replaced", exclusive_maps=True,
                   config=[dict(BASE, external_ids={"y": "2"}, other_config={})])
    assert res["after"][0]["external_ids"] == {"y": "2", "cloudnet-vswitch": "vswitch"}
    assert res["after"][0]["other_config"] == {}


def test_replaced_resets_and_removes_only_our_unlisted_vnets(ovs):
    for n in ("eth0", "vnet0", "vnet1"):
        ovs.nic(n)
    converge(ovs, "vswitch", config=[dict(BASE, mac_aging_time=30, vnets=[
        {"name": "vnet0", "tag": 10}, {"name": "vnet1", "tag": 11}])])
    libvirt_plug(ovs, "vswitch0", "vnet5", "52:54:00:aa:bb:05")
    res = converge(ovs, "vswitch", state="replaced", config=[dict(BASE, vnets=[
        {"name": "vnet0", "trunks": [1, "3-4"]}])])
    vs = res["after"][0]
    assert vs["mac_aging_time"] is None   # back to OVS's default
    names = {v["name"]: v for v in vs["vnets"]}
    assert set(names) == {"vnet0", "vnet5"}  # vnet1 (ours, unlisted) gone; libvirt's kept
    assert names["vnet0"]["tag"] is None and names["vnet0"]["trunks"] == [1, 3, 4]


def test_overridden_and_deleted_touch_only_ours(ovs):
    for n in ("eth0", "eth1"):
        ovs.nic(n)
    converge(ovs, "vswitch", config=[BASE, {"name": "vswitch1", "datapath_type": "netdev",
                                            "uplink": {"interfaces": ["eth1"]}}])
    ovs.vsctl("add-br", "handmade", "--", "set", "Bridge", "handmade", "datapath_type=netdev")
    res = converge(ovs, "vswitch", state="overridden", config=[BASE])
    assert set(ovs.vsctl("list-br").split()) == {"vswitch0", "handmade"}
    assert [b["name"] for b in res["before"]] == ["vswitch0", "vswitch1"]
    fails(ovs, "vswitch", "config[0]", "not created by cloudnet.vswitch", state="deleted",
          config=[{"name": "handmade"}])
    # deleting a bridge that holds addresses is disruptive
    fails(ovs, "vswitch", "config", "allow_disruptive", state="deleted", config=[])
    converge(ovs, "vswitch", state="deleted", config=[], allow_disruptive=True)
    assert ovs.vsctl("list-br").split() == ["handmade"]


def test_deleted_refuses_bridge_carrying_foreign_ports_unless_adopted(ovs):
    ovs.nic("eth0")
    converge(ovs, "vswitch", config=[dict(BASE, internal={})])
    libvirt_plug(ovs, "vswitch0", "vnet2", "52:54:00:aa:bb:02")
    fails(ovs, "vswitch", "config[0]", "vnet2", state="deleted", config=[{"name": "vswitch0"}],
          allow_disruptive=True)
    converge(ovs, "vswitch", state="deleted", config=[{"name": "vswitch0"}], adopt=True,
             allow_disruptive=True)


def test_foreign_bridge_refused_unless_adopted(ovs):
    ovs.vsctl("add-br", "br-nm", "--", "set", "Bridge", "br-nm", "datapath_type=netdev",
              "external_ids:NM.connection.uuid=1234")
    fails(ovs, "vswitch", "config[0].name", "NetworkManager",
          config=[{"name": "br-nm", "mac_aging_time": 10}])
    res = converge(ovs, "vswitch", config=[{"name": "br-nm", "mac_aging_time": 10}], adopt=True)
    assert res["after"][0]["external_ids"]["cloudnet-vswitch"] == "vswitch"


def test_bond_with_lacp_and_member_changes(ovs):
    for n in ("eth2", "eth3", "eth4"):
        ovs.nic(n)
    bond = {"interfaces": ["eth2", "eth3"], "bond_name": "bond0", "bond_mode": "balance-slb",
            "lacp": "active", "other_config": {"lacp-time": "fast"}}
    res = converge(ovs, "vswitch", config=[{"name": "vswitch2", "datapath_type": "netdev",
                                            "uplink": bond}])
    up = res["after"][0]["uplink"]
    assert up == dict(bond, interfaces=["eth2", "eth3"])
    assert ovs.get("Port", "bond0", "lacp") == "active"
    assert "bond0" in ovs.appctl("bond/list")
    # members are reconciled after creation, and that is disruptive
    bond2 = dict(bond, interfaces=["eth2", "eth4"])
    fails(ovs, "vswitch", "config[0].uplink.interfaces", "allow_disruptive",
          config=[{"name": "vswitch2", "uplink": bond2}])
    res = converge(ovs, "vswitch", config=[{"name": "vswitch2", "uplink": bond2}],
                   allow_disruptive=True)
    assert res["after"][0]["uplink"]["interfaces"] == ["eth2", "eth4"]
    assert ovs.get("Port", "bond0", "interfaces") != ""
    res = converge(ovs, "vswitch", config=[{"name": "vswitch2", "uplink": dict(
        bond2, bond_mode="active-backup", lacp="off")}])
    assert ovs.get("Port", "bond0", "bond_mode") == "active-backup"


@pytest.mark.parametrize("change,path", [
    ({"datapath_type": "system"}, "config[0].datapath_type"),
    ({"fail_mode": "secure"}, "config[0].fail_mode"),
    ({"stp": True}, "config[0].stp"),
    ({"uplink": {"interfaces": ["eth1"]}}, "config[0].uplink.interfaces"),
])
def test_disruptive_changes_need_allow_disruptive(ovs, change, path):
    for n in ("eth0", "eth1"):
        ovs.nic(n)
    converge(ovs, "vswitch", config=[BASE])
    cfg = dict({"name": "vswitch0"}, **change)
    res = fails(ovs, "vswitch", path, "allow_disruptive", config=[cfg])
    assert "interrupt traffic" in res["msg"]
    if change.get("datapath_type") == "system":
        return  # no kernel datapath on this machine: the refusal is what we can test here
    converge(ovs, "vswitch", config=[cfg], allow_disruptive=True)


def test_removing_an_internal_address_is_disruptive(ovs):
    ovs.nic("eth0")
    converge(ovs, "vswitch", config=[BASE])
    cfg = dict(BASE, internal={"addresses": ["203.0.113.11/24"]})
    fails(ovs, "vswitch", "config[0].internal.addresses", "2001:db8::11/64", state="replaced",
          config=[cfg])
    assert ovs.addresses("vswitch0") == ["2001:db8::11/64", "203.0.113.11/24"]
    converge(ovs, "vswitch", state="replaced", config=[cfg], allow_disruptive=True)
    assert ovs.addresses("vswitch0") == ["203.0.113.11/24"]


def test_addresses_with_a_lifetime_are_neither_removed_nor_reported(ovs):
    """A SLAAC address (a router advert's, valid_lft set) and a DHCP lease on the internal
    port: replaced leaves them (the next advert or renewal would bring them back), the result
    lists the configured addresses only, and vswitch_info names them as dynamic."""
    ovs.nic("eth0")
    cfg = dict(BASE, internal={"addresses": ["203.0.113.11/24"]})
    converge(ovs, "vswitch", config=[cfg])
    for addr, lifetime in (("2001:db8:5::11/64", "3600"), ("203.0.113.99/24", "600")):
        ovs.ns("ip", "address", "add", addr, "dev", "vswitch0", "valid_lft", lifetime,
               "preferred_lft", lifetime)
    for check in (True, False):
        res = ovs.module("vswitch", check=check, state="replaced", config=[cfg])
        assert res["rc"] == 0 and res["changed"] is False, res.get("msg") or res["commands"]
        assert res["before"][0]["internal"]["addresses"] == ["203.0.113.11/24"]
    assert ovs.addresses("vswitch0") == ["2001:db8:5::11/64", "203.0.113.11/24",
                                         "203.0.113.99/24"]
    info = ovs.module("vswitch_info")
    port = next(p for p in info["vswitches"][0]["ports"] if p["name"] == "vswitch0")
    assert port["dynamic_addresses"] == ["2001:db8:5::11/64", "203.0.113.99/24"]
    assert "203.0.113.11/24" in port["addresses"]


def test_uplink_with_addresses_needs_migrate_addresses(ovs):
    ovs.nic("eth0", addresses=["198.51.100.50/24"])
    ovs.ns("ip", "route", "add", "default", "via", "198.51.100.1", "dev", "eth0")
    cfg = {"name": "vswitch0", "datapath_type": "netdev", "uplink": {"interfaces": ["eth0"]}}
    res = fails(ovs, "vswitch", "config[0].uplink.interfaces[0]", "migrate_addresses",
                config=[cfg])
    assert "198.51.100.50/24" in res["msg"] and "default" in res["msg"]
    assert ovs.vsctl("list-br").strip() == ""
    res = converge(ovs, "vswitch", config=[cfg], migrate_addresses=True)
    assert ovs.addresses("vswitch0") == ["198.51.100.50/24"]
    assert ovs.addresses("eth0") == []
    routes = json.loads(ovs.ns("ip", "-j", "route", "show", "default"))
    assert [(r["gateway"], r["dev"]) for r in routes] == [("198.51.100.1", "vswitch0")]
    assert ovs.link("vswitch0")["address"] == ovs.link("eth0")["address"]


def test_single_object_modules(ovs):
    for n in ("eth0", "eth2", "eth3", "vnet0"):
        ovs.nic(n)
    converge(ovs, "bridge", name="vswitch0", datapath_type="netdev", mac_aging_time=120,
             internal={"addresses": ["203.0.113.5/24"]})
    res = converge(ovs, "uplink", bridge="vswitch0", interfaces=["eth0"])
    assert res["after"][0]["internal"]["mac"] == ovs.link("eth0")["address"]
    res = converge(ovs, "vnet", bridge="vswitch0", name="vnet0", attached_mac="52:54:00:0:0:1",
                   tag=100)
    assert res["after"][0]["vnets"][0]["attached_mac"] == "52:54:00:00:00:01"
    converge(ovs, "vnet", bridge="vswitch0", attached_mac="52:54:00:00:00:01", tag="none")
    converge(ovs, "vnet", bridge="vswitch0", attached_mac="52:54:00:00:00:01", state="absent")
    assert "vnet0" not in ovs.vsctl("list-ports", "vswitch0")
    res = fails(ovs, "uplink", "interfaces", "allow_disruptive", bridge="vswitch0",
                interfaces=["eth2", "eth3"], bond_name="bond0")
    assert res["path"] == "interfaces" and "config[0]" not in res["msg"]   # its own options
    converge(ovs, "uplink", bridge="vswitch0", state="absent", allow_disruptive=True)
    res = fails(ovs, "uplink", "bridge", "does not exist", bridge="nope", interfaces=["eth2"])
    assert res["msg"].startswith("bridge: ")
    res = fails(ovs, "vnet", "tag", "4096", bridge="vswitch1", name="vnet0", tag=4096)
    assert res["msg"].startswith("tag: ")
    converge(ovs, "bridge", name="vswitch0", state="absent", allow_disruptive=True)
    assert ovs.vsctl("list-br").strip() == ""


def test_gathered_and_rendered(ovs):
    ovs.nic("eth0")
    converge(ovs, "vswitch", config=[BASE])
    res = ovs.module("vswitch", state="gathered")
    assert res["changed"] is False and [g["name"] for g in res["gathered"]] == ["vswitch0"]
    assert res["gathered"][0]["uplink"]["interfaces"] == ["eth0"]
    res = ovs.module("vswitch", state="rendered", config=[{"name": "vswitch5", "uplink": {
        "interfaces": ["eth9"]}, "vnets": [{"name": "vnet4", "tag": 4}]}])
    assert res["rc"] == 0 and res["changed"] is False
    assert res["rendered"][0].startswith("ovs-vsctl -- add-br vswitch5")
    assert "datapath_type=system" in res["rendered"][0]   # the product's default
    assert "add-port vswitch5 vnet4" in res["rendered"][0]
    assert "vswitch5" not in ovs.vsctl("list-br")


def test_rendered_commands_reproduce_the_change(ovs):
    """The `commands` a change returns do the same thing when run by hand."""
    for n in ("eth0", "vnet0"):
        ovs.nic(n)
    cfg = dict(BASE, internal={}, mac_aging_time=45, vnets=[{"name": "vnet0", "tag": 9}])
    check = ovs.module("vswitch", check=True, config=[cfg])
    line = check["commands"][0]
    import shlex
    argv = shlex.split(line)
    ovs.vsctl(*argv[1:])
    res = ovs.module("vswitch", check=True, config=[cfg])
    assert res["changed"] is False, res["commands"]


BAD = [
    ({"name": "eth 0"}, "config[0].name", "'eth 0'"),
    ({"name": "a" * 16}, "config[0].name", "a" * 16),
    ({"name": "vs0", "uplink": {"interfaces": ["eth 1"]}}, "config[0].uplink.interfaces[0]",
     "'eth 1'"),
    ({"name": "vs0", "uplink": {"interfaces": ["eth9"]}}, "config[0].uplink.interfaces[0]",
     "does not exist"),
    ({"name": "vs0", "uplink": {"interfaces": ["eth0"], "bond_name": "b0"}},
     "config[0].uplink.bond_name", "two or more"),
    ({"name": "vs0", "uplink": {"interfaces": ["eth0", "eth1"]}}, "config[0].uplink.bond_name",
     "required"),
    ({"name": "vs0", "internal": {"addresses": ["203.0.113.300/24"]}},
     "config[0].internal.addresses[0]", "203.0.113.300/24"),
    ({"name": "vs0", "internal": {"addresses": ["203.0.113.3"]}},
     "config[0].internal.addresses[0]", "prefix length"),
    ({"name": "vs0", "internal": {"mac": "52:54:00:zz:00:01"}}, "config[0].internal.mac",
     "52:54:00:zz:00:01"),
    ({"name": "vs0", "vnets": [{"name": "vnet0", "tag": 4096}]}, "config[0].vnets[0].tag",
     "4096"),
    ({"name": "vs0", "vnets": [{"name": "vnet0", "tag": "ten"}]}, "config[0].vnets[0].tag",
     "ten"),
    ({"name": "vs0", "vnets": [{"name": "vnet0", "trunks": [10, "x"]}]},
     "config[0].vnets[0].trunks[1]", "'x'"),
    ({"name": "vs0", "vnets": [{"name": "vnet0", "trunks": ["20-10"]}]},
     "config[0].vnets[0].trunks[0]", "20-10"),
    ({"name": "vs0", "vnets": [{"tag": 3}]}, "config[0].vnets[0]", "at least one"),
    ({"name": "vs0", "vnets": [{"attached_mac": "zz"}]}, "config[0].vnets[0].attached_mac",
     "'zz'"),
    ({"name": "vs0", "mac_aging_time": -5}, "config[0].mac_aging_time", "-5"),
    ({"name": "vs0", "other_config": {"hwaddr": "52:54:00:00:00:01"}},
     "config[0].other_config.hwaddr", "internal.mac"),
    ({"name": "vs0", "vnets": [{"name": "vnet0", "mtu_request": 10}]},
     "config[0].vnets[0].mtu_request", "10"),
]


@pytest.mark.parametrize("cfg,path,text", BAD,
                         ids=[b[1] + ":" + str(i) for i, b in enumerate(BAD)])
def test_bad_input_names_field_and_value_and_changes_nothing(ovs, cfg, path, text):
    ovs.nic("eth0")
    ovs.nic("eth1")
    fails(ovs, "vswitch", path, text, config=[cfg])


def test_uplink_used_by_another_vswitch_is_refused(ovs):
    ovs.nic("eth0")
    converge(ovs, "vswitch", config=[BASE])
    fails(ovs, "vswitch", "config[0].uplink.interfaces[0]", "already used by vSwitch vswitch0",
          config=[{"name": "vswitch1", "datapath_type": "netdev",
                   "uplink": {"interfaces": ["eth0"]}}])


def test_rejected_transaction_changes_nothing(ovs):
    """ovsdb-server rejects a transaction with a real constraint violation (an interface name
    used twice): every configuration column stays as it was."""
    import sys
    sys.path.insert(0, COLLECTIONS)
    from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import OvsdbError
    from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb.client import open_client
    from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import plan as planner
    from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import validate

    ovs.nic("eth0")
    converge(ovs, "vswitch", config=[BASE])
    before = ovs.config_columns()
    cfg = validate.normalize_config([{"name": "vswitch1", "datapath_type": "netdev",
                                      "mac_aging_time": 10}], "merged")

    def replan(world):
        plan = planner.plan_task(world, cfg, "merged")
        # a second port whose interface is named like vswitch0's uplink: a unique-index clash
        plan.ops.append(planner.Op("add_port", bridge="vswitch1", name="clash", columns={},
                                   interfaces=[{"name": "eth0", "columns": {}}]))
        return plan

    def run(argv):
        res = subprocess.run(argv, capture_output=True, text=True, check=False)
        return res.returncode, res.stdout, res.stderr

    with open_client(db=ovs.db, timeout=5, backend=ovs.backend, run=run) as client:
        with pytest.raises(OvsdbError) as err:
            client.apply(replan)
    assert "nothing was changed" in str(err.value)
    assert "constraint violation" in str(err.value) or "already exists" in str(err.value)
    assert ovs.config_columns() == before


def test_every_read_gives_the_idl_replicas_world(ovs):
    """The reads without the IDL (the IDL client's one select, which idempotent runs, check
    mode and the read-only modules use, and ovs-vsctl's JSON lists) decode to exactly the
    world of a synced IDL replica: bonds, tags, trunks, maps, optional columns, mirrors."""
    import sys
    sys.path.insert(0, COLLECTIONS)
    from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb.client import open_client
    from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb.idl import Client

    for nic in ("eth0", "eth1", "vnet0", "vnet1"):
        ovs.nic(nic)
    converge(ovs, "vswitch", config=[dict(
        BASE, uplink={"bond_name": "bond0", "interfaces": ["eth0", "eth1"],
                      "bond_mode": "balance-slb", "lacp": "off"},
        vnets=[{"name": "vnet0", "tag": 10}, {"name": "vnet1", "trunks": [10, 20],
                                              "external_ids": {"vm-id": "vm1"}}])])
    ovs.vsctl("--", "--id=@p", "get", "Port", "vnet0", "--", "--id=@o", "get", "Port", "vnet1",
              "--", "--id=@m", "create", "Mirror", "name=m0", "select-src-port=@p",
              "select-dst-port=@p", "output-port=@o", "external_ids:owner=test",
              "--", "add", "Bridge", "vswitch0", "mirrors", "@m")

    def run(argv):
        res = subprocess.run(argv, capture_output=True, text=True, check=False)
        return res.returncode, res.stdout, res.stderr

    with Client(db=ovs.db, timeout=5).connect() as replica:
        expected = replica.world()
    with open_client(db=ovs.db, timeout=5, backend=ovs.backend, run=run) as client:
        got = client.world()
        assert getattr(client, "idl", None) is None, "a read opened an IDL session"
    assert expected["mirrors"]["m0"] == {
        "bridge": "vswitch0", "external_ids": {"owner": "test"}, "select_src_port": ["vnet0"],
        "select_dst_port": ["vnet0"], "output_port": "vnet1"}
    assert expected["ports"]["bond0"]["interfaces"] == ["eth0", "eth1"]
    assert expected["ports"]["vnet1"]["trunks"] == [10, 20]
    assert got == expected


def test_concurrent_applies_both_succeed(ovs):
    for n in ("eth0", "vnet0", "vnet1", "vnet2", "vnet3"):
        ovs.nic(n)
    converge(ovs, "vswitch", config=[BASE])
    env = dict(__import__("os").environ, PYTHONPATH=COLLECTIONS)
    procs = []
    for i in range(1, 4):
        args = {"config": [dict(BASE, vnets=[{"name": "vnet%d" % i, "tag": 100 + i},
                                             {"name": "vnet0", "tag": 100}])],
                "db": ovs.db}
        path = "%s/args%d.json" % (ovs.dir, i)
        with open(path, "w") as f:
            json.dump({"ANSIBLE_MODULE_ARGS": args}, f)
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", ovs.netns, __import__("sys").executable,
             REPO + "/plugins/modules/vswitch.py", path], stdout=subprocess.PIPE, env=env))
    results = [json.loads(p.communicate()[0]) for p in procs]
    assert all(not r.get("failed") for r in results), [r.get("msg") for r in results]
    for i in range(4):
        assert ovs.get("Port", "vnet%d" % i, "tag") == str(100 + i)
    assert all(r["changed"] for r in results)  # each added its own vnet
    assert all(isinstance(r["retries"], int) for r in results)


def test_ovsdb_server_down_fails_clearly_within_timeout(ovs):
    ovs.kill("ovsdb-server")
    start = time.monotonic()
    res = ovs.module("vswitch", config=[BASE], timeout=3)
    assert res["rc"] == 1 and ovs.sock in res["msg"], res["msg"]
    assert time.monotonic() - start < 10


def test_vswitchd_down_times_out_with_a_clear_error(ovs):
    ovs.nic("eth0")
    ovs.kill("ovs-vswitchd")
    res = ovs.module("vswitch", config=[dict(BASE, internal={})], timeout=2)
    assert res["rc"] == 1 and "ovs-vswitchd did not apply it" in res["msg"]
    assert "within 2s" in res["msg"]
    ovs.start_vswitchd()
    res = ovs.module("vswitch", config=[dict(BASE, internal={})])
    assert res["rc"] == 0, res["msg"]
    assert res["after"][0]["uplink"]["interfaces"] == ["eth0"]


def test_through_ansible_playbook_with_the_hosts_python(ovs, tmp_path):
    """The real AnsiballZ path: ansible-playbook, local connection, Debian's python3 and its
    python3-openvswitch 3.1 (the venv above runs PyPI's ovs)."""
    ovs.nic("eth0")
    ovs.nic("vnet0")
    play = tmp_path / "play.yml"
    play.write_text(json.dumps([{
        "hosts": "localhost", "gather_facts": False,
        "vars": {"ansible_python_interpreter": "/usr/bin/python3"},
        "tasks": [{"name": "vswitch", "cloudnet.vswitch.vswitch": {
            "db": ovs.db, "config": [dict(BASE, vnets=[{"name": "vnet0", "tag": 3}])]},
            "register": "out"},
            {"ansible.builtin.copy": {"content": "{{ out | to_json }}",
                                      "dest": str(tmp_path / "out.json")}}]}]))

    def playbook(*extra):
        env = dict(__import__("os").environ, ANSIBLE_CONFIG=REPO + "/ansible.cfg",
                   ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
        res = subprocess.run(["ip", "netns", "exec", ovs.netns,
                              REPO + "/.venv/bin/ansible-playbook", str(play)] + list(extra),
                             capture_output=True, text=True, env=env, cwd=REPO, check=False)
        assert res.returncode == 0, res.stdout + res.stderr
        return res.stdout

    out = playbook("--check", "--diff")
    assert "changed=1" in out.replace("changed=2", "changed=1")
    playbook()
    result = json.loads((tmp_path / "out.json").read_text())
    assert result["changed"] is True
    assert ovs.get("Port", "vnet0", "tag") == "3"
    out = playbook()
    assert json.loads((tmp_path / "out.json").read_text())["changed"] is False


def test_purge_stale_removes_vnets_whose_vm_is_gone_only_when_asked(ovs):
    ovs.nic("eth0")
    converge(ovs, "vswitch", config=[BASE])
    libvirt_plug(ovs, "vswitch0", "vnet5", "52:54:00:aa:bb:05")
    libvirt_plug(ovs, "vswitch0", "vnet6", "52:54:00:aa:bb:06")
    ovs.ns("ip", "link", "del", "vnet5")          # the VM died without unplugging
    res = ovs.module("vswitch", state="overridden", config=[BASE])
    assert res["rc"] == 0 and res["changed"] is False   # not ours, not asked: kept
    res = converge(ovs, "vswitch", state="overridden", config=[BASE], purge_stale=True)
    assert [v["name"] for v in res["after"][0]["vnets"]] == ["vnet6"]


def _without(libraries, ovs, tmp_path, path_env=None, module="vswitch", **args):
    """Run `module` with each of `libraries` made unimportable (and, with `path_env`, that
    PATH: one without ovs-vsctl or tcpdump). The result is the task's, as sandbox.module's
    (`before`/`after` decoded as GuardedAction does)."""
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n" + "".join("sys.modules[%r] = None\n" % lib for lib in libraries))
    env = dict(__import__("os").environ, PYTHONPATH="%s:%s" % (tmp_path, COLLECTIONS))
    if path_env is not None:
        env["PATH"] = path_env
    path = tmp_path / "args.json"
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(args, db=ovs.db)}))
    res = subprocess.run([shutil.which("ip"), "netns", "exec", ovs.netns,
                          __import__("sys").executable,
                          REPO + "/plugins/modules/%s.py" % module, str(path)],
                         capture_output=True, text=True, env=env, check=False)
    assert "Traceback" not in res.stdout + res.stderr, res.stderr
    return received(json.loads(res.stdout))


@pytest.mark.parametrize("library,package,args", [
    ("ovs", "python3-openvswitch", {"backend": "idl"}),
    ("netaddr", "python3-netaddr", {})])
def test_missing_library_names_the_package(ovs, tmp_path, library, package, args):
    """A host without a library it needs gets the package to install, not a traceback."""
    out = _without([library], ovs, tmp_path, config=[BASE], **args)
    assert out["failed"] and package in out["msg"] and library in out["msg"], out["msg"]
    assert out["missing"] == [package]


# A PATH with the commands a module may run before it looks for OVS, but not ovs-vsctl.
NO_OVS_PATH = "/nonexistent"


@pytest.mark.parametrize("module,libraries,missing", [
    ("vswitch", ["ovs"], ["python3-openvswitch", "ovs-vsctl"]),
    ("vnet", ["ovs"], ["python3-openvswitch", "ovs-vsctl"]),
    ("vswitch", ["ovs", "netaddr"], ["python3-netaddr", "python3-openvswitch", "ovs-vsctl"]),
])
def test_a_host_without_ovs_is_told_what_to_install(ovs, tmp_path, module, libraries, missing):
    """No python3-openvswitch and no ovs-vsctl (a fresh host): one message naming both, every
    missing part at once, in `missing` too (provision.yml's role installs them when allowed),
    never `[Errno 2] No such file or directory: 'ovs-vsctl'`; nothing changes."""
    before = ovs.config_columns()
    args = {"config": [BASE]} if module == "vswitch" else {
        "bridge": "vswitch0", "attached_mac": "52:54:00:00:00:01", "tag": 10}
    out = _without(libraries, ovs, tmp_path, path_env=NO_OVS_PATH, module=module, **args)
    assert out["failed"] and out["missing"] == missing, out
    assert "no python3-openvswitch" in out["msg"] and "no ovs-vsctl on PATH" in out["msg"]
    assert "install openvswitch-switch and python3-openvswitch" in out["msg"], out["msg"]
    assert "Errno" not in out["msg"]
    assert ovs.config_columns() == before


def test_without_the_python_bindings_ovs_vsctl_is_chosen(ovs, tmp_path):
    ovs.nic("eth0")
    out = _without(["ovs"], ovs, tmp_path, config=[dict(BASE, internal={})])
    assert not out.get("failed"), out.get("msg")
    assert out["backend"] == "vsctl" and out["changed"] is True
    assert out["after"][0]["uplink"]["interfaces"] == ["eth0"]


@pytest.mark.parametrize("module, args, message", [
    ("vswitch", {"states": "gathered"}, "states: unknown option (did you mean state?)"),
    ("vswitch", {"config": [{"name": "vswitch0", "vnet": [{"name": "vnet0"}]}]},
     "config[0].vnet: unknown key (did you mean vnets?)"),
    ("vnet", {"bridg": "vswitch0", "attached_mac": "52:54:00:00:00:01"},
     "bridg: unknown option (did you mean bridge?)"),
    ("fdb_info", {"brige": "vswitch0"}, "brige: unknown option (did you mean bridge?)"),
])
def test_a_typo_is_named_before_any_other_rule(ovs, module, args, message):
    """Ansible's own check would answer `state is merged but ... missing: config` for
    `states=gathered`: the unknown option comes first, with the nearest valid one."""
    fails(ovs, module, message, **args)
