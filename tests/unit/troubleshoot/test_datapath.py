"""The datapath evidence's pure parsers on recorded outputs (tests/unit/fixtures/README.md says
where each was recorded): coverage/show of OVS 3.1 and 3.5, dpctl/show -s, dpif/dump-flows,
and bond changes between two bond/show + lacp/show reads."""

import os

import pytest

from ansible_collections.cloudnet.vswitch.plugins.module_utils.troubleshoot import datapath, info
from paths import FIXTURES


def text(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


@pytest.mark.parametrize("version, lines, drops", [("3.1", 106, 8), ("3.5", 121, None)])
def test_coverage_show_of_both_releases(version, lines, drops):
    raw = text("coverage-show-ovs-%s.txt" % version)
    cov = datapath.parse_coverage(raw)
    # every counter line parsed, the header and the "N events never hit" line not
    assert len(cov) == len([ln for ln in raw.splitlines() if "total:" in ln])
    assert "Event" not in cov and not any(k.isdigit() for k in cov)
    assert cov["bridge_reconfigure"] in (25, 22)
    assert cov.get("drop_action_of_pipeline") == drops or version == "3.5"
    assert all(isinstance(v, int) and v >= 0 for v in cov.values())


def test_only_loss_counters_that_rose_are_deltas():
    before = datapath.parse_coverage(text("coverage-show-ovs-3.1.txt"))
    after = dict(before)
    after["drop_action_of_pipeline"] += 5        # rose: a loss
    after["xlate_actions"] += 100                # rose: no loss
    after["datapath_drop_upcall_error"] = 2      # never hit before: absent from the first read
    after["txn_error"] = 1                       # "error" in the name, an OVSDB transaction
    after["dpif_flow_put_error"] = before.get("dpif_flow_put_error", 0)   # did not rise
    assert datapath.coverage_deltas(before, after) == {
        "datapath_drop_upcall_error": 2, "drop_action_of_pipeline": 5}
    words = datapath.meanings(["drop_action_of_pipeline", "some_new_drop"])
    assert "OpenFlow pipeline" in words["drop_action_of_pipeline"]
    assert "loss" in words["some_new_drop"]
    assert datapath.explains_loss("netlink_overflow") and datapath.explains_loss("conntrack_full")
    assert not datapath.explains_loss("netdev_sent")


def test_dpctl_show_stats_keyed_like_ovsdb_statistics():
    dp = datapath.parse_dpctl_show(text("dpctl-show-s-ovs-3.1.txt"))
    assert dp["datapaths"] == {"netdev@ovs-netdev": {"lookups": {"hit": 11, "missed": 13,
                                                                 "lost": 0}, "flows": 11}}
    assert sorted(dp["ports"]) == ["eth0", "ovs-netdev", "vnet0", "vnet1", "vswitch0"]
    vnet1 = dp["ports"]["vnet1"]
    assert vnet1["port_no"] == 4 and vnet1["type"] is None
    assert dp["ports"]["vswitch0"]["type"] == "tap"
    assert vnet1["stats"] == {
        "rx_packets": 2, "rx_errors": 0, "rx_dropped": 0, "rx_over_err": 0, "rx_frame_err": 0,
        "tx_packets": 5, "tx_errors": 0, "tx_dropped": 12, "tx_aborted_errors": 0,
        "tx_carrier_errors": 0, "collisions": 0, "rx_bytes": 180, "tx_bytes": 402}
    # "TX bytes:1618 (1.6 KiB)": the number, not the human form
    assert dp["ports"]["vnet0"]["stats"]["tx_bytes"] == 1618


def test_stat_and_lookup_deltas():
    before = datapath.parse_dpctl_show(text("dpctl-show-s-ovs-3.1.txt"))
    after = datapath.parse_dpctl_show(text("dpctl-show-s-ovs-3.1.txt").replace(
        "dropped:12", "dropped:19").replace("TX packets:5 ", "TX packets:6 ").replace(
        "lost:0", "lost:3"))
    d = datapath.stat_deltas(before["ports"]["vnet1"]["stats"], after["ports"]["vnet1"]["stats"])
    assert d == {"rx_dropped": 0, "rx_errors": 0, "tx_dropped": 7, "tx_errors": 0,
                 "tx_packets": 1}
    # a counter that went down (the port was re-created) counts from 0
    assert datapath.stat_deltas({"tx_dropped": 9}, {"tx_dropped": 2})["tx_dropped"] == 2
    assert datapath.lookup_deltas(before["datapaths"], after["datapaths"]) == {
        "netdev@ovs-netdev": {"hit": 0, "lost": 3, "missed": 0}}


def test_dump_flows_of_an_address():
    flows = datapath.parse_dump_flows(text("dpif-dump-flows-ovs-3.1.txt"))
    assert len(flows) == 11
    drop = [f for f in flows if f["actions"] == "drop"]
    assert drop == [{"match": "recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),"
                              "ipv4(dst=203.0.113.11,frag=no)",
                     "packets": 4, "bytes": 392, "used": "2.218s", "actions": "drop"}]
    host = datapath.flows_of(flows, ["203.0.113.11"])
    # the drop flow (ipv4 dst) and the ARP that asks for it (tip): not 203.0.113.111 etc.
    assert [(f["actions"], f["mentions"]) for f in host] == [
        ("4,2,3", ["203.0.113.11"]), ("drop", ["203.0.113.11"])]
    assert datapath.flows_of(flows, ["203.0.113.1"]) == []
    mac = datapath.flows_of(flows, ["F6:97:71:59:25:FE"])
    assert len(mac) == 3 and all("f6:97:71:59:25:fe" in f["mentions"] for f in mac)
    assert datapath.used_at("2.218s", 100.0) == 97.782
    assert datapath.used_at("never", 100.0) is None


def test_bond_changes_between_two_reads():
    def read(state):
        return {"bond": info.parse_bond_show(text("bond-show-ovs-3.1-%s.txt" % state)),
                "lacp": info.parse_lacp_show(text("lacp-show-ovs-3.1-%s.txt" % state))}
    up, down = read("negotiated"), read("member-down")
    assert datapath.bond_changes("bond0", up, up) == []
    # eth3 carried the flows; down, the bond moved them to eth2
    assert datapath.bond_changes("bond0", up, down) == [
        "bond0: active member eth3 -> eth2", "bond0: member eth3 enabled -> disabled",
        "bond0: member eth3 LACP current attached -> defaulted detached"]
    assert datapath.bond_changes("bond0", down, up)[1] == "bond0: member eth3 disabled -> enabled"
