"""The trace module against a real OVS 3.1 (userspace datapath) in a Sandbox: the verdicts an
operator meets (out by the uplink tagged, in by the uplink to a VM, a VLAN no port carries, an
OpenFlow drop rule, an access port given a tagged frame, a link down, an MTU too small), and
that a trace teaches the MAC table nothing.

vswitch1: uplink eth1 (trunk), vnet0 and vnet2 on VLAN 20, vnet1 on VLAN 10 (veths: the other
ends stay in the namespace, nothing is sent). MAC entries are added with fdb/add, as if learned.
"""

import time

import pytest

from sandbox import sh

BR = "vswitch1"
VM0, VM2, REMOTE = "52:54:00:00:01:01", "52:54:00:00:01:03", "52:54:00:00:02:03"
PING = {"protocol": "icmp", "icmp_type": 8}


@pytest.fixture
def box(ovs):
    for name in ("eth1", "vnet0", "vnet1", "vnet2"):
        ovs.nic(name)
    ovs.vsctl("add-br", BR, "--", "set", "Bridge", BR, "datapath_type=netdev",
              "--", "add-port", BR, "eth1",
              "--", "add-port", BR, "vnet0", "tag=20",
              "--", "add-port", BR, "vnet1", "tag=10",
              "--", "add-port", BR, "vnet2", "tag=20")
    ovs.appctl("fdb/add", BR, "eth1", "20", REMOTE)
    ovs.appctl("fdb/add", BR, "vnet2", "20", VM2)
    return ovs


def trace(box, **frame):
    got = box.module("trace", **frame)
    assert got["rc"] == 0, got
    return got["traces"]


def fdb(box, mac):
    """The FDB lines for one MAC (the veths' other ends send IPv6 noise of their own)."""
    return [ln.split() for ln in box.appctl("fdb/show", BR).splitlines() if mac in ln]


def test_a_vms_frame_leaves_by_the_uplink_tagged_with_its_vlan(box):
    [t] = trace(box, in_port="vnet0", src_mac=VM0, dst_mac=REMOTE, src_ip="203.0.113.101",
                dst_ip="203.0.113.203", **PING)
    assert t["verdict"] == "output" and t["vlan"] == 20
    assert [(o["port"], o["role"], o["vlan"], o["problem"]) for o in t["outputs"]] == [
        ("eth1", "uplink", 20, None)]
    assert t["sentence"] == ("vswitch1: frame on VLAN 20 from vnet0 (vnet), output to eth1 "
                             "(uplink, tagged 20)")
    assert t["flow"].startswith("icmp,in_port=") and ",nw_dst=203.0.113.203," in t["flow"]


def test_verdicts_in_by_the_uplink(box):
    frames = [dict(in_port="eth1", vlan=v, src_mac=REMOTE, dst_mac=VM2,
                   src_ip="203.0.113.203", dst_ip="203.0.113.103", **PING) for v in (20, 30)]
    before = fdb(box, REMOTE)
    ok, wrong_vlan = trace(box, traces=frames)
    assert ok["verdict"] == "output" and [(o["port"], o["vlan"]) for o in ok["outputs"]] == [
        ("vnet2", None)]
    assert wrong_vlan["verdict"] == "drop" and wrong_vlan["vlan"] == 30
    assert wrong_vlan["sentence"] == (
        "vswitch1: frame on VLAN 30 from eth1 (uplink), no port carries VLAN 30 but the "
        "internal port (the host's kernel gets it tagged, and ignores it) → dropped")
    assert fdb(box, REMOTE) == before            # nothing learned: REMOTE is not on VLAN 30 now


def test_a_drop_rule_is_named_with_its_table(box):
    sh(["ovs-ofctl", "add-flow", "unix:%s/%s.mgmt" % (box.dir, BR),
        "priority=100,ip,nw_dst=203.0.113.103,actions=drop"])
    [t] = trace(box, in_port="eth1", vlan=20, src_mac=REMOTE, dst_mac=VM2,
                src_ip="203.0.113.203", dst_ip="203.0.113.103", **PING)
    assert t["verdict"] == "drop" and t["outputs"] == []
    assert t["reason"] == "dropped by flow `ip,nw_dst=203.0.113.103,priority=100` (table 0)"
    assert t["rule"]["priority"] == 100


def test_a_tagged_frame_on_an_access_port_is_dropped_in_normals_words(box):
    [t] = trace(box, in_port="vnet0", vlan=5, src_mac=VM0, dst_mac=REMOTE)
    assert t["verdict"] == "drop"
    assert t["reason"] == ("dropping VLAN 5 tagged packet received on port vnet0 configured as "
                           "VLAN 20 access port")


def test_link_down_and_mtu_lose_the_frame_where_it_leaves(box):
    box.ns("ip", "link", "set", "eth1", "mtu", "1400")
    box.ns("ip", "link", "set", "vnet2", "down")
    box.vsctl("--timeout=10", "wait-until", "Interface", "eth1", "mtu=1400")
    box.vsctl("--timeout=10", "wait-until", "Interface", "vnet2", "link_state=down")
    big, down = trace(box, traces=[
        dict(in_port="vnet0", src_mac=VM0, dst_mac=REMOTE, size=1500, **PING),
        dict(in_port="eth1", vlan=20, src_mac=REMOTE, dst_mac=VM2, size=1400, **PING)])
    assert big["verdict"] == "lost"
    assert big["outputs"][0]["problem"] == "the packet (1500 bytes) is larger than its MTU 1400"
    assert down["verdict"] == "lost" and down["outputs"][0]["problem"] == "its link is down"


def test_flood_names_every_port_on_the_vlan(box):
    [t] = trace(box, in_port="vnet0", src_mac=VM0, dst_mac="52:54:00:00:09:09", **PING)
    assert t["verdict"] == "flood"
    assert t["reason"] == "the destination MAC 52:54:00:00:09:09 is not in the table"
    assert sorted((o["port"], o["vlan"]) for o in t["outputs"]) == [
        ("eth1", 20), ("vnet2", None), ("vswitch1", 20)]


def test_bad_input_names_the_option_and_changes_nothing(box):
    got = box.module("trace", in_port="vnet9", dst_mac=REMOTE)
    assert got["failed"] and "in_port" in got["msg"] and "'vnet9'" in got["msg"]
    got = box.module("trace", traces=[dict(in_port="vnet0", dst_mac="not-a-mac")])
    assert got["failed"] and "traces[0].dst_mac" in got["msg"]


def test_a_bond_whose_lacp_partner_never_answers_forwards_nothing_and_says_why(ovs):
    """vswitch2's bond0 runs LACP; the switch side (the veths' other ends) never speaks it:
    bond/show says lacp_status configured, no member enabled. A VM's frame NORMAL floods to
    the bond (nothing is learned behind a bond that never received) is lost there, and a
    frame arriving by the bond is refused, both in bond/show's and lacp/show's words."""
    for name in ("eth2", "eth3", "vnet4"):
        ovs.nic(name)
    ovs.vsctl("add-br", "vswitch2", "--", "set", "Bridge", "vswitch2", "datapath_type=netdev",
              "--", "add-bond", "vswitch2", "bond0", "eth2", "eth3", "lacp=active",
              "bond_mode=balance-tcp", "--", "set", "Port", "bond0",
              "other_config:lacp-time=fast", "--", "add-port", "vswitch2", "vnet4", "tag=20")
    deadline = time.monotonic() + 15
    while "lacp_status: configured" not in ovs.appctl("bond/show", "bond0") \
            or "current" in ovs.appctl("lacp/show", "bond0"):
        assert time.monotonic() < deadline, ovs.appctl("lacp/show", "bond0")
        time.sleep(0.2)
    out, back = trace(ovs, traces=[
        dict(in_port="vnet4", src_mac=VM0, dst_mac=REMOTE, **PING),
        dict(in_port="bond0", vlan=20, src_mac=REMOTE, dst_mac=VM0, **PING)])
    why = ("LACP is active here but not negotiated (bond/show lacp_status configured; "
           "lacp/show: eth2 "
           "defaulted detached (not enabled), eth3 defaulted detached (not enabled)): the "
           "switch side does not speak LACP on these ports; no member is enabled, the bond "
           "forwards nothing")
    assert out["verdict"] == "lost"
    assert [(o["port"], o["vlan"], o["problem"]) for o in out["outputs"]
            if o["role"] != "internal"] == [("bond0", 20, why)]
    assert back["verdict"] == "drop" and back["entry"]["port"] == "bond0"
    assert back["reason"] == "bond0: %s (it arrives by that bond)" % why
