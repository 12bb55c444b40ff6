"""A plan's ops as ovs-vsctl: values in its column syntax, the clauses of every op kind the
planner emits, the `commands` a task returns (shell-quoted, so a user can paste them) and the
transaction the ovs-vsctl backend runs (an argv, replay-safe, exact by uuid)."""

import shlex

import pytest

from ansible_collections.cloudnet.vswitch.plugins.module_utils.errors import OvsdbError
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import vsctl
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch.plan import Op

MARK = {"cloudnet-vswitch": "uplink"}


# ----------------------------------------------------------------------------- values

@pytest.mark.parametrize("value,text", [
    (True, "true"),
    (False, "false"),                   # bool before int: False is not "0"
    (0, "0"),
    (4095, "4095"),
    ([], "[]"),
    ([10, 20], "[10,20]"),
    ((3,), "[3]"),
    ({"b": "2", "a": "x y"}, '{"a"="x y","b"=2}'),
    ({}, "{}"),
    ("system", "system"),
    ("balance-tcp", "balance-tcp"),
    ("vlan.10_a", "vlan.10_a"),
    ("52:54:00:00:00:01", '"52:54:00:00:00:01"'),
    ("10,20", '"10,20"'),
    ("a b", '"a b"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("tcp:[::1]:6640", '"tcp:[::1]:6640"'),
])
def test_render_value(value, text):
    assert vsctl.render_value(value) == text


def test_render_value_of_an_empty_string_is_quoted():
    assert vsctl.render_value("") == '""'


def test_render_sets_merges_maps_key_by_key():
    assert vsctl.render_sets({"tag": 5, "external_ids": {"b": "2", "a": "1"},
                              "other_config": {}, "bond_mode": "balance-slb"}) == [
        "bond_mode=balance-slb", "external_ids:a=1", "external_ids:b=2", "tag=5"]
    assert vsctl.render_sets({"other_config": {"hwaddr": "02:00:00:00:00:01"}}) == [
        'other_config:hwaddr="02:00:00:00:00:01"']
    assert vsctl.render_sets({}) == []


# ----------------------------------------------------------------------------- clauses

BRIDGE = Op("add_bridge", name="vs0",
            columns={"datapath_type": "system", "external_ids": {"cloudnet-vswitch": "vswitch"}},
            port_columns={"external_ids": {"cloudnet-vswitch": "internal"}})
NIC = Op("add_port", bridge="vs0", name="eth0", columns={"external_ids": MARK},
         interfaces=[{"name": "eth0", "columns": {}}])
BOND = Op("add_port", bridge="vs0", name="bond0",
          columns={"bond_mode": "balance-tcp", "lacp": "active", "external_ids": MARK},
          interfaces=[{"name": "eth0", "columns": {}}, {"name": "eth1", "columns": {}}])
VNET = Op("add_port", bridge="vs0", name="vnet9",
          columns={"external_ids": {"cloudnet-vswitch": "vnet"}},
          interfaces=[{"name": "vnet9", "columns": {"external_ids": {"iface-id": "a-b"}}}])
UNLIKE = Op("add_port", bridge="vs0", name="p0", columns={"tag": 5},
            interfaces=[{"name": "tap0", "columns": {"type": "internal"}}])


@pytest.mark.parametrize("op,expected", [
    (BRIDGE, [["add-br", "vs0"],
              ["set", "Bridge", "vs0", "datapath_type=system",
               "external_ids:cloudnet-vswitch=vswitch"],
              ["set", "Port", "vs0", "external_ids:cloudnet-vswitch=internal"]]),
    (Op("add_bridge", name="vs0", columns={}, port_columns={}), [["add-br", "vs0"]]),
    (Op("del_bridge", name="vs0"), [["del-br", "vs0"]]),
    (Op("set", table="Bridge", name="vs0", column="stp_enable", value=True),
     [["set", "Bridge", "vs0", "stp_enable=true"]]),
    (Op("set", table="Port", name="vnet7", column="tag", value=0),
     [["set", "Port", "vnet7", "tag=0"]]),          # VLAN 0 is set, not cleared
    (Op("set", table="Port", name="vnet7", column="trunks", value=[10, 20]),
     [["set", "Port", "vnet7", "trunks=[10,20]"]]),
    (Op("set", table="Port", name="vnet7", column="tag", value=None),
     [["clear", "Port", "vnet7", "tag"]]),
    (Op("set", table="Port", name="vnet7", column="trunks", value=[]),
     [["clear", "Port", "vnet7", "trunks"]]),
    (Op("set", table="Interface", name="vnet7", column="options", value={}),
     [["clear", "Interface", "vnet7", "options"]]),
    (Op("setkey", table="Bridge", name="vs0", column="other_config", key="mac-aging-time",
        value="60"),
     [["set", "Bridge", "vs0", "other_config:mac-aging-time=60"]]),
    (Op("setkey", table="Bridge", name="vs0", column="other_config", key="hwaddr",
        value="52:54:00:00:00:00"),
     [["set", "Bridge", "vs0", 'other_config:hwaddr="52:54:00:00:00:00"']]),
    (Op("delkey", table="Interface", name="vnet7", column="external_ids", key="owner"),
     [["remove", "Interface", "vnet7", "external_ids", "owner"]]),
    (NIC, [["add-port", "vs0", "eth0"],
           ["set", "Port", "eth0", "external_ids:cloudnet-vswitch=uplink"]]),
    (BOND, [["add-bond", "vs0", "bond0", "eth0", "eth1"],
            ["set", "Port", "bond0", "bond_mode=balance-tcp",
             "external_ids:cloudnet-vswitch=uplink", "lacp=active"]]),
    (VNET, [["add-port", "vs0", "vnet9"],
            ["set", "Port", "vnet9", "external_ids:cloudnet-vswitch=vnet"],
            ["set", "Interface", "vnet9", "external_ids:iface-id=a-b"]]),
    (UNLIKE, [["--id=@tap0", "create", "Interface", "name=tap0"],
              ["--id=@p0", "create", "Port", "name=p0", "interfaces=@tap0"],
              ["add", "Bridge", "vs0", "ports", "@p0"],
              ["set", "Port", "p0", "tag=5"],
              ["set", "Interface", "tap0", "type=internal"]]),
    (Op("del_port", bridge="vs0", name="vnet7"), [["del-port", "vs0", "vnet7"]]),
    (Op("move_port", name="vnet7", from_bridge="vs0", bridge="vs1"),
     [["del-port", "vs0", "vnet7"], ["add-port", "vs1", "vnet7"]]),
    (Op("add_iface", port="bond0", name="eth2"),
     [["add", "Port", "bond0", "interfaces", "@eth2"],
      ["--id=@eth2", "create", "Interface", "name=eth2"]]),
    (Op("del_iface", port="bond0", name="eth1"),
     [["remove", "Port", "bond0", "interfaces", "[Interface]eth1"]]),
], ids=["add_bridge", "add_bridge-bare", "del_bridge", "set-bool", "set-vlan0", "set-list",
        "set-None-clears", "set-empty-list-clears", "set-empty-map-clears", "setkey",
        "setkey-quoted", "delkey", "add_port-nic", "add_port-bond", "add_port-iface-columns",
        "add_port-iface-named-unlike-port", "del_port", "move_port", "add_iface", "del_iface"])
def test_clauses(op, expected):
    assert vsctl.clauses(op) == expected


@pytest.mark.parametrize("kind", ["add_mirror", "ip", "frobnicate"])
def test_clauses_of_an_unknown_kind(kind):
    with pytest.raises(ValueError, match="unknown op '%s'" % kind):
        vsctl.clauses(Op(kind, name="x"))


# ----------------------------------------------------------------------------- commands

def test_commands_one_transaction_then_ip_lines():
    ops = [BRIDGE, NIC,
           Op("setkey", table="Bridge", name="vs0", column="other_config", key="hwaddr",
              value="52:54:00:00:00:00")]
    kernel = [["ip", "link", "set", "dev", "vs0", "up"],
              ["ip", "-6", "route", "replace", "default", "via", "fe80::1", "dev", "vs0"]]
    assert vsctl.commands(ops, kernel) == [
        "ovs-vsctl -- add-br vs0 -- set Bridge vs0 datapath_type=system "
        "external_ids:cloudnet-vswitch=vswitch -- set Port vs0 "
        "external_ids:cloudnet-vswitch=internal -- add-port vs0 eth0 -- set Port eth0 "
        "external_ids:cloudnet-vswitch=uplink -- set Bridge vs0 "
        "'other_config:hwaddr=\"52:54:00:00:00:00\"'",
        "ip link set dev vs0 up",
        "ip -6 route replace default via fe80::1 dev vs0"]


def test_commands_quote_what_a_shell_would_split():
    ops = [Op("setkey", table="Bridge", name="vs0", column="external_ids", key="note",
              value="it's $HOME; rm -rf *"),
           Op("set", table="Port", name="vnet7", column="trunks", value=[1, 2]),
           Op("del_iface", port="bond0", name="eth1")]
    [line] = vsctl.commands(ops)
    assert line == ("ovs-vsctl -- set Bridge vs0 "
                    "'external_ids:note=\"it'\"'\"'s $HOME; rm -rf *\"' "
                    "-- set Port vnet7 'trunks=[1,2]' "
                    "-- remove Port bond0 interfaces '[Interface]eth1'")
    # What the shell hands ovs-vsctl is exactly the clauses.
    assert shlex.split(line) == ["ovs-vsctl"] + [
        a for op in ops for c in vsctl.clauses(op) for a in ["--"] + c]


def test_commands_without_ops_or_kernel():
    assert vsctl.commands([]) == []
    assert vsctl.commands([], [["ip", "address", "add", "203.0.113.1/24", "dev", "vs0"]]) == [
        "ip address add 203.0.113.1/24 dev vs0"]


# ----------------------------------------------------------------------------- transaction

UUIDS = {("Port", "vnet7"): "0f1e2d3c-0000-4000-8000-000000000007",
         ("Interface", "eth1"): "0f1e2d3c-0000-4000-8000-0000000000e1"}


def test_transaction_is_replay_safe_and_exact_by_uuid():
    ops = [BRIDGE, NIC, VNET,
           Op("move_port", name="vnet7", from_bridge="vs1", bridge="vs0"),
           Op("del_iface", port="bond0", name="eth1"),
           Op("del_port", bridge="vs0", name="vnet3"),
           Op("del_bridge", name="vs9"),
           Op("set", table="Port", name="vnet7", column="tag", value=None)]
    assert vsctl.transaction(ops, UUIDS) == [
        "--", "--may-exist", "add-br", "vs0",
        "--", "set", "Bridge", "vs0", "datapath_type=system",
        "external_ids:cloudnet-vswitch=vswitch",
        "--", "set", "Port", "vs0", "external_ids:cloudnet-vswitch=internal",
        "--", "--may-exist", "add-port", "vs0", "eth0",
        "--", "set", "Port", "eth0", "external_ids:cloudnet-vswitch=uplink",
        "--", "--may-exist", "add-port", "vs0", "vnet9",
        "--", "set", "Port", "vnet9", "external_ids:cloudnet-vswitch=vnet",
        "--", "set", "Interface", "vnet9", "external_ids:iface-id=a-b",
        # the port row moves (keeping its tag and libvirt's keys), not a new one
        "--", "remove", "Bridge", "vs1", "ports", UUIDS[("Port", "vnet7")],
        "--", "add", "Bridge", "vs0", "ports", UUIDS[("Port", "vnet7")],
        "--", "remove", "Port", "bond0", "interfaces", UUIDS[("Interface", "eth1")],
        "--", "--if-exists", "del-port", "vs0", "vnet3",
        "--", "--if-exists", "del-br", "vs9",
        "--", "clear", "Port", "vnet7", "tag"]


def test_transaction_is_an_argv_not_a_shell_line():
    ops = [Op("setkey", table="Bridge", name="vs0", column="external_ids", key="note",
              value="a b")]
    assert vsctl.transaction(ops, {}) == ["--", "set", "Bridge", "vs0",
                                          'external_ids:note="a b"']
    assert vsctl.transaction([], {}) == []


def test_transaction_bond_is_replay_safe_too():
    assert vsctl.transaction([BOND], {})[:3] == ["--", "--may-exist", "add-bond"]


@pytest.mark.parametrize("kind", ["add_mirror", "del_mirror"])
def test_transaction_refuses_mirrors(kind):
    with pytest.raises(OvsdbError, match="python ovs bindings"):
        vsctl.transaction([NIC, Op(kind, name="cap0", bridge="vs0")], {})
