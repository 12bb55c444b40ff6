"""The trace module's pure logic (troubleshoot/oftrace.py) on recorded output: dpif/show, the
br_flow built from a frame's headers, ofproto/trace parsed, datapath actions walked into ports
and VLANs, and the verdicts. Fixtures: tests/unit/fixtures/trace/ (OVS 3.1, a Sandbox; the
setup is in tests/unit/fixtures/README.md) and the lab recordings of OVS 3.1/3.5 (dpif/show,
a flood into a balance-tcp bond)."""

import os

import pytest

import paths
from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import info, oftrace

# The Sandbox of the trace/ fixtures as OVSDB showed it.
ODP = {4: "eth1", 1: "vnet0", 5: "vnet1", 2: "vnet2", 3: "vswitch1"}
ROLES = {"eth1": "uplink", "vswitch1": "internal"}


def world(**iface_cols):
    ports = {"eth1": {}, "vnet0": {"tag": 20}, "vnet1": {"tag": 10}, "vnet2": {"tag": 20},
             "vswitch1": {}}
    w = {"bridges": {"vswitch1": {"ports": sorted(ports)}}, "ports": {}, "interfaces": {}}
    for name, cols in ports.items():
        w["ports"][name] = dict({"tag": None, "vlan_mode": None, "trunks": []}, interfaces=[name],
                                **cols)
        w["interfaces"][name] = dict({"link_state": "up", "mtu": 1500},
                                     **iface_cols.get(name, {}))
    return w


def role_of(name):
    return ROLES.get(name, "vnet")


def fixture(name):
    with open(os.path.join(paths.FIXTURES, name)) as f:
        return f.read()


def judge(name, in_port, frame, w=None, size=None):
    parsed = oftrace.parse(fixture("trace/ovs-3.1-%s.txt" % name))
    return oftrace.verdict(w or world(), "vswitch1", in_port, frame, parsed, ODP, role_of, size)


@pytest.mark.parametrize("release", ["3.1", "3.5"])
def test_dpif_show_maps_datapath_ports_to_names(release):
    got = info.parse_dpif_show(fixture("dpif-show-ovs-%s.txt" % release))
    assert set(got) >= {"vswitch0", "tor"}
    assert sorted(got["vswitch0"].values()) == ["eth2", "eth3", "vnet0", "vnet1", "vswitch0"]


def test_dpif_show_of_the_sandbox():
    text = ("netdev@ovs-netdev: hit:0 missed:8\n  vswitch1:\n    eth1 3/4: (system)\n"
            "    vnet0 1/1: (system)\n    vswitch1 65534/3: (tap)\n")
    assert info.parse_dpif_show(text) == {"vswitch1": {4: "eth1", 1: "vnet0", 3: "vswitch1"}}


@pytest.mark.parametrize("frame, flow", [
    ({"protocol": "icmp", "src_mac": "52:54:00:00:01:01", "dst_mac": "52:54:00:00:02:03",
      "src_ip": "203.0.113.101", "dst_ip": "203.0.113.203", "icmp_type": 8},
     "icmp,in_port=7,dl_src=52:54:00:00:01:01,dl_dst=52:54:00:00:02:03,nw_src=203.0.113.101,"
     "nw_dst=203.0.113.203,icmp_type=8"),
    ({"protocol": "tcp", "vlan": 20, "dst_mac": "52:54:00:00:02:03", "src_ip": "2001:db8::1",
      "dst_ip": "2001:db8::2", "dst_port": 443},
     "tcp6,in_port=7,dl_vlan=20,dl_dst=52:54:00:00:02:03,ipv6_src=2001:db8::1,"
     "ipv6_dst=2001:db8::2,tp_dst=443"),
    ({"protocol": "icmp", "src_ip": "2001:db8::1", "dst_mac": "33:33:00:00:00:01",
      "icmp_type": 128},
     "icmp6,in_port=7,dl_dst=33:33:00:00:00:01,ipv6_src=2001:db8::1,icmpv6_type=128"),
    ({"protocol": "arp", "dst_mac": "ff:ff:ff:ff:ff:ff", "src_ip": "203.0.113.1",
      "dst_ip": "203.0.113.2", "arp_op": 1, "vlan": 0},
     "arp,in_port=7,dl_dst=ff:ff:ff:ff:ff:ff,arp_spa=203.0.113.1,arp_tpa=203.0.113.2,arp_op=1"),
    ({"dst_mac": "52:54:00:00:02:03"}, "in_port=7,dl_dst=52:54:00:00:02:03"),
])
def test_br_flow_from_a_frames_headers(frame, flow):
    assert oftrace.br_flow(frame, 7) == flow


def test_parse_keeps_rules_normals_words_and_the_drop_lines():
    got = oftrace.parse(fixture("trace/ovs-3.1-tagged-on-access.txt"))
    assert got["rules"] == [{"table": 0, "match": "", "priority": 0, "actions": ["NORMAL"]}]
    assert got["drops"] == ["dropping VLAN 5 tagged packet received on port vnet0 configured "
                            "as VLAN 20 access port", "disallowed VLAN VID for this input port, "
                            "dropping"]
    assert got["actions"] == "drop" and got["flow"].startswith("icmp,in_port=1,dl_vlan=5,")
    got = oftrace.parse(fixture("trace/ovs-3.1-flow-drop.txt"))
    assert got["rules"] == [{"table": 0, "match": "ip,nw_dst=203.0.113.103", "priority": 100,
                             "actions": ["drop"]}]


@pytest.mark.parametrize("actions, vlan, outs", [
    ("push_vlan(vid=20,pcp=0),4", None, [("eth1", 20)]),
    ("pop_vlan,2", 20, [("vnet2", None)]),
    ("2,push_vlan(vid=20,pcp=0),4,3", None, [("vnet2", None), ("eth1", 20), ("vswitch1", 20)]),
    ("drop", None, []),
    ("hash(l4(0)),recirc(0x2),9", None, [("recirc", None), ("datapath port 9", None)]),
    ("set(tunnel(dst=1.2.3.4)),4", 10, [("eth1", 10)]),
])
def test_walk_actions_follows_the_vlan(actions, vlan, outs):
    got = oftrace.walk_actions(actions, vlan, ODP)
    assert [(o["port"], o["vlan"]) for o in got] == outs


def test_verdict_output_flood_and_the_vlan_no_port_carries():
    frame = {"src_mac": "52:54:00:00:01:01", "dst_mac": "52:54:00:00:02:03"}
    out = judge("unicast-out-uplink", "vnet0", frame)
    assert (out["verdict"], out["vlan"], out["reason"]) == ("output", 20,
                                                            "forwarding to learned port")
    flood = judge("flood", "vnet0", dict(frame, dst_mac="52:54:00:00:09:09"))
    assert flood["verdict"] == "flood" and len(flood["outputs"]) == 3
    assert flood["sentence"].startswith(
        "vswitch1: frame on VLAN 20 from vnet0 (vnet), flooded (the destination MAC "
        "52:54:00:00:09:09 is not in the table) to vnet2 (vnet), eth1 (uplink, tagged 20)")
    none = judge("vlan-none", "eth1", {"vlan": 30, "dst_mac": "52:54:00:00:01:03"})
    assert none["verdict"] == "drop" and none["vlan"] == 30
    assert none["reason"].startswith("no port carries VLAN 30 but the internal port")


def test_verdict_drop_by_flow_and_by_normal():
    frame = {"vlan": 20, "dst_mac": "52:54:00:00:01:03"}
    got = judge("flow-drop", "eth1", frame)
    assert got["verdict"] == "drop"
    assert got["rule"]["text"] == "ip,nw_dst=203.0.113.103,priority=100"
    assert got["sentence"] == ("vswitch1: frame on VLAN 20 from eth1 (uplink), dropped by flow "
                               "`ip,nw_dst=203.0.113.103,priority=100` (table 0)")
    got = judge("tagged-on-access", "vnet0", {"vlan": 5, "dst_mac": "52:54:00:00:02:03"})
    assert got["verdict"] == "drop" and got["reason"].startswith("dropping VLAN 5 tagged packet")


def test_verdict_lost_where_the_output_cannot_carry_it():
    frame = {"dst_mac": "52:54:00:00:02:03"}
    small = world(eth1={"mtu": 1400})
    assert judge("unicast-out-uplink", "vnet0", frame, small, size=1400)["verdict"] == "output"
    got = judge("unicast-out-uplink", "vnet0", frame, small, size=1500)
    assert got["verdict"] == "lost"
    assert got["outputs"][0]["problem"] == "the packet (1500 bytes) is larger than its MTU 1400"
    got = judge("unicast-out-uplink", "vnet0", frame, world(eth1={"link_state": "down"}))
    assert got["verdict"] == "lost" and got["sentence"].endswith(
        "output to eth1 (uplink, tagged 20): its link is down → lost")


@pytest.mark.parametrize("release", ["3.1", "3.5"])
def test_a_flood_into_a_balance_tcp_bond_names_the_bond(release):
    parsed = oftrace.parse(fixture("fdb/ovs-%s-trace-flood.txt" % release))
    odp = info.parse_dpif_show(fixture("dpif-show-ovs-%s.txt" % release))["vswitch0"]
    w = {"bridges": {"vswitch0": {"ports": ["bond0", "vnet0", "vnet1", "vswitch0"]}},
         "ports": {"bond0": {"interfaces": ["eth2", "eth3"]}, "vnet0": {"interfaces": ["vnet0"]},
                   "vnet1": {"interfaces": ["vnet1"], "tag": 10},
                   "vswitch0": {"interfaces": ["vswitch0"]}},
         "interfaces": {n: {"link_state": "up", "mtu": 1500}
                        for n in ("eth2", "eth3", "vnet0", "vnet1", "vswitch0")}}
    got = oftrace.verdict(w, "vswitch0", "vnet0", {"dst_mac": "02:00:00:00:00:99"}, parsed, odp,
                          lambda p: {"bond0": "uplink", "vswitch0": "internal"}.get(p, "vnet"))
    assert got["verdict"] == "flood"
    assert [o["port"] for o in got["outputs"]] == ["bond0", "vswitch0"]


def test_a_bond_with_lacp_off_on_the_switch_loses_what_it_is_given_and_refuses_what_arrives():
    """Recorded on OVS 3.1 with the switch's LACP off: NORMAL floods to the internal port
    (untagged, but the frame is not for the host's MAC) and to bond0, whose members bond/show
    has disabled;
    the frame is lost at bond0, in bond/show's and lacp/show's words. A frame arriving by a
    member is refused ("bonding refused admissibility"): the entry names the bond."""
    bonds = {"bond0": info.bond_facts(
        {"bond_mode": "balance-tcp", "lacp": "active"},
        [{"name": n, "link_state": "up", "mtu": 1500} for n in ("eth2", "eth3")],
        info.parse_bond_show(fixture("bond-show-ovs-3.1-lacp-off.txt")),
        info.parse_lacp_show(fixture("lacp-show-ovs-3.1-lacp-off.txt")))}
    why = ("LACP is active here but not negotiated (bond/show lacp_status configured; "
           "lacp/show: eth2 "
           "defaulted detached (not enabled), eth3 defaulted detached (not enabled)): the "
           "switch side does not speak LACP on these ports; no member is enabled, the bond "
           "forwards nothing")
    assert oftrace.dead_bond(bonds, "bond0") == why
    w = {"bridges": {"vswitch0": {"ports": ["bond0", "vnet0", "vswitch0"]}},
         "ports": {"bond0": {"interfaces": ["eth2", "eth3"]}, "vnet0": {"interfaces": ["vnet0"]},
                   "vswitch0": {"interfaces": ["vswitch0"]}},
         "interfaces": {n: {"link_state": "up", "mtu": 1500}
                        for n in ("eth2", "eth3", "vnet0", "vswitch0")},
         "links": {"vswitch0": {"mac": "02:cb:00:00:01:01"}}}
    odp = {9: "vswitch0", 1: "vnet0", 2: "eth3", 3: "eth2"}
    role = {"bond0": "uplink", "vswitch0": "internal"}.get

    def judge(name, in_port, frame, bonds):
        parsed = oftrace.parse(fixture("trace/ovs-3.1-bond-lacp-off-%s.txt" % name))
        return oftrace.verdict(w, "vswitch0", in_port, frame, parsed, odp,
                               lambda p: role(p, "vnet"), None, bonds)

    out = judge("out", "vnet0", {"dst_mac": "02:00:00:00:00:99"}, bonds)
    assert out["verdict"] == "lost"
    assert oftrace.lost_at(out)["port"] == "bond0" and oftrace.lost_at(out)["problem"] == why
    assert out["sentence"].endswith("bond0 (uplink): %s → lost" % why)
    back = judge("in", "bond0", {"src_mac": "02:00:00:00:00:99"}, bonds)
    assert back["verdict"] == "drop" and back["outputs"] == []
    assert back["entry"] == dict(back["entry"], port="bond0", problem=why)
    assert back["reason"] == "bond0: %s (it arrives by that bond)" % why
    # the same traces without the bond's state: no cause invented
    assert judge("out", "vnet0", {"dst_mac": "02:00:00:00:00:99"}, None)["verdict"] == "flood"
    assert judge("in", "bond0", {"src_mac": "02:00:00:00:00:99"}, None)["reason"] == \
        "bonding refused admissibility, dropping"


def test_a_bond_that_still_forwards_is_no_cause():
    healthy = {"lacp": "active", "lacp_status": "negotiated", "members": [
        {"name": "eth2", "link_state": "down", "enabled": False},
        {"name": "eth3", "link_state": "up", "enabled": True, "lacp": "current attached"}]}
    assert info.bond_faults(healthy) == (["member eth2 has no carrier (link_state down)"], False)
    assert oftrace.dead_bond({"bond0": healthy}, "bond0") is None
    both = dict(healthy, members=[dict(m, enabled=False, link_state="down")
                                  for m in healthy["members"]])
    assert oftrace.dead_bond({"bond0": both}, "bond0") == (
        "member eth2 has no carrier (link_state down); member eth3 has no carrier (link_state "
        "down); no member is enabled, the bond forwards nothing")
    assert oftrace.dead_bond({"bond0": healthy}, "vnet0") is None
