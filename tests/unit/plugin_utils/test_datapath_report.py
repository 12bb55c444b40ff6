"""The capture report's datapath evidence: datapath/<host>.json beside the crafted two-host run
(pcap_craft.scene: hv1 vnet0 + eth0, hv2 eth0, packets from t=100 s), its findings and its
timeline, and the OVSDB events as packet comments in merged.pcapng read back with tshark."""

import json
import os
import subprocess

import pytest

import pcap_craft as craft
from ansible_collections.cloudnet.vswitch.plugins.module_utils.capture.pcapfile import (
    PcapngWriter,
)
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import (
    capture_report as capture_report_utils,
)
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import datapath_report, pcap_analysis

TAG = {"time": 103.05, "table": "Port", "row": "vnet2", "column": "tag", "old": 20, "new": 30,
       "change": "modified"}
LINK = {"time": 130.0, "table": "Interface", "row": "eth0", "column": "link_state",
        "old": "up", "new": "down", "change": "modified"}    # after every packet of the run
GONE = {"time": 119.0, "table": "Port", "row": "vnet9", "column": None, "change": "deleted",
        "old": {"name": "vnet9", "tag": 10}, "new": None}


def hv2_evidence():
    return {"started_at": 100.0, "ended_at": 121.0, "events": [TAG, LINK], "datapath": {
        "coverage": {"drop_action_of_pipeline": 5},
        "meanings": {"drop_action_of_pipeline": "dropped by the OpenFlow pipeline"},
        "interfaces": {"eth0": {"rx_dropped": 0, "tx_dropped": 0, "rx_errors": 0,
                                "tx_errors": 0, "rx_packets": 9},
                       "vnet2": {"rx_dropped": 0, "tx_dropped": 7, "rx_errors": 0,
                                 "tx_errors": 0}},
        "lookups": {"netdev@ovs-netdev": {"hit": 3, "missed": 1, "lost": 0}},
        "flows": [{"bridge": "vswitch1", "match": "in_port(1),eth(src=52:54:00:00:00:01)",
                   "packets": 4, "bytes": 392, "used": "1.5s", "last_used": 104.5,
                   "actions": "drop", "mentions": ["52:54:00:00:00:01"]}],
        "bonds": {"bond0": {"bridge": "vswitch1", "changes": [
            "bond0: member eth3 enabled -> disabled"]}},
        "errors": []}}


@pytest.fixture
def run(tmp_path):
    run = tmp_path / "20261124T101500Z-10.0.0.1"
    run.mkdir()
    craft.scene(str(run))
    (run / "datapath").mkdir()
    (run / "datapath" / "hv2.json").write_text(json.dumps(hv2_evidence()))
    # hv1 has no datapath/ file: its capture.json (the module's whole result) is read
    (run / "hv1" / "capture.json").write_text(json.dumps({
        "started_at": 100.0, "ended_at": 121.0, "events": [GONE], "notes": [],
        "datapath": {"coverage": {}, "interfaces": {}, "flows": [], "bonds": {},
                     "errors": ["coverage/show: timed out"]}}))
    return run


def test_findings_cite_counters_statistics_bonds_and_events(run):
    sources, ctx = capture_report_utils.load_run(str(run))
    assert sorted(ctx["datapath"]) == ["hv1", "hv2"]
    assert "datapath" not in {s["host"] for s in sources}
    found = datapath_report.findings(ctx)
    assert found == [
        "hv1: OVSDB changed during the capture: Port vnet9 deleted at +19.000 s",
        "hv2: coverage counter drop_action_of_pipeline rose by 5 during the capture: dropped "
        "by the OpenFlow pipeline (ovs-appctl coverage/show); datapath flow(s) dropping the "
        "followed traffic: vswitch1 in_port(1),eth(src=52:54:00:00:00:01) (4 packet(s), "
        "actions:drop)",
        "hv2: vnet2 tx_dropped +7 during the capture (ovs-appctl dpctl/show -s)",
        "hv2: bond bond0 changed during the capture: bond0: member eth3 enabled -> disabled "
        "(bond/show, lacp/show)",
        "hv2: OVSDB changed during the capture: Port vnet2 tag 20 → 30 at +3.050 s; "
        "Interface eth0 link_state up → down at +30.000 s"]
    # and they are the report's findings
    rep = {"analysis": pcap_analysis.analyse(sources), "context": ctx, "address": "10.0.0.1"}
    assert set(found) <= set(capture_report_utils.findings(rep))


def test_timeline_section_in_time_order(run):
    _sources, ctx = capture_report_utils.load_run(str(run))
    [(title, paragraphs, (header, rows))] = datapath_report.sections(ctx)
    assert title == "Datapath and OVSDB during the capture"
    assert header == ["at", "UTC", "host", "source", "what"]
    assert [(r[0], r[2], r[3]) for r in rows] == [
        ("+0.000 s … +21.000 s", "hv2", "coverage"),
        ("+0.000 s … +21.000 s", "hv2", "interface"),
        ("+0.000 s … +21.000 s", "hv2", "bond"),
        ("+3.050 s", "hv2", "OVSDB"), ("+4.500 s", "hv2", "flow"),
        ("+19.000 s", "hv1", "OVSDB"), ("+30.000 s", "hv2", "OVSDB")]
    assert rows[3][1] == "00:01:43.050Z" and rows[3][4] == "Port vnet2 tag 20 → 30"
    assert "hv1: coverage/show: timed out" in paragraphs


def tshark_comments(path):
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.number",
                          "-e", "frame.interface_name", "-e", "frame.time_epoch", "-e",
                          "frame.comment"], capture_output=True, text=True, check=True).stdout
    return [ln.split("\t") for ln in out.splitlines() if ln.split("\t")[3:] != [""]]


def test_events_are_comments_on_packets_of_merged_pcapng(run, tmp_path):
    sources, ctx = capture_report_utils.load_run(str(run))
    merged = tmp_path / "merged.pcapng"
    res = pcap_analysis.analyse(sources, str(merged), comments=datapath_report.comments(ctx))
    rows = tshark_comments(merged)
    # the tag change on hv2 at 103.05: the first hv2 packet at or after it (the ARP at
    # 103.1 reaching hv2:eth0 at 103.102); hv1's deleted port on hv1's first packet after 119
    # (eth0 and vnet0 both have one at 120.0: the merge takes eth0's first)
    assert [(r[1], r[2][:8], r[3]) for r in rows] == [
        ("hv2:eth0", "103.1020", "OVSDB hv2: Port vnet2 tag 20 → 30 (at +3.050 s, "
                                 "00:01:43.050Z)"),
        ("hv1:eth0", "120.0000", "OVSDB hv1: Port vnet9 deleted (at +19.000 s, "
                                 "00:01:59.000Z)")]
    # the link went down after the last packet of the run: in no packet, and said so
    assert res["comments"] == {"placed": 2, "left": [
        "OVSDB hv2: Interface eth0 link_state up → down (at +30.000 s, 00:02:10.000Z)"]}
    # every packet is still there
    plain = pcap_analysis.analyse(sources, str(tmp_path / "plain.pcapng"))
    assert plain["packets"] == res["packets"] == 44 and plain["comments"]["placed"] == 0


def test_placer_moves_an_event_past_its_hosts_last_packet_to_any_host():
    sources = [{"host": "hv1", "last": 10.0}, {"host": "hv2", "last": 5.0}]
    placer = datapath_report.Placer({"hv2": [(6 * 10 ** 9, "late"), (4 * 10 ** 9, "early")],
                                     "hv3": [(7 * 10 ** 9, "uncaptured")]}, sources)
    assert placer.take(1, 3 * 10 ** 9) is None
    assert placer.take(0, 4 * 10 ** 9) is None          # hv1's packet: not hv2's comment
    assert placer.take(1, 4 * 10 ** 9) == ["early"]
    assert placer.take(0, 8 * 10 ** 9) == ["late", "uncaptured"]
    assert placer.left() == [] and placer.placed == 3


def test_pcapng_packet_comments_read_back(tmp_path):
    path = tmp_path / "c.pcapng"
    frame = bytes(craft.ether(craft.MAC_A, craft.MAC_B, craft.echo(craft.IP_A, craft.IP_B, 1)))
    with open(path, "wb") as f:
        w = PcapngWriter(f)
        w.interface(1, 65535, "hv1:vnet0")
        w.packet(0, 1_000_000_000, len(frame), len(frame), frame, ["one", "twö, and more"])
        w.packet(0, 2_000_000_000, len(frame), len(frame), frame)
        w.packet(0, 3_000_000_000, 14, len(frame), frame[:14], ["odd length"])
    rows = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.number",
                           "-e", "frame.comment", "-e", "icmp.seq"], capture_output=True,
                          text=True, check=True).stdout.splitlines()
    assert rows == ["1\tone,twö, and more\t1", "2\t\t1", "3\todd length\t"]
    assert os.path.getsize(path) % 4 == 0


def test_the_roles_evidence_keeps_datapath_per_host():
    """capture_report's evidence(): datapath/<host>.json from each host's capture result;
    a result without it (a failed capture, an older collection) writes none."""
    def hv(result):
        return {"_captures_paths": {"paths": []}, "_captures_locate": {"vswitches": []},
                "_captures_result": dict(result, fdb=[])}
    ev = hv2_evidence()
    hostvars = {"hv1": hv({"changed": True, "files": []}),
                "hv2": hv(dict(ev, changed=True, files=[], ansible_job_id="j"))}
    plan = {"hosts": {"hv1": {"eth0": "uplink"}, "hv2": {"eth0": "uplink"}}}
    out = capture_report_utils.evidence(plan, hostvars, ["hv1", "hv2"], "10.0.0.1")
    assert out["datapath/hv2.json"] == ev
    assert "datapath/hv1.json" not in out
    assert datapath_report.evidence_of(None) is None


def test_a_hosts_counter_alone_is_no_finding_nor_a_port_that_was_not_captured(run):
    """A healthy host drops something all the time (a flood with no port to go to): a counter
    that rose, without a flow of the followed traffic that drops, is shown, not claimed."""
    ev = hv2_evidence()
    ev["datapath"]["flows"] = []
    (run / "datapath" / "hv2.json").write_text(json.dumps(ev))
    _sources, ctx = capture_report_utils.load_run(str(run))
    assert not [f for f in datapath_report.findings(ctx) if "coverage" in f]
    ctx["located"] = {"capture": {"hv2": {"eth0": "the uplink"}}}        # vnet2 not captured
    assert not [f for f in datapath_report.findings(ctx) if "tx_dropped" in f]
    assert any("drop_action_of_pipeline" in str(s) for s in datapath_report.sections(ctx))


def test_a_degraded_bond_the_followed_traffic_crosses_is_a_finding(run):
    """A member without carrier loses nothing (the bond carries on by the other), yet the
    bond the traffic crosses is degraded: a finding, from bond/show as the capture ended; the
    same on a bond that was not captured is not."""
    ev = hv2_evidence()
    ev["datapath"]["bonds"]["bond0"].update(
        changes=[], faults=["member eth3 has no carrier (link_state down)"],
        end={"members": {"eth2": {"enabled": True}, "eth3": {"enabled": False}}})
    (run / "datapath" / "hv2.json").write_text(json.dumps(ev))
    _sources, ctx = capture_report_utils.load_run(str(run))
    said = "hv2: vswitch1 bond bond0: member eth3 has no carrier (link_state down) (bond/show, " \
        "lacp/show as the capture ended)"
    for captured in ({"eth2": "", "eth3": ""}, {"bond0": ""}):
        ctx["located"] = {"capture": {"hv2": captured}}
        assert said in datapath_report.findings(ctx)
    ctx["located"] = {"capture": {"hv2": {"eth0": "the uplink"}}}
    assert not [f for f in datapath_report.findings(ctx) if "bond0" in f]
