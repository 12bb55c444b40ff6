"""The one decoder of OVSDB rows, on hand-written RFC 7047 JSON: the shapes ovsdb-server sends
for a `select` (and `ovs-vsctl --format=json --data=json list` prints): a reference is
["uuid", "..."], a set of 0 or 2+ elements is ["set", [...]] and a set of exactly one is the
bare atom, a map is ["map", [[key, value], ...]]."""

import json

import pytest

from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb import rows
from ansible_collections.cloudnet.vswitch.plugins.module_utils.ovsdb.vsctl import (
    parse_vsctl_lists,
)


def U(n):
    """A uuid string, readable in failures: ...-0000000000b1 for bridge 1 and so on."""
    return "5b0e8c6a-1f2d-4c3b-9a8e-%012x" % n


def ref(n):
    return ["uuid", U(n)]


def refs(*ns):
    """A set of references as ovsdb-server writes it."""
    return ref(ns[0]) if len(ns) == 1 else ["set", [ref(n) for n in ns]]


EMPTY = ["set", []]
NOMAP = ["map", []]


def ovs_row(*bridges, **external_ids):
    return {"_uuid": ref(0x0), "bridges": refs(*bridges) if bridges else EMPTY,
            "next_cfg": 7, "cur_cfg": 7,
            "external_ids": ["map", sorted([k.replace("_", "-"), v]
                                           for k, v in external_ids.items())]}


def bridge_row(n, name, ports, **cols):
    return dict({"_uuid": ref(n), "name": name, "ports": refs(*ports), "datapath_type": "",
                 "fail_mode": EMPTY, "stp_enable": False, "other_config": NOMAP,
                 "external_ids": NOMAP, "mirrors": EMPTY}, **cols)


def port_row(n, name, ifaces, **cols):
    return dict({"_uuid": ref(n), "name": name, "interfaces": refs(*ifaces), "tag": EMPTY,
                 "trunks": EMPTY, "vlan_mode": EMPTY, "bond_mode": EMPTY, "lacp": EMPTY,
                 "other_config": NOMAP, "external_ids": NOMAP}, **cols)


def iface_row(n, name, **cols):
    return dict({"_uuid": ref(n), "name": name, "type": "", "external_ids": NOMAP,
                 "mtu_request": EMPTY, "options": NOMAP, "ofport": EMPTY, "error": EMPTY,
                 "mac_in_use": EMPTY, "link_state": EMPTY, "admin_state": EMPTY,
                 "mtu": EMPTY, "link_speed": EMPTY}, **cols)


def host():
    """vs0 (ours) with its internal port, a LACP bond of eth0+eth1, a VM's tap (tagged) and a
    trunk port; on a host whose Open_vSwitch row names its system-id."""
    return {
        "Open_vSwitch": [ovs_row(0xb1, system_id="kvm1.example.net")],
        "Bridge": [bridge_row(
            0xb1, "vs0", [0xa1, 0xa2, 0xa3, 0xa4], datapath_type="system",
            other_config=["map", [["hwaddr", "52:54:00:00:00:00"],
                                  ["mac-aging-time", "60"]]],
            external_ids=["map", [["cloudnet-vswitch", "vswitch"]]])],
        "Port": [
            port_row(0xa1, "vs0", [0xc1],
                     external_ids=["map", [["cloudnet-vswitch", "internal"]]]),
            # members listed eth1 first: the world sorts them
            port_row(0xa2, "bond0", [0xc3, 0xc2], bond_mode="balance-tcp", lacp="active",
                     other_config=["map", [["lacp-time", "fast"]]],
                     external_ids=["map", [["cloudnet-vswitch", "uplink"]]]),
            port_row(0xa3, "vnet7", [0xc4], tag=10),
            port_row(0xa4, "vnet8", [0xc5], trunks=["set", [30, 10, 20]], vlan_mode="trunk"),
        ],
        "Interface": [
            iface_row(0xc1, "vs0", type="internal", ofport=65534, link_state="up",
                      admin_state="up", mac_in_use="52:54:00:00:00:00", mtu=1500),
            iface_row(0xc2, "eth0", ofport=1, link_state="up", mtu=1500),
            iface_row(0xc3, "eth1", ofport=2, link_state="down", mtu=1500),
            iface_row(0xc4, "vnet7", ofport=3, mtu_request=9000,
                      external_ids=["map", [["attached-mac", "52:54:00:aa:00:07"],
                                            ["iface-status", "active"]]]),
            iface_row(0xc5, "vnet8", ofport=-1,
                      error="could not open network device vnet8 (No such device)"),
        ],
        "Mirror": [],
    }


def test_bridge_and_its_internal_port():
    w, uuids = rows.world_from_json(host())
    assert w["ovs"] == {"external_ids": {"system-id": "kvm1.example.net"}, "cur_cfg": 7,
                        "next_cfg": 7}
    assert w["bridges"] == {"vs0": {
        "datapath_type": "system", "fail_mode": None, "stp_enable": False,
        "other_config": {"hwaddr": "52:54:00:00:00:00", "mac-aging-time": "60"},
        "external_ids": {"cloudnet-vswitch": "vswitch"},
        "ports": ["bond0", "vnet7", "vnet8", "vs0"]}}
    assert w["ports"]["vs0"] == {
        "bridge": "vs0", "interfaces": ["vs0"], "tag": None, "trunks": [], "vlan_mode": None,
        "bond_mode": None, "lacp": None, "other_config": {},
        "external_ids": {"cloudnet-vswitch": "internal"}}
    assert w["interfaces"]["vs0"] == {
        "port": "vs0", "type": "internal", "external_ids": {}, "mtu_request": None,
        "ofport": 65534, "error": None, "mac_in_use": "52:54:00:00:00:00", "options": {},
        "link_state": "up", "admin_state": "up", "mtu": 1500, "link_speed": None}
    # Kernel facts are not OVSDB's: the decoder leaves them empty for host/kernel.py.
    assert w["links"] == {} and w["routes"] == []
    assert "mirrors" not in w


def test_bond_of_two_interfaces():
    w, _uuids = rows.world_from_json(host())
    bond = w["ports"]["bond0"]
    assert bond["interfaces"] == ["eth0", "eth1"]
    assert (bond["bond_mode"], bond["lacp"]) == ("balance-tcp", "active")
    assert bond["other_config"] == {"lacp-time": "fast"}
    ports = {n: w["interfaces"][n]["port"] for n in ("eth0", "eth1")}
    assert ports == {"eth0": "bond0", "eth1": "bond0"}
    assert w["interfaces"]["eth1"]["link_state"] == "down"
    # No Port row for a member: only the bond is a port.
    assert "eth0" not in w["ports"] and "eth1" not in w["ports"]


@pytest.mark.parametrize("table,column,raw,decoded", [
    ("Port", "tag", EMPTY, None),
    ("Port", "tag", 10, 10),
    ("Port", "tag", 0, 0),                       # VLAN 0 is a value, not "unset"
    ("Port", "vlan_mode", "native-untagged", "native-untagged"),
    ("Bridge", "fail_mode", EMPTY, None),
    ("Bridge", "fail_mode", "secure", "secure"),
    ("Interface", "ofport", EMPTY, None),         # vswitchd has not assigned one yet
    ("Interface", "ofport", -1, -1),              # it failed to open the device
    ("Interface", "error", EMPTY, None),
    ("Interface", "error", "could not add network device eth9 to ofproto (No such device)",
     "could not add network device eth9 to ofproto (No such device)"),
    ("Interface", "mtu_request", 9000, 9000),
    ("Interface", "mac_in_use", "fe:54:00:aa:00:07", "fe:54:00:aa:00:07"),
])
def test_optional_columns_empty_or_set(table, column, raw, decoded):
    tables = host()
    target = {"Bridge": tables["Bridge"][0], "Port": tables["Port"][2],
              "Interface": tables["Interface"][3]}[table]
    target[column] = raw
    w, _uuids = rows.world_from_json(tables)
    row = {"Bridge": w["bridges"]["vs0"], "Port": w["ports"]["vnet7"],
           "Interface": w["interfaces"]["vnet7"]}[table]
    assert row[column] == decoded


@pytest.mark.parametrize("raw,decoded", [
    (EMPTY, []),
    (5, [5]),                                    # exactly one: the bare atom
    (["set", [30, 10, 20]], [10, 20, 30]),
    (["set", [4094, 1]], [1, 4094]),
])
def test_trunks_are_a_sorted_set(raw, decoded):
    tables = host()
    tables["Port"][3]["trunks"] = raw
    w, _uuids = rows.world_from_json(tables)
    assert w["ports"]["vnet8"]["trunks"] == decoded


def test_maps_and_the_status_of_a_vm_port():
    w, _uuids = rows.world_from_json(host())
    vnet7 = w["interfaces"]["vnet7"]
    assert vnet7["external_ids"] == {"attached-mac": "52:54:00:aa:00:07",
                                     "iface-status": "active"}
    assert vnet7["mtu_request"] == 9000 and vnet7["ofport"] == 3 and vnet7["error"] is None
    assert w["ports"]["vnet7"]["tag"] == 10
    vnet8 = w["interfaces"]["vnet8"]
    assert vnet8["error"] == "could not open network device vnet8 (No such device)"
    assert (vnet8["ofport"], vnet8["external_ids"], vnet8["options"]) == (-1, {}, {})
    assert w["ports"]["vnet8"]["vlan_mode"] == "trunk"


def test_stp_enable_and_a_reference_valued_map():
    tables = host()
    tables["Bridge"][0]["stp_enable"] = True
    # A map whose values are references decodes them to their uuid strings.
    tables["Interface"][0]["options"] = ["map", [["peer", ref(0xee)], ["remote_ip", "::1"]]]
    w, _uuids = rows.world_from_json(tables)
    assert w["bridges"]["vs0"]["stp_enable"] is True
    assert w["interfaces"]["vs0"]["options"] == {"peer": U(0xee), "remote_ip": "::1"}


def test_mirror_with_select_and_output_ports():
    tables = host()
    tables["Bridge"][0]["mirrors"] = refs(0xd1, 0xd2)
    tables["Bridge"][0]["ports"] = refs(0xa1, 0xa2, 0xa3, 0xa4, 0xa5)
    tables["Port"].append(port_row(0xa5, "span0", [0xc6]))
    tables["Interface"].append(iface_row(0xc6, "span0", type="internal"))
    tables["Mirror"] = [
        {"_uuid": ref(0xd1), "name": "cap-vnet",
         "select_src_port": refs(0xa4, 0xa3), "select_dst_port": refs(0xa3),
         "output_port": ref(0xa5), "external_ids": ["map", [["cloudnet-capture", "run-1"]]]},
        {"_uuid": ref(0xd2), "name": "no-output",
         "select_src_port": EMPTY, "select_dst_port": EMPTY, "output_port": EMPTY,
         "external_ids": NOMAP},
        # Not referenced by any bridge: a dangling row is no mirror of this host.
        {"_uuid": ref(0xd3), "name": "orphan", "select_src_port": EMPTY,
         "select_dst_port": EMPTY, "output_port": ref(0xa5), "external_ids": NOMAP},
    ]
    w, _uuids = rows.world_from_json(tables)
    assert w["mirrors"] == {
        "cap-vnet": {"bridge": "vs0", "external_ids": {"cloudnet-capture": "run-1"},
                     "select_src_port": ["vnet7", "vnet8"], "select_dst_port": ["vnet7"],
                     "output_port": "span0"},
        "no-output": {"bridge": "vs0", "external_ids": {}, "select_src_port": [],
                      "select_dst_port": [], "output_port": None}}


def test_rows_no_bridge_references_are_ignored():
    tables = host()
    tables["Port"].append(port_row(0xaf, "stray", [0xcf]))
    tables["Interface"].append(iface_row(0xcf, "stray", ofport=5))
    # ...and a bridge naming a port row that is not there (yet) does not fail the read.
    tables["Bridge"][0]["ports"] = refs(0xa1, 0xa2, 0xa3, 0xa4, 0xa9)
    w, uuids = rows.world_from_json(tables)
    assert "stray" not in w["ports"] and "stray" not in w["interfaces"]
    assert ("Port", "stray") not in uuids and ("Interface", "stray") not in uuids
    assert w["bridges"]["vs0"]["ports"] == ["bond0", "vnet7", "vnet8", "vs0"]


def test_uuids_by_table_and_name():
    _w, uuids = rows.world_from_json(host())
    assert uuids == {
        ("Bridge", "vs0"): U(0xb1),
        ("Port", "vs0"): U(0xa1), ("Port", "bond0"): U(0xa2), ("Port", "vnet7"): U(0xa3),
        ("Port", "vnet8"): U(0xa4),
        ("Interface", "vs0"): U(0xc1), ("Interface", "eth0"): U(0xc2),
        ("Interface", "eth1"): U(0xc3), ("Interface", "vnet7"): U(0xc4),
        ("Interface", "vnet8"): U(0xc5)}


def test_empty_database():
    """A fresh ovsdb-server: the root row with no bridges, or no root row at all."""
    for root in ([ovs_row()], []):
        w, uuids = rows.world_from_json({"Open_vSwitch": root, "Bridge": [], "Port": [],
                                         "Interface": [], "Mirror": []})
        cfg = {k: w["ovs"].pop(k) for k in ("cur_cfg", "next_cfg") if k in w["ovs"]}
        assert cfg == ({"cur_cfg": 7, "next_cfg": 7} if root else {})
        assert w == {"ovs": {"external_ids": {}}, "bridges": {}, "ports": {},
                     "interfaces": {}, "links": {}, "routes": []}
        assert uuids == {}


def test_interfaces_of():
    w, _uuids = rows.world_from_json(host())
    status = rows.interfaces_of(w, {"vnet8", "eth0", "gone0"})
    assert sorted(status) == ["eth0", "vnet8"]          # a name not in OVSDB is left out
    assert status["vnet8"]["error"] == "could not open network device vnet8 (No such device)"
    assert status["vnet8"]["ofport"] == -1
    assert status["eth0"]["ofport"] == 1 and status["eth0"]["link_state"] == "up"
    assert all(s["port"] is None for s in status.values())
    # A copy: the world's rows keep their port.
    assert w["interfaces"]["eth0"]["port"] == "bond0"
    assert rows.interfaces_of(w, []) == {}


# ----------------------------------------------------------------------------- ovs-vsctl lists

def vsctl_text(tables, blank_lines=False):
    """What `ovs-vsctl --format=json --data=json --columns=... list T -- list U ...` prints:
    one JSON object per table, in the order of rows.SELECT, rows in the order of the columns."""
    lines = []
    for table, columns in rows.SELECT:
        data = [[row[c] for c in columns] for row in tables[table]]
        lines.append(json.dumps({"data": data, "headings": columns}))
        if blank_lines:
            lines.append("")
    return "\n".join(lines) + "\n"


def test_select_order_and_columns():
    assert [t for t, _c in rows.SELECT] == ["Open_vSwitch", "Bridge", "Port", "Interface",
                                            "Mirror"]
    assert all(cols[0] == "_uuid" for _t, cols in rows.SELECT)


def test_parse_vsctl_lists_gives_the_select_shape():
    tables = host()
    parsed = parse_vsctl_lists(vsctl_text(tables))
    assert list(parsed) == [t for t, _c in rows.SELECT]
    assert parsed["Port"][1] == tables["Port"][1]
    assert parsed["Interface"] == tables["Interface"]
    assert rows.world_from_json(parsed) == rows.world_from_json(tables)


def test_parse_vsctl_lists_skips_blank_lines_and_zips_headings():
    tables = host()
    parsed = parse_vsctl_lists(vsctl_text(tables, blank_lines=True))
    assert parsed["Bridge"] == tables["Bridge"]
    # headings name the columns, whatever their order on the line
    line = json.dumps({"headings": ["name", "_uuid"], "data": [["vs9", ref(9)]]})
    assert parse_vsctl_lists("\n" + json.dumps({"headings": ["_uuid"], "data": []}) + "\n"
                             + line + "\n") == {"Open_vSwitch": [],
                                                "Bridge": [{"name": "vs9", "_uuid": ref(9)}]}


def test_parse_vsctl_lists_without_mirror_table_still_decodes():
    """An ovs-vsctl that printed the first four lists only (no Mirror): no mirrors, no error."""
    tables = host()
    text = "\n".join(vsctl_text(tables).splitlines()[:4])
    parsed = parse_vsctl_lists(text)
    assert "Mirror" not in parsed
    w, _uuids = rows.world_from_json(parsed)
    assert sorted(w["ports"]) == ["bond0", "vnet7", "vnet8", "vs0"]
