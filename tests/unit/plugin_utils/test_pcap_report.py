"""report.md and report.html of a capture run (pcap_craft.scene plus the evidence beside it),
the run directory read tolerantly, the picture, escaping, and the module's documentation."""

import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest
import yaml

import pcap_craft as craft
from ansible_collections.cloudnet.vswitch.plugins.action import capture_report
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import (
    capture_report as capture_report_utils,
)
from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import document, pcap_analysis
from paths import REPO

HOSTILE = "<img src=x onerror=alert(1)>&\"'"


def make_run(tmp_path, hostname="hv1"):
    run = tmp_path / "20261124T101500Z-10.0.0.1"
    run.mkdir()
    craft.scene(str(run))
    if hostname != "hv1":
        os.rename(run / "hv1", run / hostname)
    craft.context(str(run), hostname=hostname)
    return run


def picture(page):
    """The report's SVG, parsed (it is well-formed XML)."""
    return ET.fromstring(re.search(r"<svg .*?</svg>", page, re.S).group(0))


def groups(pic, cls):
    """The picture's <g> whose class has every word of cls, in drawing order."""
    return [g for g in pic.iter("g") if set(cls.split()) <= set(g.get("class", "").split())]


def title(g):
    return g.find("title").text


def texts(g):
    return [t.text for t in g.iter("text")]


@pytest.fixture
def report(tmp_path):
    run = make_run(tmp_path)
    result = capture_report.build(str(run))
    return run, result


def test_build_writes_three_private_files_and_returns_a_summary(report):
    run, result = report
    assert result["changed"] is True
    assert result["written"] == {"merged": str(run / "merged.pcapng"),
                                 "markdown": str(run / "report.md"),
                                 "html": str(run / "report.html")}
    for path in result["written"].values():
        assert os.stat(path).st_mode & 0o777 == 0o600
    assert not (run / "merged.pcapng.part").exists()
    # 4 without a reply, and the skewed echo whose reply never reached A's vnet
    assert result["packets"] == 44 and result["unanswered"] == 5 and result["skew"] == 1
    assert result["bad_checksums"] == 1          # the VM's offloaded one is not counted
    md = (run / "report.md").read_text()
    assert len(result["findings"]) == 8 and all("- " + f in md for f in result["findings"])
    assert [f["hop"] for f in result["files"]] == ["hv1:eth0", "hv1:vnet0", "hv2:eth0"]


def test_check_mode_writes_nothing(tmp_path):
    run = make_run(tmp_path)
    result = capture_report.build(str(run), write=False)
    assert result["changed"] is False and result["written"] is None
    assert sorted(os.listdir(run)) == ["fdb", "hv1", "hv2", "located.json", "routes"]


def test_markdown_says_where_what_and_why(report):
    run, _result = report
    md = (run / "report.md").read_text()
    findings = md.split("## Where")[0]
    assert ("- 1 x echo request 10.0.0.1 -> 10.0.0.3 unanswered, last seen on hv2:eth0 "
            "(possibly dropped by capture: the capture on hv2:eth0 dropped 3 packet(s))"
            in findings)
    assert "TCP SYN 10.0.0.1 -> 10.0.0.2 port 22 unanswered, last seen on hv1:eth0\n" \
        in findings
    assert "hv1: A request from 10.0.0.2 arrives on vswitch1" in findings
    assert "Evidence: 10.0.0.2 is in hv1's neighbour table on vswitch1" in findings
    # the skewed echo: its reply was seen on hv2's uplink only, never on A's own vnet
    assert "- 1 x echo request 10.0.0.1 -> 10.0.0.2 answered at hv2:eth0, never delivered to " \
        "hv1:vnet0 (the reply seen there only)\n" in findings
    # the verdict first, in bold; the capture's own drops are no finding, but it says them
    assert md.split("\n", 3)[2] == "**8 finding(s). The captures on hv2:eth0 (3) dropped " \
        "packets themselves (tcpdump's count): what they missed is evidence neither way.**"
    could = md.split("## Could happen (not seen)", 1)[1].split("\n## ", 1)[0]
    assert "10.0.0.77" not in findings and "| hv1: A request from 10.0.0.77 would arrive" in could
    assert "clocks of hv2:eth0 and hv1:vnet0 disagree by at least 0.300 s" in findings
    home, via = md.split("## Where 10.0.0.1 lives", 1)[1].split("## Where 10.0.0.1 was seen via")
    assert "| hv1 | vswitch0 | vnet0 |" in home and "hv2" not in home.split("\n## ")[0]
    assert "| hv2 | vswitch0 | eth0 | uplink | 10 | FDB of vswitch0:" in via.split("\n## ")[0]
    assert "| hv1 | vswitch0 | vnet0 | vnet | 52:54:00:00:00:01 | 10 | libvirt attached-mac" in md
    assert "| hv2:eth0 | 13 | 749 B |" in md and "| 3/0 | 0 | -0.500000 s |" in md
    assert "| hv1:eth0 | 10 (16) |" in md and "| hv1:vnet0 | untagged (15) |" in md
    assert "hv1:vnet0 1/0 untagged; hv1:eth0 1/0 10; hv2:eth0 1/0 10" in md
    assert "likely offload artefact: the same packets were seen with a correct checksum on " \
           "hv1:eth0" in md
    assert "3 path(s) checked, 1 symmetric." in md


def test_html_is_self_contained_and_shows_the_picture(report):
    run, _result = report
    page = (run / "report.html").read_text()
    assert "http" not in page
    assert not re.search(r"\b(src|href)\s*=", page)
    assert "<style>" in page and "<svg " in page and "<script" not in page
    pic = picture(page)
    # ADDR's port is red and labelled; an uncaptured port has a thin border and no count
    home, = groups(pic, "port vnet home")
    assert title(home).startswith("hv1:vnet0 (vnet)") and "10.0.0.1 lives here" in title(home)
    assert texts(home)[0] == "vnet0" and "10.0.0.1" in texts(home)
    assert home.find("rect").get("fill") == capture_report_utils.HOME[0]
    internal, = groups(pic, "port internal")
    assert title(internal) == "hv1:vswitch0 (internal)" and texts(internal) == ["vswitch0"]
    assert internal.find("rect").get("stroke-width") == "1"


def test_hostile_hostname_is_escaped_everywhere(tmp_path):
    run = make_run(tmp_path, hostname=HOSTILE)
    capture_report.build(str(run))
    page = (run / "report.html").read_text()
    assert "<img" not in page and "http" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;&amp;&quot;&#x27;" in page
    assert not re.search(r"\b(src|href)\s*=", page.replace("&lt;img src=x", ""))
    md = (run / "report.md").read_text()
    assert "<img" not in md and "&lt;img src=x onerror=alert(1)>" in md


def test_picture_without_vswitches_json_is_made_from_what_is_known(report):
    _run, _report = report
    rep = {"address": "10.0.0.1", "context": {"located": None, "vswitches": {}},
           "analysis": {"files": [{"host": "hv9", "interface": "eth1"},
                                  {"host": "hv9", "interface": "vnet3"}]}}
    assert capture_report_utils.involved(rep) == {"hv9": [{"name": "vSwitch ?", "ports": [
        {"name": "eth1", "role": "uplink"}, {"name": "vnet3", "role": "vnet"}]}]}
    # drawn all the same: the uplink wired to the switch, 0 packets, nothing stops, no home
    pic = ET.fromstring(capture_report_utils.svg(rep))
    assert [title(g) for g in groups(pic, "wire")] == ["hv9:eth1 to the physical switch"]
    assert [texts(g) for g in groups(pic, "port captured")] == [["eth1", "0 pkt"],
                                                                ["vnet3", "0 pkt"]]
    assert not groups(pic, "stop") and not groups(pic, "home") and not groups(pic, "peer")


def test_the_host_a_verdict_names_is_drawn_though_not_captured(report):
    """The peer's host was not captured (locate placed nothing there): its port that the
    verdict names is drawn all the same, with the verdict under it."""
    _run, _report = report
    why = [{"host": "hv2", "bridge": "vswitch1", "port": "vnet2",
            "cause": "VLAN mismatch: hv1 vnet2 is on VLAN 20, hv2 vnet2 on VLAN 30"}]
    rep = {"address": "203.0.113.103", "context": {"located": None, "vswitches": {},
                                                   "why": why},
           "analysis": {"files": [{"host": "hv1", "interface": "eth1"}]}}
    assert capture_report_utils.involved(rep)["hv2"] == [
        {"name": "vswitch1", "ports": [{"name": "vnet2", "role": "vnet"}]}]
    pic = ET.fromstring(capture_report_utils.svg(rep))
    [verdict] = groups(pic, "verdict")
    assert texts(verdict)[0] == "vnet2" and texts(verdict)[1].startswith("why 1: VLAN mismatch")


def centre_below(port):
    """Where a wire leaves a port: the middle of its box's bottom edge."""
    r = port.find("rect")
    return (int(r.get("x")) + int(r.get("width")) // 2, int(r.get("y")) + int(r.get("height")))


def test_picture_wires_the_uplinks_to_the_switch_with_counts_and_where_requests_stop(report):
    run, result = report
    pic = picture((run / "report.html").read_text())
    assert [title(g) for g in groups(pic, "host")] == ["hv1", "hv2"]
    switch, = groups(pic, "switch")
    assert texts(switch) == ["physical switch / network"]
    bar_top = int(switch.find("rect").get("y"))
    # one wire per uplink, from the bottom of its box down to the bar
    uplinks = {title(g).split(" ")[0]: g for g in groups(pic, "port uplink")}
    assert sorted(uplinks) == ["hv1:eth0", "hv2:eth0"]
    for wire in groups(pic, "wire"):
        hop = title(wire).split(" ")[0]
        line = wire.find("line")
        assert (int(line.get("x1")), int(line.get("y1"))) == centre_below(uplinks.pop(hop))
        assert int(line.get("y2")) == bar_top and line.get("x2") == line.get("x1")
    assert not uplinks                                 # every uplink had its wire
    # every captured port says its packets and VLANs; the vSwitch's own port was not captured
    packets = {f["hop"]: f["packets"] for f in result["files"]}
    counts = {title(g).split(" ")[0]: texts(g)[1] for g in groups(pic, "port captured")}
    assert counts == {"hv1:eth0": "%d pkt · VLAN 10" % packets["hv1:eth0"],
                      "hv1:vnet0": "%d pkt · untagged" % packets["hv1:vnet0"],
                      "hv2:eth0": "%d pkt · VLAN 10" % packets["hv2:eth0"]}
    # the last hops of the unanswered requests (of the reply, where it was answered but never
    # delivered): a thick red border, the requests in the tooltip
    stops = {title(g).split(" ")[0]: g for g in groups(pic, "port stop")}
    unanswered = [u for u in result["unanswered_requests"] if u["fate"] != "reply-lost"]
    lost, = [u for u in result["unanswered_requests"] if u["fate"] == "reply-lost"]
    last = {u["last_hop"] for u in unanswered}
    assert set(stops) == last and len(last) == 2 and lost["reply_last_hop"] in last
    for hop, g in stops.items():
        assert "requests stop here" in texts(g)
        assert g.find("rect").get("stroke") == capture_report_utils.STOP
        assert g.find("rect").get("stroke-width") == "4"
        for u in unanswered:
            assert (u["description"] in title(g)) == (u["last_hop"] == hop)
    assert "replies stop here" in texts(stops[lost["reply_last_hop"]])
    assert "replies stop here" not in texts(stops["hv1:eth0"])
    assert not groups(pic, "peer")                     # located.json names no peer


def test_picture_marks_a_peer_and_draws_a_bond_as_its_members(tmp_path):
    """A peer's home is blue with its address; a bond is its members, each wired to the
    switch (dashed when its link is down), the capture of a member counted on it."""
    run = make_run(tmp_path)
    located = json.loads((run / "located.json").read_text())
    located["peer_hosts"] = [{"host": "hv2", "vswitch": "vswitch0", "port": "vnet1",
                              "role": "vnet", "local": True, "ip": craft.IP_B, "vlan": 10}]
    (run / "located.json").write_text(json.dumps(located))
    vswitches = json.loads((run / "hv1" / "vswitches.json").read_text())
    vswitches[0]["ports"][0] = {"name": "bond0", "role": "uplink", "bond": {
        "mode": "balance-slb", "members": [
            {"name": "eth0", "link_state": "up", "enabled": True, "active": True},
            {"name": "eth1", "link_state": "down", "enabled": True, "active": False}]}}
    (run / "hv1" / "vswitches.json").write_text(json.dumps(vswitches))
    result = capture_report.build(str(run))
    pic = picture((run / "report.html").read_text())
    peer, = groups(pic, "port vnet peer")
    assert title(peer).startswith("hv2:vnet1 (vnet)") and "peer 10.0.0.2" in texts(peer)
    assert peer.find("rect").get("fill") == capture_report_utils.PEER[0]
    bond, = [g for g in groups(pic, "port uplink") if title(g).startswith("hv1:")]
    assert texts(bond) == ["bond0", "bond, balance-slb"]
    members = {title(g).split(" ")[0]: g for g in groups(pic, "port member")}
    assert sorted(members) == ["hv1:eth0", "hv1:eth1"]
    assert len(pic.findall(".//line[@class='bond']")) == 2
    packets = {f["hop"]: f["packets"] for f in result["files"]}
    assert "%d pkt · VLAN 10" % packets["hv1:eth0"] in texts(members["hv1:eth0"])
    assert "stop" in members["hv1:eth0"].get("class")
    wires = {title(g): g.find("line") for g in groups(pic, "wire")}
    assert sorted(wires) == ["hv1:eth0 to the physical switch",
                             "hv1:eth1 to the physical switch, down",
                             "hv2:eth0 to the physical switch"]
    for hop in members:
        line = wires[[t for t in wires if t.startswith(hop + " ")][0]]
        assert (int(line.get("x1")), int(line.get("y1"))) == centre_below(members[hop])
    assert wires["hv1:eth1 to the physical switch, down"].get("stroke-dasharray")
    assert not wires["hv1:eth0 to the physical switch"].get("stroke-dasharray")


def test_load_run_is_tolerant(tmp_path):
    run = tmp_path / "run"
    craft.add_capture(str(run), "hv1", "eth0", [(1.0, craft.ether(
        craft.MAC_A, craft.MAC_B, craft.udp(craft.IP_A, craft.IP_B)))])
    os.remove(run / "hv1" / "eth0.json")
    (run / "routes").mkdir()
    (run / "routes" / "hv1.json").write_text("{not json")
    sources, ctx = capture_report_utils.load_run(str(run))
    assert [(s["host"], s["interface"]) for s in sources] == [("hv1", "eth0")]
    assert ctx["located"] is None and ctx["routes"] == {"hv1": []}
    assert any("no sidecar" in p for p in ctx["problems"])
    assert any("hv1.json could not be read" in p for p in ctx["problems"])
    result = capture_report.build(str(run), address="10.0.0.1")
    md = (run / "report.md").read_text()
    assert result["packets"] == 1 and "No host placed it before the capture." in md
    assert "clock offset" in md and "| hv1:eth0 | 1 |" in md


def test_whole_module_results_are_accepted(tmp_path):
    run = make_run(tmp_path)
    for kind, key in (("fdb", "bridges"), ("routes", "paths")):
        path = run / kind / "hv1.json"
        path.write_text(json.dumps({key: json.loads(path.read_text()), "changed": False}))
    _sources, ctx = capture_report_utils.load_run(str(run))
    assert ctx["routes"]["hv1"][1]["verdict"] == "asymmetric-dropped"
    assert capture_report_utils.local_macs(ctx)["hv1"] == {
        "02:00:00:00:01:00": "the host's MAC on vswitch0",
        craft.MAC_A: "the VM on vnet0"}


def test_module_docs_and_stub():
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
    out = subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-doc"), "--json",
                          "cloudnet.vswitch.capture_report"], capture_output=True, text=True,
                         env=env, cwd=REPO, check=True).stdout
    d = json.loads(out)["cloudnet.vswitch.capture_report"]
    from ansible_collections.cloudnet.vswitch.plugins.modules import capture_report as stub
    assert set(d["doc"]["options"]) == set(stub.ARGUMENT_SPEC)
    assert d["doc"]["attributes"]["check_mode"]["support"] == "full"
    assert {"files", "packets", "unanswered", "written", "summary"} <= set(d["return"])
    assert any("cloudnet.vswitch.capture_report" in t for t in yaml.safe_load(d["examples"]))
    args = {"ANSIBLE_MODULE_ARGS": {"run_dir": "/nonexistent"}}
    res = subprocess.run([os.path.join(REPO, ".venv", "bin", "python"),
                          os.path.join(REPO, "plugins", "modules", "capture_report.py")],
                         input=json.dumps(args), capture_output=True, text=True,
                         env=dict(env, PYTHONPATH=os.path.join(REPO, ".venv", "collections")),
                         check=False)
    out = json.loads(res.stdout)
    assert out["failed"] and "runs on the controller only" in out["msg"]


def test_start_skew_sentence():
    from ansible_collections.cloudnet.vswitch.plugins.plugin_utils.capture_report import start_skew

    assert start_skew({"hv1:eth0": 100.25, "hv1:vnet1": 100.0, "hv2:eth0": 100.5}) == (
        "Start skew: the captures started listening within 0.500 s of each other (first "
        "hv1:vnet1, last hv2:eth0; hosts' clocks).")
    assert start_skew({"hv1:eth0": 1.0}) == "Start skew: one capture only."


def test_host_notes_reach_the_report(tmp_path):
    """The capture module's notes (a mirrored balance-tcp bond duplicates outbound frames in
    OVS 3.1, a patch port redirected, ...) are in the report, not silently kept."""
    import json

    (tmp_path / "hv1").mkdir()
    note = "bond0 is balance-tcp: OVS 3.1 duplicates its outbound frames in a mirror"
    (tmp_path / "hv1" / "capture.json").write_text(json.dumps({"notes": [note]}))
    _sources, ctx = capture_report_utils.load_run(str(tmp_path))
    assert ctx["host_notes"] == {"hv1": [note]}

    titles = {t: p for t, p, _tab in capture_report_utils.sections({
        "analysis": pcap_analysis.analyse([]), "context": ctx, "generated": "now"})}
    assert titles["Notes from the hosts"] == ["hv1: " + note]


def test_a_wide_capture_says_where_the_address_showed_up_or_that_it_sent_nothing(tmp_path):
    """No host knew the address, so every uplink and internal port was captured: the report
    says it sent nothing (a finding, with the next step), or where it showed up."""
    run = make_run(tmp_path)
    located = json.loads((run / "located.json").read_text())
    located.update(address="10.0.0.99", hosts=[], wide=True, duration=8)
    (run / "located.json").write_text(json.dumps(located))
    capture_report.build(str(run), address="10.0.0.99")
    md = (run / "report.md").read_text()
    findings = md.split("## Findings", 1)[1].split("\n## ", 1)[0]
    assert ("- 10.0.0.99 sent nothing and nothing was sent to it: no packet from or to it on "
            "2 host(s) x 3 interface(s) (every uplink and internal port of hv1, hv2) in 8 s"
            in findings), findings
    assert "Next: is the VM running" in findings
    located.update(address="10.0.0.1")
    (run / "located.json").write_text(json.dumps(located))
    capture_report.build(str(run), address="10.0.0.1")
    md = (run / "report.md").read_text()
    assert "sent nothing" not in md
    assert re.search(r"No host knew it before the capture; during it, it showed up at: "
                     r"hv1:eth0 \(\d+ packet\(s\)\)", md), md


def test_a_vm_silent_on_its_own_port_is_a_finding_and_a_mac_is_counted_per_file(tmp_path):
    """Located on its vnet, captured there, not one packet: that is a finding (never
    "healthy"). A MAC followed (ether host) is seen wherever a file has packets."""
    run = make_run(tmp_path)
    located = json.loads((run / "located.json").read_text())
    located.update(address="10.0.0.77", duration=5, wide=False, hosts=[
        {"host": "hv1", "vswitch": "vswitch0", "port": "vnet0", "role": "vnet", "local": True,
         "mac": "52:54:00:00:00:77"}])
    (run / "located.json").write_text(json.dumps(located))
    capture_report.build(str(run), address="10.0.0.77")
    md = (run / "report.md").read_text()
    assert ("- 10.0.0.77 sent nothing and nothing was sent to it: no packet from or to it on "
            "its own port hv1:vnet0 in 5 s (nor anywhere else captured)." in md), md
    assert not md.split("\n\n", 2)[1].startswith("**Healthy")
    capture_report.build(str(run), address="52:54:00:00:00:77")
    md = (run / "report.md").read_text()
    assert "sent nothing" not in md        # the files hold packets: all of them are its


# ---------------------------------------------------------------- both ends watched
def both_ends_run(tmp_path, **kw):
    run = tmp_path / "20261124T101500Z-10.0.0.1"
    run.mkdir()
    craft.both_ends(str(run), **kw)
    return run


def test_findings_say_where_the_reply_or_the_request_stopped_and_which_port_it_missed(tmp_path):
    run = both_ends_run(tmp_path)
    result = capture_report.build(str(run))
    assert result["findings"] == [
        "1 x echo request 10.0.0.1 -> 10.0.0.2 answered at hv2:vnet1, never delivered to "
        "hv1:vnet0 (the reply last seen on hv1:eth0, the uplink of vswitch0)",
        "1 x echo request 10.0.0.1 -> 10.0.0.3 unanswered, last seen on hv2:eth0",
        "1 x echo request 10.0.0.1 -> 10.0.0.4 delivered to hv2:vnet2, not answered (no reply "
        "seen anywhere)",
        "1 x echo request 10.0.0.1 -> 10.0.0.5 last seen at hv2:eth0 (the uplink of vswitch0), "
        "never delivered to hv2:vnet3"]
    md = (run / "report.md").read_text()
    assert "Every request was answered" not in md
    section = md.split("## Requests left unanswered")[1].split("\n## ")[0]
    assert "Answered at the port that sent the request: hv1:vnet0 2, hv2:vnet1 1." in section
    assert "Answered, the port that sent the request not captured (the reply seen on a " \
           "captured port, not necessarily delivered): 10.0.0.7 (1)." in section
    assert "| echo request 10.0.0.1 -> 10.0.0.4 | 1 | delivered to hv2:vnet2, not answered" \
        in section
    assert [u["fate"] for u in result["unanswered_requests"]] == [
        "reply-lost", "unanswered", "not-answered", "not-delivered"]


def test_a_healthy_run_says_every_request_was_answered_at_the_port_that_sent_it(tmp_path):
    run = both_ends_run(tmp_path, faults=False)
    result = capture_report.build(str(run))
    assert result["findings"] == [] and result["unanswered"] == 0
    md = (run / "report.md").read_text()
    assert md.split("\n", 3)[2] == (
        "**Healthy: no finding. Every request was answered at the port that sent it "
        "(hv1:vnet0: 2, hv2:vnet1: 1), no reply before its request (clock skew), no unexplained "
        "bad checksum, no path with "
        "evidence of an asymmetry. The port that sent the requests of 10.0.0.7 (1) was not "
        "captured: for those, answered means the reply was seen on a captured port.**")


def test_a_healthy_run_without_the_senders_port_does_not_claim_it(tmp_path):
    run = both_ends_run(tmp_path, faults=False, skip=("hv1:vnet0", "hv2:vnet1"))
    capture_report.build(str(run))
    verdict = (run / "report.md").read_text().split("\n", 3)[2]
    assert verdict.startswith(
        "**Healthy: no finding. Every request was answered, no reply before its request")
    assert "at the port that sent it" not in verdict
    assert "The port that sent the requests of 10.0.0.1 (2), 10.0.0.2 (1), " \
           "10.0.0.7 (1) was not captured:" in verdict


def test_picture_shows_each_peers_port_captured_and_where_replies_stop(tmp_path):
    run = both_ends_run(tmp_path)
    result = capture_report.build(str(run))
    pic = picture((run / "report.html").read_text())
    packets = {f["hop"]: f["packets"] for f in result["files"]}
    peers = {title(g).split(" ")[0]: g for g in groups(pic, "port vnet peer captured")}
    assert sorted(peers) == ["hv1:vnet1", "hv2:vnet1", "hv2:vnet2", "hv2:vnet3"]
    for hop, g in peers.items():
        assert "%d pkt · untagged" % packets[hop] in texts(g)
        assert g.find("rect").get("fill") == capture_report_utils.PEER[0]
    assert "peer 10.0.0.6" in texts(peers["hv1:vnet1"])      # on the followed address's host
    stops = {title(g).split(" ")[0]: g for g in groups(pic, "port stop")}
    assert sorted(stops) == ["hv1:eth0", "hv2:eth0", "hv2:vnet2"]
    assert "replies stop here" in texts(stops["hv1:eth0"])
    assert "never delivered to the port that sent the request: echo request 10.0.0.1 -> " \
           "10.0.0.2 (1)" in title(stops["hv1:eth0"])
    assert "requests stop here" in texts(stops["hv2:vnet2"])
    # the request whose reply was lost is not marked as stopping where it was delivered
    assert "stop" not in peers["hv2:vnet1"].get("class").split()


def test_a_reply_at_the_edge_of_the_capture_is_counted_not_a_claim_about_a_port(tmp_path):
    """A reply seen while the sender's port was not yet (or no longer) captured is answered as
    far as the captures can tell: the verdict counts it apart, the section names its sender."""
    run = both_ends_run(tmp_path, faults=False)
    sources, ctx = capture_report_utils.load_run(str(run))
    analysis = pcap_analysis.analyse(sources, None, capture_report_utils.local_macs(ctx))
    analysis["answered_at_edge"] = {"10.0.0.1": 1}
    secs = {title: paragraphs for title, paragraphs, _table in
            capture_report_utils.sections({"analysis": analysis, "context": ctx,
                                           "address": "10.0.0.1"})}
    assert secs[None][0].startswith(
        "Healthy: no finding. Every request was answered at the port that sent it (hv1:vnet0: "
        "2, hv2:vnet1: 1; 1 more at the edges of the capture, the reply seen while that port "
        "was not yet or no longer captured), no reply before its request (clock skew)")
    assert "Answered at the edges of the capture, the reply seen on a captured port while the " \
           "port that sent the request was not yet or no longer captured: 10.0.0.1 (1)." \
        in secs["Requests left unanswered"]
    # requests sent as the captures ended, to a port no longer captured: counted neither way
    analysis["unanswered_at_edge"] = {"10.0.0.1": 2}
    secs = {title: paragraphs for title, paragraphs, _table in
            capture_report_utils.sections({"analysis": analysis, "context": ctx,
                                           "address": "10.0.0.1"})}
    assert secs[None][0].startswith("Healthy: no finding.")
    assert "evidence of an asymmetry. 2 request(s) sent as the captures ended, to a port no " \
        "longer captured, are counted neither way. The port that sent" in secs[None][0]
    assert "no evidence either way, not counted as unanswered: 10.0.0.1 (2)." in \
        secs["Requests left unanswered"][-1]
    # not seen where the capture itself dropped packets: counted neither way, and said
    analysis["unseen_capture_dropped"] = {"10.0.0.1": 1}
    secs = {title: paragraphs for title, paragraphs, _table in
            capture_report_utils.sections({"analysis": analysis, "context": ctx,
                                           "address": "10.0.0.1"})}
    assert secs[None][0].startswith("Healthy: no finding.")
    assert "1 request(s) or reply(ies) not seen at a port whose capture dropped packets are " \
        "counted neither way." in secs[None][0]
    assert "whose capture dropped packets (tcpdump's own count; each dropped packet excuses " \
        "one such absence there): no evidence either way, not counted as unanswered: " \
        "10.0.0.1 (1)." in secs["Requests left unanswered"][-1]


def test_utc_rounds_to_the_millisecond_with_or_without_the_date():
    # 103.05 % 1 * 1000 is 49.99...: truncated, it read .049
    assert document.utc(103.05) == "1970-01-01 00:01:43.050Z"
    assert document.utc(103.9996, date=False) == "00:01:44.000Z"
    assert document.utc(None) == "-"


def test_picture_marks_the_port_each_verdict_names_with_its_cause(tmp_path):
    """The verdicts (why.json's order, the report's findings) on their own ports: the thickest
    red border, "why N: <cause>" in the box (cut short), the whole cause in the tooltip."""
    run = make_run(tmp_path)
    sources, ctx = capture_report_utils.load_run(str(run))
    cause = ("bond0: LACP is active here but not negotiated (bond/show lacp_status "
             "configured; lacp/show: "
             "eth2 defaulted detached (not enabled)): no member is enabled")
    ctx["why"] = [{"host": "hv2", "bridge": "vswitch0", "port": "eth0", "cause": cause}]
    rep = {"analysis": pcap_analysis.analyse(sources), "context": ctx, "address": "10.0.0.1"}
    pic = ET.fromstring(capture_report_utils.svg(rep))
    g, = groups(pic, "port verdict")
    assert title(g).startswith("hv2:eth0 ") and ("verdict 1: " + cause) in title(g)
    box = "why 1: " + cause[:capture_report_utils.VERDICT_CHARS - 1] + "…"
    assert box in texts(g)
    assert g.find("rect").get("stroke") == capture_report_utils.STOP
    assert g.find("rect").get("stroke-width") == "6"
    assert "why N: the port a verdict names, and its cause" in texts(groups(pic, "legend")[0])
