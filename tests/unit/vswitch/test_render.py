"""A plan as ovs-vsctl: the `rendered` state planned offline (no host) in ovs-vsctl syntax, and
the clauses of each op kind (vswitch/vsctl.py; tests/unit/vswitch/test_vsctl.py has the rest)."""

from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import plan as planner
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import validate, vsctl
from ansible_collections.cloudnet.vswitch.plugins.module_utils.vswitch import world as vsworld


def test_rendered_plans_offline_with_vsctl_syntax():
    cfg = validate.normalize_config([{"name": "vs1", "uplink": {"interfaces": ["eth1"]},
                                      "other_config": {"flood-vlans": "10,20"},
                                      "vnets": [{"name": "vnet2", "tag": 20}]}], "rendered")
    p = planner.plan_task(vsworld.empty_world(), cfg, "rendered", offline=True)
    line = p.commands()[0]
    assert line.startswith("ovs-vsctl -- add-br vs1 -- set Bridge vs1 datapath_type=system")
    assert "add-port vs1 eth1" in line and "add-port vs1 vnet2" in line
    assert "'other_config:flood-vlans=\"10,20\"'" in line
    assert "set Port vnet2 tag=20" in line


def test_vsctl_clauses_for_every_op():
    ops = [planner.Op("del_bridge", name="b"),
           planner.Op("set", table="Port", name="p", column="tag", value=None),
           planner.Op("set", table="Port", name="p", column="trunks", value=[1, 2]),
           planner.Op("delkey", table="Bridge", name="b", column="other_config", key="k"),
           planner.Op("move_port", name="p", from_bridge="a", bridge="b"),
           planner.Op("add_iface", port="bond0", name="eth4"),
           planner.Op("del_iface", port="bond0", name="eth3"),
           planner.Op("del_port", bridge="b", name="p")]
    assert [vsctl.clauses(op) for op in ops] == [
        [["del-br", "b"]], [["clear", "Port", "p", "tag"]], [["set", "Port", "p", "trunks=[1,2]"]],
        [["remove", "Bridge", "b", "other_config", "k"]],
        [["del-port", "a", "p"], ["add-port", "b", "p"]],
        [["add", "Port", "bond0", "interfaces", "@eth4"],
         ["--id=@eth4", "create", "Interface", "name=eth4"]],
        [["remove", "Port", "bond0", "interfaces", "[Interface]eth3"]],
        [["del-port", "b", "p"]]]
