"""The OVSDB monitor's decoder on RFC 7047 JSON as ovsdb-server sends it for a `monitor`:
the initial rows ({"new": row}), then updates whose "old" holds the columns that changed and
"new" the whole row; a deleted row only "old". No event for the initial rows, one per changed
column, one per inserted or deleted row; the capture's own ports never make one."""

from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb import monitor


def U(n):
    return "5b0e8c6a-1f2d-4c3b-9a8e-%012x" % n


BR, P0, P1, I0, I1, CAP = U(1), U(2), U(3), U(4), U(5), U(6)


def port(name, tag=None, trunks=(), vlan_mode=None):
    return {"name": name, "tag": ["set", []] if tag is None else tag,
            "trunks": ["set", list(trunks)], "vlan_mode": ["set", []] if vlan_mode is None
            else vlan_mode}


def iface(name, ofport=1, link="up", ext=()):
    return {"name": name, "ofport": ofport, "link_state": link, "admin_state": "up",
            "external_ids": ["map", [list(kv) for kv in ext]], "error": ["set", []],
            "mtu": 1500}


INITIAL = {
    "Bridge": {BR: {"new": {"name": "vswitch0", "datapath_type": "netdev",
                            "ports": ["set", [["uuid", P0], ["uuid", P1]]]}}},
    "Port": {P0: {"new": port("vnet0")}, P1: {"new": port("vnet2", tag=20)}},
    "Interface": {I0: {"new": iface("vnet0", ext=[("attached-mac", "52:54:00:00:00:01")])},
                  I1: {"new": iface("vnet2", ofport=2)}},
}


def fresh():
    rows = {}
    assert monitor.decode(rows, INITIAL, 1.0, initial=True) == []
    return rows


def test_initial_rows_make_no_event_and_are_decoded():
    # the same rows arriving in an update (not the monitor's reply) are inserted rows
    assert [(e["table"], e["row"], e["change"]) for e in monitor.decode({}, INITIAL, 1.0)] == [
        ("Bridge", "vswitch0", "inserted"), ("Port", "vnet0", "inserted"),
        ("Port", "vnet2", "inserted"), ("Interface", "vnet0", "inserted"),
        ("Interface", "vnet2", "inserted")]
    rows = fresh()
    assert rows["Bridge"][BR] == {"name": "vswitch0", "datapath_type": "netdev",
                                  "ports": ["vnet0", "vnet2"]}
    assert rows["Port"][P1] == {"name": "vnet2", "tag": 20, "trunks": [], "vlan_mode": None}
    assert rows["Interface"][I0]["external_ids"] == {"attached-mac": "52:54:00:00:00:01"}
    assert rows["Interface"][I0]["error"] is None


def test_a_tag_changed_is_one_event_with_old_and_new():
    rows = fresh()
    update = {"Port": {P1: {"old": {"tag": 20}, "new": port("vnet2", tag=30)}}}
    assert monitor.decode(rows, update, 3.25) == [
        {"time": 3.25, "table": "Port", "row": "vnet2", "column": "tag", "old": 20, "new": 30,
         "change": "modified"}]
    assert rows["Port"][P1]["tag"] == 30
    # trunks and vlan_mode in one update: two events, sets as sorted lists
    update = {"Port": {P0: {"old": {"trunks": ["set", []], "vlan_mode": ["set", []]},
                            "new": port("vnet0", trunks=[20, 10], vlan_mode="trunk")}}}
    assert [(e["column"], e["old"], e["new"]) for e in monitor.decode(rows, update, 4.0)] == [
        ("trunks", [], [10, 20]), ("vlan_mode", None, "trunk")]


def test_link_down_and_external_ids():
    rows = fresh()
    update = {"Interface": {I0: {"old": {"link_state": "up", "external_ids": [
        "map", [["attached-mac", "52:54:00:00:00:01"]]]}, "new": iface(
            "vnet0", link="down", ext=[("attached-mac", "52:54:00:00:00:01"),
                                       ("iface-status", "inactive")])}}}
    events = monitor.decode(rows, update, 5.0)
    assert [(e["column"], e["old"], e["new"]) for e in events] == [
        ("link_state", "up", "down"),
        ("external_ids", {"attached-mac": "52:54:00:00:00:01"},
         {"attached-mac": "52:54:00:00:00:01", "iface-status": "inactive"})]


def test_port_inserted_and_deleted_with_the_bridges_ports_as_names():
    rows = fresh()
    P9, I9 = U(9), U(10)
    update = {"Bridge": {BR: {"old": {"ports": ["set", [["uuid", P0], ["uuid", P1]]]},
                              "new": {"name": "vswitch0", "datapath_type": "netdev",
                                      "ports": ["set", [["uuid", P0], ["uuid", P1],
                                                        ["uuid", P9]]]}}},
              "Port": {P9: {"new": port("vnet9", tag=10)}},
              "Interface": {I9: {"new": iface("vnet9", ofport=["set", []])}}}
    events = monitor.decode(rows, update, 6.0)
    assert events[0] == {"time": 6.0, "table": "Bridge", "row": "vswitch0", "column": "ports",
                         "old": ["vnet0", "vnet2"], "new": ["vnet0", "vnet2", "vnet9"],
                         "change": "modified"}
    assert (events[1]["table"], events[1]["row"], events[1]["change"], events[1]["column"]) == (
        "Port", "vnet9", "inserted", None)
    assert events[1]["new"]["tag"] == 10
    assert events[2]["row"] == "vnet9" and events[2]["new"]["ofport"] is None
    update = {"Port": {P9: {"old": port("vnet9", tag=10)}}}
    assert monitor.decode(rows, update, 7.0) == [
        {"time": 7.0, "table": "Port", "row": "vnet9", "column": None,
         "old": {"name": "vnet9", "tag": 10, "trunks": [], "vlan_mode": None}, "new": None,
         "change": "deleted"}]
    assert P9 not in rows["Port"]


def test_the_captures_own_port_makes_no_event():
    rows = fresh()
    ignore = {"cncap0"}
    update = {"Bridge": {BR: {"old": {"ports": ["set", [["uuid", P0], ["uuid", P1]]]},
                              "new": {"name": "vswitch0", "datapath_type": "netdev",
                                      "ports": ["set", [["uuid", P0], ["uuid", P1],
                                                        ["uuid", CAP]]]}}},
              "Port": {CAP: {"new": port("cncap0")}}}
    assert monitor.decode(rows, update, 8.0, ignore) == []
    update = {"Port": {CAP: {"old": port("cncap0")}}}
    assert monitor.decode(rows, update, 9.0, ignore) == []
