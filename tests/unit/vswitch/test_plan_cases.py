"""The planner as one table: (a world, a config, a state, options) -> the ops it emits, the
equivalent commands a task returns (Plan.commands()), the vnets left pending, the warnings, or
the error and the path of the field it names. Every case that plans also checks that the
planner left its input alone and that planning again on the predicted world changes nothing,
not even the facts a task reports (`after` is `before` when nothing changes).

Worlds are plain dicts built by the helpers below; expected values were worked out from what an
operator would type (`ovs-vsctl -- add-br ...`, `ip address add ...`), not copied from output."""

import copy

import pytest

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import (
    DisruptiveChange,
    OwnershipError,
    ParamError,
)
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import plan, validate
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import world as vsworld

MARK = vsworld.MARK            # "cloudnet-vswitch"
VM_MAC = "52:54:00:aa:00:07"   # the MAC libvirt gives a VM's NIC (attached-mac)


# ----------------------------------------------------------------------------- world helpers

def links(**kw):
    """A host with kernel links only; link N gets MAC 52:54:00:00:00:0N."""
    w = vsworld.empty_world()
    for name, link in kw.items():
        w["links"][name] = dict({"mac": "52:54:00:00:00:%02x" % len(w["links"]),
                                 "addresses": [], "master": None, "up": True}, **link)
    return w


def planned(w, config, state="merged", **opts):
    """The predicted world after planning `config` on `w` (what a previous run left)."""
    return plan.plan_task(w, validate.normalize_config(config, state), state, **opts).world


def plug(w, bridge, name, mac=VM_MAC, tag=None, trunks=(), mtu_request=None):
    """libvirt starting a VM on `bridge`: a tap link, a Port and an Interface that libvirt marks
    with the VM's MAC (never with ours)."""
    w["links"][name] = {"mac": "fe" + mac[2:], "addresses": [], "master": "ovs-system",
                        "up": True}
    w["ports"][name] = {"bridge": bridge, "interfaces": [name], "tag": tag,
                        "trunks": list(trunks), "vlan_mode": None, "bond_mode": None,
                        "lacp": None, "other_config": {}, "external_ids": {}}
    w["interfaces"][name] = vsworld.new_iface(
        name, mtu_request=mtu_request, ofport=7, link_state="up",
        external_ids={"attached-mac": mac, "iface-status": "active",
                      "vm-uuid": "6f1c9a52-3c1e-4b8e-9d57-0c2a1f1e0007"})
    w["bridges"][bridge]["ports"] = sorted(w["bridges"][bridge]["ports"] + [name])
    return w


def add_port(w, bridge, name, iface_type="", external_ids=None):
    """A port somebody added by hand (ovs-vsctl add-port), unmarked unless told."""
    w["ports"][name] = {"bridge": bridge, "interfaces": [name], "tag": None, "trunks": [],
                        "vlan_mode": None, "bond_mode": None, "lacp": None,
                        "other_config": {}, "external_ids": dict(external_ids or {})}
    w["interfaces"][name] = vsworld.new_iface(name, type=iface_type, ofport=9)
    w["bridges"][bridge]["ports"] = sorted(w["bridges"][bridge]["ports"] + [name])
    return w


def foreign_bridge(w, name, external_ids):
    """A bridge with its internal port, created by someone else (NetworkManager, an admin)."""
    w["bridges"][name] = {"datapath_type": "", "fail_mode": None, "stp_enable": False,
                          "other_config": {}, "external_ids": dict(external_ids), "ports": []}
    add_port(w, name, name, iface_type="internal")
    return w


NIC_UPLINK = [{"name": "vs0", "uplink": {"interfaces": ["eth0"]}}]
BOND = {"interfaces": ["eth0", "eth1"], "bond_name": "bond0", "bond_mode": "balance-tcp",
        "lacp": "active"}
NM_IDS = {"NM.connection.uuid": "3f2a4c6e-0d1b-4a5e-8f7c-9b0e1d2c3a4b"}


def ours():
    """vs0 ours with uplink eth0 (eth1, eth2 free), and a running VM plugged in as vnet7."""
    return plug(planned(links(eth0={}, eth1={}, eth2={}), NIC_UPLINK), "vs0", "vnet7")


def bonded():
    return planned(links(eth0={}, eth1={}, eth2={}), [{"name": "vs0", "uplink": BOND}])


def tuned():
    """vs0 with options set by an earlier merged run, and a VM with a tag, trunks and MTU."""
    w = planned(links(eth0={}), [{"name": "vs0", "fail_mode": "standalone",
                                  "mac_aging_time": 60, "uplink": {"interfaces": ["eth0"]}}])
    return plug(w, "vs0", "vnet7", tag=10, trunks=[20, 30], mtu_request=1400)


def with_precreated():
    return planned(ours(), [{"name": "vs0", "vnets": [{"name": "vnet9", "precreate": True}]}])


def two_of_ours_and_foreign():
    w = planned(links(), [{"name": "vs0"}, {"name": "vs1"}])
    foreign_bridge(w, "br-nm", NM_IDS)
    foreign_bridge(w, "br-ex", {})
    return w


def ours_with_admin_port():
    w = planned(links(), [{"name": "vs0"}, {"name": "vs1"}])
    return add_port(w, "vs1", "eth5")


def addressed():
    return planned(links(), [{"name": "vs0", "internal": {"addresses": ["203.0.113.1/24"]}}])


def nic_with_address():
    w = links(eth0={"addresses": ["198.51.100.50/24", "2001:db8::50/64"]})
    w["routes"] = [
        {"dst": "default", "dev": "eth0", "gateway": "198.51.100.1", "metric": None,
         "protocol": "dhcp", "family": 4, "migrate": True},
        {"dst": "198.51.100.0/24", "dev": "eth0", "gateway": None, "metric": None,
         "protocol": "kernel", "family": 4, "migrate": False},
        {"dst": "default", "dev": "eth0", "gateway": "2001:db8::1", "metric": 1024,
         "protocol": "ra", "family": 6, "migrate": True}]
    return w


def nm_bridge():
    return foreign_bridge(links(), "br0", NM_IDS)


def vm_on_nm_bridge():
    w = foreign_bridge(ours(), "br0", NM_IDS)
    del w["interfaces"]["vnet7"], w["ports"]["vnet7"]
    w["bridges"]["vs0"]["ports"].remove("vnet7")
    return plug(w, "br0", "vnet7")


def lab_bridge():
    """An unmarked bridge no one claims, with a bare tap and a VM's port."""
    w = foreign_bridge(links(), "br-lab", {})
    add_port(w, "br-lab", "tap0")
    return plug(w, "br-lab", "vnet7")


def two_vswitches_vm_on_vs0():
    return planned(ours(), [{"name": "vs1"}])


def key(op):
    """The fields of an op that say what it does."""
    kind = op["kind"]
    if kind in ("add_bridge", "del_bridge"):
        return (kind, op["name"])
    if kind == "set":
        return (kind, op["table"], op["name"], op["column"], op["value"])
    if kind == "setkey":
        return (kind, op["table"], op["name"], op["column"], op["key"], op["value"])
    if kind == "delkey":
        return (kind, op["table"], op["name"], op["column"], op["key"])
    if kind == "add_port":
        return (kind, op["bridge"], op["name"], tuple(i["name"] for i in op["interfaces"]))
    if kind == "del_port":
        return (kind, op["bridge"], op["name"])
    if kind == "move_port":
        return (kind, op["name"], op["from_bridge"], op["bridge"])
    return (kind, op["port"], op["name"])   # add_iface, del_iface


def get(w, path):
    for k in path:
        w = w[k]
    return w


# The add-br clauses every new vSwitch starts with.
ADD_VS0 = ("ovs-vsctl -- add-br vs0 -- set Bridge vs0 datapath_type=system "
           "external_ids:cloudnet-vswitch=vswitch -- set Port vs0 "
           "external_ids:cloudnet-vswitch=internal")
HWADDR = "'other_config:hwaddr=\"52:54:00:00:00:%02x\"'"

CASES = [
    # ------------------------------------------------------------------ creating
    pytest.param(
        lambda: links(eth0={}), NIC_UPLINK, "merged", {},
        {"ops": [("add_bridge", "vs0"), ("add_port", "vs0", "eth0", ("eth0",)),
                 ("setkey", "Bridge", "vs0", "other_config", "hwaddr", "52:54:00:00:00:00")],
         "commands": [ADD_VS0 + " -- add-port vs0 eth0 -- set Port eth0 "
                      "external_ids:cloudnet-vswitch=uplink -- set Bridge vs0 " + HWADDR % 0],
         "world": [(("ports", "eth0", "bridge"), "vs0"),
                   (("links", "vs0", "mac"), "52:54:00:00:00:00")]},
        id="create-with-nic-uplink"),
    pytest.param(
        lambda: planned(links(eth0={}), NIC_UPLINK), NIC_UPLINK, "merged", {},
        {"ops": [], "commands": []},
        id="rerun-on-predicted-world-is-empty"),
    pytest.param(
        lambda: links(eth0={}, eth1={}), [{"name": "vs0", "uplink": BOND}], "merged", {},
        {"ops": [("add_bridge", "vs0"), ("add_port", "vs0", "bond0", ("eth0", "eth1")),
                 ("setkey", "Bridge", "vs0", "other_config", "hwaddr", "52:54:00:00:00:00")],
         "commands": [ADD_VS0 + " -- add-bond vs0 bond0 eth0 eth1 -- set Port bond0 "
                      "bond_mode=balance-tcp external_ids:cloudnet-vswitch=uplink lacp=active"
                      " -- set Bridge vs0 " + HWADDR % 0],
         "world": [(("ports", "bond0", "lacp"), "active"),
                   (("interfaces", "eth1", "port"), "bond0")]},
        id="create-with-lacp-bond"),
    pytest.param(
        lambda: links(eth0={}, eth1={}),
        [{"name": "vs0", "uplink": {"interfaces": ["eth0", "eth1"], "bond_name": "bond0"}}],
        "merged", {},
        {"ops": [("add_bridge", "vs0"), ("add_port", "vs0", "bond0", ("eth0", "eth1")),
                 ("setkey", "Bridge", "vs0", "other_config", "hwaddr", "52:54:00:00:00:00")],
         "commands": [ADD_VS0 + " -- add-bond vs0 bond0 eth0 eth1 -- set Port bond0 "
                      "external_ids:cloudnet-vswitch=uplink -- set Bridge vs0 " + HWADDR % 0],
         "world": [(("ports", "bond0", "bond_mode"), None), (("ports", "bond0", "lacp"), None)]},
        id="create-bond-leaves-unset-mode-to-ovs"),
    pytest.param(
        bonded, [{"name": "vs0", "uplink": dict(BOND, bond_mode=None, lacp="passive")}],
        "merged", {},
        {"ops": [("set", "Port", "bond0", "lacp", "passive")],
         "commands": ["ovs-vsctl -- set Port bond0 lacp=passive"],
         "world": [(("ports", "bond0", "bond_mode"), "balance-tcp")]},
        id="bond-lacp-change-keeps-unset-bond-mode"),
    pytest.param(
        bonded, [{"name": "vs0", "uplink": dict(BOND, interfaces=["eth0", "eth2"])}],
        "merged", {},
        {"error": (DisruptiveChange, "config[0].uplink.interfaces",
                   "changing bond bond0 members from ['eth0', 'eth1'] to ['eth0', 'eth2']")},
        id="bond-members-change-refused"),
    pytest.param(
        bonded, [{"name": "vs0", "uplink": dict(BOND, interfaces=["eth0", "eth2"])}],
        "merged", {"allow_disruptive": True},
        {"ops": [("add_iface", "bond0", "eth2"), ("del_iface", "bond0", "eth1")],
         "commands": ["ovs-vsctl -- add Port bond0 interfaces @eth2 -- --id=@eth2 create "
                      "Interface name=eth2 -- remove Port bond0 interfaces '[Interface]eth1'"],
         "warnings": ["config[0].uplink.interfaces: disruptive change allowed: changing bond "
                      "bond0 members from ['eth0', 'eth1'] to ['eth0', 'eth2']"]},
        id="bond-members-change-allowed"),
    pytest.param(
        ours, [{"name": "vs0", "uplink": {"interfaces": ["eth1"]}}], "merged",
        {"allow_disruptive": True},
        {"ops": [("del_port", "vs0", "eth0"), ("add_port", "vs0", "eth1", ("eth1",)),
                 ("setkey", "Bridge", "vs0", "other_config", "hwaddr", "52:54:00:00:00:01")],
         "commands": ["ovs-vsctl -- del-port vs0 eth0 -- add-port vs0 eth1 -- set Port eth1 "
                      "external_ids:cloudnet-vswitch=uplink -- set Bridge vs0 " + HWADDR % 1],
         "warnings": ["config[0].uplink.interfaces: disruptive change allowed: changing the "
                      "uplink from eth0 to eth1"]},
        id="uplink-nic-swap-allowed"),
    pytest.param(
        ours, [{"name": "vs1", "uplink": {"interfaces": ["eth0"]}}], "merged", {},
        {"error": (ParamError, "config[0].uplink.interfaces[0]",
                   "'eth0' is already used by vSwitch vs0")},
        id="nic-already-used-by-another-vswitch"),
    # ------------------------------------------------------------------ vnets
    pytest.param(
        ours, [{"name": "vs0", "vnets": [{"attached_mac": "52:54:00:AA:00:07", "tag": 10}]}],
        "merged", {},
        {"ops": [("set", "Port", "vnet7", "tag", 10)],
         "commands": ["ovs-vsctl -- set Port vnet7 tag=10"]},
        id="vnet-found-by-attached-mac-gets-tag"),
    pytest.param(
        lambda: planned(ours(), [{"name": "vs0", "vnets": [{"attached_mac": VM_MAC,
                                                            "tag": 10}]}]),
        [{"name": "vs0", "vnets": [{"attached_mac": VM_MAC, "tag": "none"}]}], "merged", {},
        {"ops": [("set", "Port", "vnet7", "tag", None)],
         "commands": ["ovs-vsctl -- clear Port vnet7 tag"]},
        id="vnet-tag-none-clears"),
    pytest.param(
        ours, [{"name": "vs0", "vnets": [{"attached_mac": VM_MAC, "vlan_mode": "trunk",
                                          "trunks": ["10-12", 20]}]}], "merged", {},
        {"ops": [("set", "Port", "vnet7", "trunks", [10, 11, 12, 20]),
                 ("set", "Port", "vnet7", "vlan_mode", "trunk")],
         "commands": ["ovs-vsctl -- set Port vnet7 'trunks=[10,11,12,20]' "
                      "-- set Port vnet7 vlan_mode=trunk"]},
        id="vnet-trunk-ranges-expanded"),
    pytest.param(
        ours, [{"name": "vs0", "vnets": [{"attached_mac": "52:54:00:aa:00:09", "tag": 5},
                                         {"name": "vnet9"}]}], "merged", {},
        {"ops": [], "commands": [],
         "pending": [("vs0/52:54:00:aa:00:09", "not plugged (VM not running?)", 5),
                     ("vs0/vnet9", "no such interface on this host", None)]},
        id="vnets-of-stopped-vms-are-pending"),
    pytest.param(
        ours, [{"name": "vs0", "vnets": [{"name": "vnet9", "precreate": True, "tag": 5}]}],
        "merged", {},
        {"ops": [("add_port", "vs0", "vnet9", ("vnet9",)), ("set", "Port", "vnet9", "tag", 5)],
         "commands": ["ovs-vsctl -- add-port vs0 vnet9 -- set Port vnet9 "
                      "external_ids:cloudnet-vswitch=vnet -- set Port vnet9 tag=5"],
         "expect_missing": {"vnet9"}},
        id="precreated-vnet-may-report-no-such-device"),
    pytest.param(
        two_vswitches_vm_on_vs0, [{"name": "vs1", "vnets": [{"attached_mac": VM_MAC}]}],
        "merged", {},
        {"ops": [("move_port", "vnet7", "vs0", "vs1")],
         "commands": ["ovs-vsctl -- del-port vs0 vnet7 -- add-port vs1 vnet7"],
         "world": [(("bridges", "vs0", "ports"), ["eth0", "vs0"]),
                   (("bridges", "vs1", "ports"), ["vnet7", "vs1"])]},
        id="vnet-moves-between-our-vswitches"),
    pytest.param(
        ours, [{"name": "vs0", "vnets": [{"name": "eth0", "tag": 3}]}], "merged", {},
        {"error": (ParamError, "config[0].vnets[0]", "'eth0' is the uplink port of vs0")},
        id="uplink-is-not-a-vnet"),
    pytest.param(
        ours, [{"name": "vs0", "vnets": [{"attached_mac": VM_MAC, "state": "absent"}]}],
        "merged", {},
        {"error": (OwnershipError, "config[0].vnets[0]",
                   "port 'vnet7' was not created by cloudnet.vswitch")},
        id="absent-refuses-libvirts-port"),
    # ------------------------------------------------------------------ replaced / overridden
    pytest.param(
        tuned, [{"name": "vs0", "uplink": {"interfaces": ["eth0"]},
                 "vnets": [{"attached_mac": VM_MAC, "tag": 10}]}], "replaced", {},
        {"ops": [("set", "Bridge", "vs0", "fail_mode", None),
                 ("delkey", "Bridge", "vs0", "other_config", "mac-aging-time"),
                 ("set", "Port", "vnet7", "trunks", []),
                 ("set", "Interface", "vnet7", "mtu_request", None)],
         "commands": ["ovs-vsctl -- clear Bridge vs0 fail_mode -- remove Bridge vs0 "
                      "other_config mac-aging-time -- clear Port vnet7 trunks "
                      "-- clear Interface vnet7 mtu_request"],
         "warnings": ["config[0].vnets[0]: replaced clears trunks [20, 30] of vnet7, a "
                      "libvirt VM's port (libvirt sets the domain XML's trunks again at the "
                      "VM's next start); declare trunks to keep it"]},
        id="replaced-resets-unset-options"),
    pytest.param(
        with_precreated, [{"name": "vs0", "uplink": {"interfaces": ["eth0"]}, "vnets": []}],
        "replaced", {},
        {"ops": [("del_port", "vs0", "vnet9")],
         "commands": ["ovs-vsctl -- del-port vs0 vnet9"],
         "world": [(("bridges", "vs0", "ports"), ["eth0", "vnet7", "vs0"])]},
        id="replaced-drops-our-unlisted-vnet-keeps-libvirts"),
    pytest.param(
        lambda: planned(links(), [{"name": "vs1", "other_config": {"flood-vlans": "10"},
                                   "internal": {"mac": "02:00:00:00:00:01"}}]),
        [{"name": "vs1", "other_config": {"a": 1}}], "replaced", {"exclusive_maps": True},
        {"ops": [("setkey", "Bridge", "vs1", "other_config", "a", "1"),
                 ("delkey", "Bridge", "vs1", "other_config", "flood-vlans")],
         "commands": ["ovs-vsctl -- set Bridge vs1 other_config:a=1 "
                      "-- remove Bridge vs1 other_config flood-vlans"],
         "world": [(("bridges", "vs1", "external_ids"), {MARK: "vswitch"})]},
        id="exclusive-maps-drop-unnamed-keys-not-our-mark"),
    pytest.param(
        ours, [{"name": "vs0"}], "replaced", {"allow_disruptive": True},
        {"ops": [("del_port", "vs0", "eth0"),
                 ("delkey", "Bridge", "vs0", "other_config", "hwaddr")],
         "commands": ["ovs-vsctl -- del-port vs0 eth0 -- remove Bridge vs0 other_config hwaddr"],
         "warnings": ["config[0].uplink: disruptive change allowed: removing uplink eth0"]},
        id="replaced-without-uplink-drops-the-nics-mac"),
    pytest.param(
        two_of_ours_and_foreign, [{"name": "vs0"}], "overridden", {},
        {"ops": [("del_bridge", "vs1")], "commands": ["ovs-vsctl -- del-br vs1"],
         "world": [(("bridges",), {"br-ex", "br-nm", "vs0"})]},
        id="overridden-deletes-our-unlisted-keeps-foreign"),
    pytest.param(
        ours_with_admin_port, [{"name": "vs0"}], "overridden", {},
        {"error": (OwnershipError, "config (overridden: vs1 is not listed)",
                   "carries ports that cloudnet.vswitch did not create (eth5)")},
        id="overridden-refuses-a-foreign-port"),
    # ------------------------------------------------------------------ deleted
    pytest.param(
        lambda: planned(links(eth0={}), NIC_UPLINK), [{"name": "vs0"}], "deleted", {},
        {"ops": [("del_bridge", "vs0")], "commands": ["ovs-vsctl -- del-br vs0"],
         "world": [(("bridges",), set()), (("ports",), set()), (("interfaces",), set())]},
        id="deleted"),
    pytest.param(
        ours, [], "deleted", {},
        {"error": (OwnershipError, "config",
                   "bridge 'vs0' carries ports that cloudnet.vswitch did not create (vnet7)")},
        id="deleted-all-refuses-a-running-vm"),
    pytest.param(
        addressed, [{"name": "vs0"}], "deleted", {},
        {"error": (DisruptiveChange, "config[0]", "removes its addresses 203.0.113.1/24")},
        id="deleted-with-address-refused"),
    # ------------------------------------------------------------------ rendered
    pytest.param(
        vsworld.empty_world,
        [{"name": "vs1", "uplink": {"interfaces": ["eth1"]},
          "internal": {"addresses": ["203.0.113.1/24"]},
          "vnets": [{"name": "vnet2", "tag": 20}]}], "rendered", {"offline": True},
        {"ops": [("add_bridge", "vs1"), ("add_port", "vs1", "eth1", ("eth1",)),
                 ("add_port", "vs1", "vnet2", ("vnet2",)), ("set", "Port", "vnet2", "tag", 20)],
         "commands": ["ovs-vsctl -- add-br vs1 -- set Bridge vs1 datapath_type=system "
                      "external_ids:cloudnet-vswitch=vswitch -- set Port vs1 "
                      "external_ids:cloudnet-vswitch=internal -- add-port vs1 eth1 -- set Port "
                      "eth1 external_ids:cloudnet-vswitch=uplink -- add-port vs1 vnet2 -- set "
                      "Port vnet2 external_ids:cloudnet-vswitch=vnet -- set Port vnet2 tag=20",
                      "ip link set dev vs1 up",
                      "ip address add 203.0.113.1/24 dev vs1"],
         "expect_missing": set()},
        id="rendered-offline-on-empty-world"),
    # ------------------------------------------------------------------ disruptive
    pytest.param(
        ours, [{"name": "vs0", "datapath_type": "netdev"}], "merged", {},
        {"error": (DisruptiveChange, "config[0].datapath_type",
                   "changing datapath_type from system to netdev")},
        id="datapath-change-refused"),
    pytest.param(
        ours, [{"name": "vs0", "datapath_type": "netdev"}], "merged",
        {"allow_disruptive": True},
        {"ops": [("set", "Bridge", "vs0", "datapath_type", "netdev")],
         "commands": ["ovs-vsctl -- set Bridge vs0 datapath_type=netdev"],
         "warnings": ["config[0].datapath_type: disruptive change allowed: changing "
                      "datapath_type from system to netdev (OVS recreates the bridge)"]},
        id="datapath-change-allowed"),
    pytest.param(
        nic_with_address, NIC_UPLINK, "merged", {},
        {"error": (ParamError, "config[0].uplink.interfaces[0]",
                   "'eth0' holds addresses 198.51.100.50/24, 2001:db8::50/64 and carries "
                   "routes default, default; set migrate_addresses: true")},
        id="nic-with-address-refused"),
    pytest.param(
        nic_with_address, NIC_UPLINK, "merged", {"migrate_addresses": True},
        {"ops": [("add_bridge", "vs0"), ("add_port", "vs0", "eth0", ("eth0",)),
                 ("setkey", "Bridge", "vs0", "other_config", "hwaddr", "52:54:00:00:00:00")],
         "commands": [ADD_VS0 + " -- add-port vs0 eth0 -- set Port eth0 "
                      "external_ids:cloudnet-vswitch=uplink -- set Bridge vs0 " + HWADDR % 0,
                      "ip link set dev vs0 up",
                      "ip address add 198.51.100.50/24 dev vs0",
                      "ip address add 2001:db8::50/64 dev vs0",
                      "ip address del 198.51.100.50/24 dev eth0",
                      "ip address del 2001:db8::50/64 dev eth0",
                      "ip route replace default via 198.51.100.1 dev vs0",
                      "ip -6 route replace default via 2001:db8::1 dev vs0 metric 1024"],
         "warnings": ["migrating eth0's addresses and routes onto vs0"],
         "world": [(("links", "eth0", "addresses"), []),
                   (("links", "vs0", "addresses"), ["198.51.100.50/24", "2001:db8::50/64"]),
                   (("routes",), None)]},
        id="nic-with-address-migrated"),
    pytest.param(
        lambda: links(eth0={"master": "br-old"}), NIC_UPLINK, "merged", {},
        {"error": (ParamError, "config[0].uplink.interfaces[0]",
                   "'eth0' is enslaved to br-old; set migrate_addresses: true")},
        id="nic-in-a-linux-bridge-refused"),
    # ------------------------------------------------------------------ ownership
    pytest.param(
        nm_bridge, [{"name": "br0", "mac_aging_time": 30}], "merged", {},
        {"error": (OwnershipError, "config[0].name", "belongs to NetworkManager")},
        id="networkmanager-bridge-refused"),
    pytest.param(
        nm_bridge, [{"name": "br0", "mac_aging_time": 30}], "merged", {"adopt": True},
        {"ops": [("setkey", "Bridge", "br0", "external_ids", MARK, "vswitch"),
                 ("setkey", "Bridge", "br0", "other_config", "mac-aging-time", "30")],
         "commands": ["ovs-vsctl -- set Bridge br0 external_ids:cloudnet-vswitch=vswitch "
                      "-- set Bridge br0 other_config:mac-aging-time=30"]},
        id="networkmanager-bridge-adopted"),
    pytest.param(
        vm_on_nm_bridge, [{"name": "vs0", "vnets": [{"attached_mac": VM_MAC}]}], "merged", {},
        {"error": (OwnershipError, "config[0].vnets[0]",
                   "port 'vnet7' sits on br0, which belongs to NetworkManager")},
        id="vm-on-networkmanager-bridge-not-moved"),
    pytest.param(
        lab_bridge, [{"name": "br-lab", "vnets": [{"name": "tap0", "tag": 3},
                                                  {"attached_mac": VM_MAC}]}],
        "merged", {"adopt": True},
        {"ops": [("setkey", "Bridge", "br-lab", "external_ids", MARK, "vswitch"),
                 ("setkey", "Port", "tap0", "external_ids", MARK, "vnet"),
                 ("set", "Port", "tap0", "tag", 3)],
         "commands": ["ovs-vsctl -- set Bridge br-lab external_ids:cloudnet-vswitch=vswitch "
                      "-- set Port tap0 external_ids:cloudnet-vswitch=vnet "
                      "-- set Port tap0 tag=3"],
         "world": [(("ports", "vnet7", "external_ids"), {})]},
        id="adopt-marks-bridge-and-bare-port-not-libvirts"),
]


@pytest.mark.parametrize("make_world,config,state,options,expect", CASES)
def test_plan_case(make_world, config, state, options, expect):
    w = make_world()
    before = copy.deepcopy(w)
    cfg = validate.normalize_config(config, state)
    if "error" in expect:
        cls, path, fragment = expect["error"]
        with pytest.raises(ParamError) as err:
            plan.plan_task(w, cfg, state, **options)
        assert err.type is cls  # the exact class, not a subclass
        assert err.value.path == path
        assert fragment in err.value.msg, err.value.msg
        assert w == before
        return
    p = plan.plan_task(w, cfg, state, **options)
    assert w == before, "the planner changed its input world"
    assert [key(op) for op in p.ops] == expect["ops"]
    assert p.commands() == expect["commands"]
    assert [(v["label"], v["reason"], v.get("tag")) for v in p.pending] == \
        expect.get("pending", [])
    assert p.warnings == expect.get("warnings", [])
    assert p.changed == bool(expect["commands"])
    if "expect_missing" in expect:
        assert p.expect_missing == expect["expect_missing"]
    for path, value in expect.get("world", []):
        got = get(p.world, path)
        if path == ("routes",):   # every migrated route now leaves by the internal port
            assert [(r["dst"], r["dev"]) for r in got] == [
                ("default", "vs0"), ("198.51.100.0/24", "eth0"), ("default", "vs0")]
        elif isinstance(value, set):
            assert set(got) == value, path
        else:
            assert got == value, path
    if not p.changed:   # apply._finish then reports `after` as `before` without a gather
        assert vsworld.gather(p.world) == vsworld.gather(w)
    again = plan.plan_task(p.world, cfg, state, **options)
    assert [key(op) for op in again.ops] == [] and again.kernel == []
    assert vsworld.gather(again.world) == vsworld.gather(p.world)
